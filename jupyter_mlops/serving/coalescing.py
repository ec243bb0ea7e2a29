"""Coalescing: requests for one model that arrive in the same turn of the event loop share one run.

Under concurrent load a worker reads several requests per turn of its loop (every connection
that had data when it polled). Each used to pay the model runtime's fixed cost per call
(onnxruntime's ``run`` is ~10 us for a single row, more once the request path has left the
caches cold), and the rows themselves cost little. Here a request's inputs wait only until the
requests read in the same turn have been parsed (no timer, no waiting for more to arrive), then
all of them run as one ``predict`` and the outputs are split back. A request whose connection is
the worker's only open one (the HTTP layer says so: ``Request.alone``) runs at once, as nothing
else can arrive in its turn: waiting for the turn's end cost a single client ~20 us of the
worker's CPU a request here (of ~160 us in all on this VM at one connection), and 5-8 % of its
requests/s, in three runs. Guessing instead (running at once after a few lone runs in a row)
gained nothing measurable at one connection and lost coalescing at eight.

Unlike adaptive batching (batching.py, opt-in, which waits up to ``max_batch_delay_ms`` for
company and runs on a thread), nothing here waits for requests that have not arrived, and the run
stays on the loop's thread. It is on for models whose inputs all have a free first (batch)
dimension, and off with ``coalesce=False``: a merged run's outputs match single-row runs to
float rounding (onnxruntime's kernels for several rows sum in another order), exactly as when a
client sends several rows itself.

The HTTP layer (protocol.py) resumes a request waiting on a :class:`TurnFuture` in place when its
result is set, without a task; under an ASGI server a task awaits it as any future.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import numpy as np

from .batching import predict_each, rows, settle
from .outbox import HOLD_FROM, OUTBOX
from .scorers import ModelScorer

log = logging.getLogger("jupyter_mlops.serving")
MAX_ROWS = 512  # rows per merged run; more in one turn make several runs


class TurnFuture(asyncio.Future):  # type: ignore[type-arg]
    """Settled by the end of the turn it was made in. The HTTP layer sets ``resume`` to carry on
    the request that awaits it, called once the result is set."""

    resume: Callable[[], None] | None = None


class Ready:
    """A value to await that is there already: no future, no loop."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # a generator that returns at once


class Coalescer:
    def __init__(self, scorer: ModelScorer, metrics: Any = None, max_rows: int = MAX_ROWS) -> None:
        self.scorer = scorer
        self.metrics = metrics
        self.max_rows = max_rows
        self._waiting: list[tuple[dict[str, np.ndarray], int, TurnFuture]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of the turn being gathered

    def predict(self, inputs: dict[str, np.ndarray], alone: bool = False) -> Awaitable[dict[str, np.ndarray]]:
        """The outputs, to await: a :class:`TurnFuture`, or at once (a request ``alone`` in its turn,
        one of ``max_rows`` or more, or inputs with no shared first dimension). Not a coroutine: each
        coroutine between the request's handler and the future costs on the way down and again on
        the way back up."""
        n = rows(inputs)
        if n is None:
            return Ready(self.scorer.predict(inputs))
        if alone or n >= self.max_rows:  # a run of its own, counted as the turn's runs are
            outputs = self.scorer.predict(inputs)
            if self.metrics is not None:
                self.metrics.observe_batch(self.scorer.name, n)
            return Ready(outputs)
        if not self._waiting:  # the turn's first: its loop runs them all after this turn's reads
            self._loop = asyncio.get_running_loop()
            self._loop.call_soon(self._run)
        future = TurnFuture(loop=self._loop)  # (Python 3.11 makes a system call per get_running_loop)
        self._waiting.append((inputs, n, future))
        return future

    def _run(self) -> None:
        waiting, self._waiting = self._waiting, []
        hold = len(waiting) >= HOLD_FROM  # many connections waiting: answers go out a run at a time (outbox.py)
        start = 0
        while start < len(waiting):
            end, total = start + 1, waiting[start][1]
            while end < len(waiting) and total + waiting[end][1] <= self.max_rows:
                total += waiting[end][1]
                end += 1
            batch = waiting[start:end]
            results = predict_each(self.scorer, [b[0] for b in batch], [b[1] for b in batch])
            if self.metrics is not None:
                self.metrics.observe_batch(self.scorer.name, total)
            for (_, _, future), result in zip(batch, results):
                settle(future, result)
            if hold:
                OUTBOX.hold()
            try:
                for _, _, future in batch:
                    if future.resume is not None:
                        try:
                            future.resume()
                        except Exception:  # one request's failure to answer is not the others'
                            log.exception("resuming a request after its coalesced run failed")
            finally:
                if hold:
                    OUTBOX.release()
            start = end


def coalescable(scorer: ModelScorer) -> bool:
    """Whether the model's signature gives every input a free first (batch) dimension."""
    specs = scorer.inputs
    return bool(specs) and all(s.get("shape") and s["shape"][0] is None for s in specs)
