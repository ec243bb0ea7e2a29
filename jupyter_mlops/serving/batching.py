"""Adaptive batching: concurrent requests for one model become one ``predict`` call.

One run per model is in flight at a time, on a worker thread. Requests that arrive while it
runs queue up and form the next batch (up to ``max_size`` rows), so an idle server answers a
lone request at once, and batches grow only as load does. Under load (the previous batch had
company) the batcher also waits for more, as long as they keep coming (a gap of ``ARRIVAL_GAP_S``
ends the wait) and at most ``max_delay``. A lone request on an idle model runs inline on the
event loop thread (a thread hop costs more than it saves); a merged batch runs on a thread so
the loop keeps reading the requests that form the next batch.
Outputs are split back by each request's row count.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from .scorers import ModelScorer

ARRIVAL_GAP_S = 0.0002
Item = tuple[dict[str, np.ndarray], int, "asyncio.Future[Any]"]


class Batcher:
    def __init__(self, scorer: ModelScorer, max_size: int, max_delay_s: float, metrics: Any = None) -> None:
        self.scorer = scorer
        self.max_size = max_size
        self.max_delay_s = max_delay_s
        self.metrics = metrics
        self._queue: asyncio.Queue[Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._carry: Item | None = None
        self._last_rows = 0

    async def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = rows(inputs)
        if n is None or n >= self.max_size:
            result: dict[str, np.ndarray] = await asyncio.to_thread(self.scorer.predict, inputs)
            return result
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._loop())
        future: asyncio.Future[dict[str, np.ndarray]] = loop.create_future()
        self._queue.put_nowait((inputs, n, future))
        return await future

    async def _loop(self) -> None:
        while True:
            batch = await self._collect()
            self._last_rows = sum(item[1] for item in batch)
            await self._run(batch)

    async def _collect(self) -> list[Item]:
        assert self._queue is not None
        queue, loop = self._queue, asyncio.get_running_loop()
        first, self._carry = (self._carry, None) if self._carry else (await queue.get(), None)
        batch, rows = [first], first[1]
        deadline = loop.time() + (self.max_delay_s if self._last_rows > 1 else 0.0)
        while rows < self.max_size:
            if not queue.empty():
                item = queue.get_nowait()
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), min(remaining, ARRIVAL_GAP_S))
                except asyncio.TimeoutError:
                    break
            if rows + item[1] > self.max_size:
                self._carry = item  # heads the next batch
                break
            batch.append(item)
            rows += item[1]
        return batch

    async def _run(self, batch: list[Item]) -> None:
        inputs, counts = [b[0] for b in batch], [b[1] for b in batch]
        if len(batch) == 1 and self._queue is not None and self._queue.empty():
            results = predict_each(self.scorer, inputs, counts)
        else:
            results = await asyncio.to_thread(predict_each, self.scorer, inputs, counts)
        if self.metrics is not None:
            self.metrics.observe_batch(self.scorer.name, sum(counts))
        for (_, _, future), result in zip(batch, results):
            settle(future, result)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


def rows(inputs: dict[str, np.ndarray]) -> int | None:
    """The request's row count: the first dimension its inputs share; None when they share none."""
    n: int | None = None
    for i, a in enumerate(inputs.values()):
        first = a.shape[0] if a.ndim else None
        if i and first != n:
            return None
        n = first
    return n


def predict_each(scorer: ModelScorer, batch: list[dict[str, np.ndarray]],
                 counts: list[int]) -> list[dict[str, np.ndarray] | Exception]:
    """Several requests' inputs in one ``predict``, its outputs split back by row counts: each
    request's outputs, or the exception that is its answer. When the merged run fails (inputs that
    do not stack, or one request the model rejects), each runs on its own, so a bad request fails
    alone."""
    if len(batch) > 1:
        try:
            merged = {k: np.concatenate([b[k] for b in batch]) for k in batch[0]}
            return _split(scorer.predict(merged), counts)
        except Exception:
            pass
    results: list[dict[str, np.ndarray] | Exception] = []
    for inputs in batch:
        try:
            results.append(scorer.predict(inputs))
        except Exception as exc:
            results.append(exc)
    return results


def settle(future: asyncio.Future[Any], result: dict[str, np.ndarray] | Exception) -> None:
    if future.done():  # cancelled meanwhile
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


def _split(outputs: dict[str, np.ndarray], counts: list[int]) -> list[dict[str, np.ndarray] | Exception]:
    total = sum(counts)
    if any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
        raise ValueError("outputs have no batch dimension")
    parts: list[dict[str, np.ndarray] | Exception] = []
    start = 0
    for n in counts:  # slices (views): np.split costs microseconds per part in its Python-level loop
        end = start + n
        parts.append({k: v[start:end] for k, v in outputs.items()})
        start = end
    return parts
