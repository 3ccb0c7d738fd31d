"""Decoding streams: two batches searched at once, the CPU's cores shared out between them.

A batch's search is a loop of small ops (a step of 64 sentences: a few matmuls of 64 rows and a hundred
element-wise ops), and TensorFlow spreading each op over every core left the cores idle much of the time. One core
a batch and two batches at a time keep both busy; two streams over the shared pool of both cores gained less,
and one core for one batch alone is slower, which `batches` avoids by splitting a lone batch
(docs/performance.md has the figures).

The pool's size is TensorFlow's TF_NUM_INTRAOP_THREADS, read when its runtime starts: `share_cores` sets it
for a process that only decodes (`translate`, `evaluate`); one that also trains keeps every core for each op and
still gains from the second stream. Every batch's search depends on its own sentences only (batch invariance),
so the output is the same whichever way the sentences are cut and however the batches overlap in time.
"""

from __future__ import annotations

import collections
import itertools
import os
from concurrent.futures import ThreadPoolExecutor

STREAMS = 2


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def share_cores(streams: int = STREAMS) -> None:
    """Size TensorFlow's intra-op pool to one stream's share of the cores; call it before TensorFlow starts. A
    TF_NUM_INTRAOP_THREADS the user set stands."""
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, cores() // streams)))


def batches(items, size: int, streams: int = STREAMS):
    """Consecutive lists of at most `size` of `items` (any iterable, read as the lists are asked for: a file
    streamed from stdin); where `items` has a length, at least `streams` lists where it holds that many items, so
    that a lone batch does not leave a stream idle."""
    if hasattr(items, "__len__"):
        size = min(size, -(-len(items) // streams))
    remaining = iter(items)
    while batch := list(itertools.islice(remaining, max(1, size))):
        yield batch


def in_streams(run, ordered, streams: int = STREAMS):
    """run(batch) for each batch of `ordered`, `streams` of them at a time in threads of their own (TensorFlow runs a
    graph without Python's lock); the results in the batches' order, each as soon as it and those before it are
    (a batch is read from `ordered` while the one before it is searched).

    The first batch runs alone: TensorFlow prepares a graph (traces, optimizes) on its first call, and two first
    calls at once each did."""
    with ThreadPoolExecutor(streams, thread_name_prefix="decoding") as pool:
        pending, remaining = collections.deque(), iter(ordered)
        for number in itertools.count():
            try:
                batch = next(remaining)
            except StopIteration:
                break
            except Exception:  # reading the next batch failed (a line of stdin that is not UTF-8): the batches read
                while pending:  # before it still come out, as they did one at a time
                    yield pending.popleft().result()
                raise
            pending.append(pool.submit(run, batch))
            if number == 0 or len(pending) == streams:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
