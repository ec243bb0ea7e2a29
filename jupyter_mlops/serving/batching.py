"""Adaptive batching: concurrent requests for one model become one ``predict`` call.

The first request opens a batch; requests arriving within ``max_delay`` join it until
``max_size`` rows. The merged run happens on a worker thread, so the event loop keeps
collecting the next batch meanwhile. Outputs are split back by each request's row count, so
answers are identical to unbatched ones.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from .scorers import ModelScorer


class Batcher:
    def __init__(self, scorer: ModelScorer, max_size: int, max_delay_s: float, metrics: Any = None) -> None:
        self.scorer = scorer
        self.max_size = max_size
        self.max_delay_s = max_delay_s
        self.metrics = metrics
        self._queue: asyncio.Queue[tuple[dict[str, np.ndarray], int, asyncio.Future[Any]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = _rows(inputs)
        if n is None or n >= self.max_size:
            return await asyncio.to_thread(self.scorer.predict, inputs)
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._loop())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((inputs, n, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            rows = batch[0][1]
            deadline = loop.time() + self.max_delay_s
            while rows < self.max_size:
                timeout = deadline - loop.time()
                if timeout <= 0 and self._queue.empty():
                    break
                try:
                    item = self._queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self._queue.get(), timeout)
                except (asyncio.TimeoutError, asyncio.QueueEmpty):
                    break
                if rows + item[1] > self.max_size:
                    loop.create_task(self._run([item]))
                    continue
                batch.append(item)
                rows += item[1]
            loop.create_task(self._run(batch))

    async def _run(self, batch: list[tuple[dict[str, np.ndarray], int, asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                results = [await asyncio.to_thread(self.scorer.predict, batch[0][0])]
            else:
                merged = {k: np.concatenate([b[0][k] for b in batch]) for k in batch[0][0]}
                out = await asyncio.to_thread(self.scorer.predict, merged)
                results = _split(out, [b[1] for b in batch])
            if self.metrics is not None:
                self.metrics.batch_size.labels(self.scorer.name).observe(sum(b[1] for b in batch))
        except Exception as exc:  # noqa: BLE001 - one bad merged run: retry each request alone
            if len(batch) > 1:
                for item in batch:
                    asyncio.get_running_loop().create_task(self._run([item]))
                return
            if not batch[0][2].done():
                batch[0][2].set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _rows(inputs: dict[str, np.ndarray]) -> int | None:
    counts = {a.shape[0] if a.ndim else None for a in inputs.values()}
    return counts.pop() if len(counts) == 1 else None


def _split(outputs: dict[str, np.ndarray], counts: list[int]) -> list[dict[str, np.ndarray]]:
    total = sum(counts)
    if any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
        raise ValueError("outputs have no batch dimension")
    edges = np.cumsum(counts)[:-1]
    parts = {k: np.split(np.asarray(v), edges) for k, v in outputs.items()}
    return [{k: parts[k][i] for k in outputs} for i in range(len(counts))]
