"""The request batcher on its own: a scripted run_batch that records its calls, no model."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from translator.serve.app import BATCH_SIZES, padded_size
from translator.serve.batching import Batcher


def run(coroutine):
    return asyncio.run(coroutine)


class Recorder:
    """run_batch that answers each sentence with (sentence, setting) and records the batches it got."""

    def __init__(self, fail_on=None):
        self.batches, self.fail_on, self.lock = [], fail_on, threading.Lock()

    def __call__(self, sentences, setting):
        with self.lock:
            self.batches.append((list(sentences), setting))
        if self.fail_on in sentences:
            raise RuntimeError("scripted failure")
        return [(s, setting) for s in sentences]


async def with_batcher(recorder, body, max_wait_s=0.05, max_batch=8):
    with ThreadPoolExecutor(1) as executor:
        batcher = Batcher(recorder, executor, max_wait_s=max_wait_s, max_batch=max_batch)
        task = asyncio.create_task(batcher.run_forever())
        try:
            return await body(batcher)
        finally:
            task.cancel()


def test_concurrent_requests_share_one_call_and_get_their_own_results():
    recorder = Recorder()

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit([f"s{i}a", f"s{i}b"], "beam") for i in range(3)))

    answers = run(with_batcher(recorder, body))
    assert answers == [[(f"s{i}a", "beam"), (f"s{i}b", "beam")] for i in range(3)]
    assert len(recorder.batches) == 1 and len(recorder.batches[0][0]) == 6


def test_settings_never_share_a_call_and_batches_are_capped():
    recorder = Recorder()

    async def body(batcher):
        requests = [batcher.submit([f"{setting}{i}"], setting) for i in range(6) for setting in ("greedy", "beam")]
        return await asyncio.gather(*requests)

    answers = run(with_batcher(recorder, body, max_batch=4))
    assert all(answer[0][1] == answer[0][0].rstrip("012345") for answer in answers)
    assert all(s.startswith(setting) for sentences, setting in recorder.batches for s in sentences)
    assert all(len(sentences) <= 4 for sentences, _ in recorder.batches)
    assert sum(len(b[0]) for b in recorder.batches) == 12


def test_a_failure_reaches_only_the_requests_of_that_call():
    recorder = Recorder(fail_on="bad")

    async def body(batcher):
        return await asyncio.gather(batcher.submit(["bad"], "beam"), batcher.submit(["ok"], "greedy"),
                                    return_exceptions=True)

    failed, ok = run(with_batcher(recorder, body))
    assert isinstance(failed, RuntimeError) and ok == [("ok", "greedy")]


def test_a_cancelled_request_is_not_translated():
    recorder = Recorder()

    async def body(batcher):
        gone = asyncio.create_task(batcher.submit(["gone"], "beam"))
        await asyncio.sleep(0)  # queued
        gone.cancel()
        return await batcher.submit(["kept"], "beam")

    assert run(with_batcher(recorder, body)) == [("kept", "beam")]
    assert all("gone" not in sentences for sentences, _ in recorder.batches)


@pytest.mark.parametrize("size", range(1, 129))
def test_padded_sizes_hold_the_batch_with_at_most_a_third_padding(size):
    padded = padded_size(size)
    assert padded in BATCH_SIZES and size <= padded and (padded - size) <= padded / 3
