"""Request batching: sentences of concurrent requests share one call of the compiled search.

A request puts its sentences on a queue and awaits its own results. One task
takes the first waiting request, gathers whatever else arrives within
`max_wait_s` (or until `max_batch` sentences), and runs the search for each
search setting among them in the single worker thread that owns TensorFlow.
The search is batch invariant (each sentence has its own length limit), so a
sentence's translation does not depend on which requests it was batched with.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Pending:
    sentences: list[str]
    setting: object  # hashable: requests with equal settings share a call
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Gathers requests for `run_batch(sentences, setting) -> results` (one result per sentence)."""

    def __init__(self, run_batch: Callable, executor: Executor, max_wait_s: float = 0.005, max_batch: int = 64):
        self.run_batch, self.executor = run_batch, executor
        self.max_wait_s, self.max_batch = max_wait_s, max_batch
        self.queue: asyncio.Queue[Pending] = asyncio.Queue()
        self.requests = self.calls = 0  # requests submitted and calls of run_batch so far (shown by /health)

    async def submit(self, sentences: list[str], setting) -> list:
        future = asyncio.get_running_loop().create_future()
        self.requests += 1
        await self.queue.put(Pending(list(sentences), setting, future))
        return await future

    async def run_forever(self) -> None:
        while True:
            await self._run_once(await self._gather())

    async def _gather(self) -> list[Pending]:
        loop = asyncio.get_running_loop()
        pending = [await self.queue.get()]
        deadline = loop.time() + self.max_wait_s
        while sum(len(p.sentences) for p in pending) < self.max_batch:
            try:
                pending.append(await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time())))
            except asyncio.TimeoutError:
                break
        return [p for p in pending if not p.future.done()]  # a cancelled request costs nothing

    async def _run_once(self, pending: list[Pending]) -> None:
        settings = list(dict.fromkeys(p.setting for p in pending))
        for setting in settings:
            group = [p for p in pending if p.setting == setting]
            sentences = [s for p in group for s in p.sentences]
            try:
                results = []
                for start in range(0, len(sentences), self.max_batch):
                    chunk = sentences[start : start + self.max_batch]
                    results += await asyncio.get_running_loop().run_in_executor(self.executor, self.run_batch, chunk, setting)
                    self.calls += 1
            except Exception as error:  # noqa: BLE001 - handed to each request, which answers 500
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(error)
                continue
            offset = 0
            for p in group:
                if not p.future.done():
                    p.future.set_result(results[offset : offset + len(p.sentences)])
                offset += len(p.sentences)
