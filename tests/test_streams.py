"""Decoding streams: batches searched two at a time, results in order, the same translations as one at a time."""

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, TOY
from translator.config import SearchConfig
from translator.data.corpus import CorpusFormat, read_corpus
from translator.evaluation.evaluate import translate_all
from translator.decoding.inference import Translator
from translator.decoding.streams import batches, in_streams


def test_batches_after_the_first_run_two_at_once_and_come_back_in_order():
    running, most_at_once = [0], {}
    lock = threading.Lock()
    both_running = threading.Barrier(2, timeout=10)  # broken, and raising, unless two calls wait at once

    def run(batch):
        with lock:
            running[0] += 1
            most_at_once[batch[0]] = running[0]
        if batch != ["first"]:
            both_running.wait()
        time.sleep(0.2 if batch == ["second"] else 0)  # the third finishes first
        with lock:
            running[0] -= 1
        return [item.upper() for item in batch]

    assert list(in_streams(run, [["first"], ["second"], ["third"]])) == [["FIRST"], ["SECOND"], ["THIRD"]]
    assert most_at_once["first"] == 1  # alone: its call prepares the graph


def test_a_failing_batch_raises_where_its_result_is_read():
    def run(batch):
        if batch == [2]:
            raise ValueError("bad batch")
        return batch

    results = in_streams(run, [[1], [2], [3]])
    assert next(results) == [1]
    with pytest.raises(ValueError, match="bad batch"):
        next(results)


def test_batches_read_before_a_failed_read_still_come_out():
    def batches_then_a_bad_line():
        yield [1]
        yield [2]
        raise UnicodeError("line 3 is not UTF-8")

    results = in_streams(lambda batch: batch, batches_then_a_bad_line())
    assert next(results) == [1] and next(results) == [2]  # the second was searched while the third was read
    with pytest.raises(UnicodeError, match="line 3"):
        next(results)


@pytest.mark.parametrize("count, size, expected", [
    (130, 64, [64, 64, 2]),
    (10, 64, [5, 5]),  # a lone batch is split, so that the second stream has work
    (3, 64, [2, 1]),
    (1, 64, [1]),
    (0, 64, []),
    (10, 3, [3, 3, 3, 1]),
])
def test_batches_keep_order_and_size(count, size, expected):
    items = list(range(count))
    cut = list(batches(items, size))
    assert [len(batch) for batch in cut] == expected
    assert [item for batch in cut for item in batch] == items


def test_batches_of_a_stream_are_read_as_they_are_asked_for():
    read = []

    def lines():
        for number in range(10):
            read.append(number)
            yield number

    cut = batches(lines(), 4)
    assert next(cut) == [0, 1, 2, 3] and read == [0, 1, 2, 3]  # no length: full batches, nothing read ahead
    assert list(cut) == [[4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=3)])
def test_two_streams_translate_as_one_does(toy_model, search):
    """The graph is traced by whichever stream asks first while the other waits (Translator._tracing)."""
    sources = list(read_corpus(TOY, CorpusFormat(reverse=True)).pairs.source)
    in_two, _ = translate_all(Translator.load(toy_model), sources, search)
    in_one, _ = translate_all(Translator.load(toy_model), sources, search, streams=1)
    assert in_two == in_one


def test_share_cores_sizes_the_pool_to_one_stream_share():
    """What `translate` and `evaluate` do before TensorFlow starts: its intra-op pool at cores // 2, at least 1;
    a value the user set stands."""
    probe = ("import os, sys; sys.path.insert(0, sys.argv[1]); from translator.decoding.streams import share_cores, cores; "
             "share_cores(); print(os.environ['TF_NUM_INTRAOP_THREADS'], cores())")
    env = {key: value for key, value in os.environ.items() if key != "TF_NUM_INTRAOP_THREADS"}
    shared, cores = subprocess.run([sys.executable, "-c", probe, str(REPO)], capture_output=True, text=True,
                                   env=env, check=True).stdout.split()
    assert int(shared) == max(1, int(cores) // 2)
    kept = subprocess.run([sys.executable, "-c", probe, str(REPO)], capture_output=True, text=True,
                          env={**env, "TF_NUM_INTRAOP_THREADS": "7"}, check=True).stdout.split()[0]
    assert kept == "7"
