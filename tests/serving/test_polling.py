"""Busy polling (serving/polling.py): after answering a client alone on the worker, the loop polls
without sleeping for ``busy_poll_us``, then sleeps again; not after an answer that closes, nor with
other connections open."""

from __future__ import annotations

import asyncio
import selectors
from pathlib import Path
from time import perf_counter
from types import SimpleNamespace
from typing import Any

import orjson

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving.app import ScoringApp
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.connections import ConnectionLimits
from jupyter_mlops.serving.polling import BACK_OFF_AFTER, PROBE_EVERY, BusyPoll
from jupyter_mlops.serving.protocol import protocol_class
from jupyter_mlops.serving.runtime import Runtime

from .test_heap import _Transport

WINDOW_S = 0.005


class _Closable(_Transport):
    def close(self) -> None:
        self.closed = True


class RecordingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The loop's selector, noting when it was asked to wait and for how long (0: a poll)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[tuple[float, float | None]] = []

    def select(self, timeout: float | None = None) -> list[Any]:
        self.waits.append((perf_counter(), timeout))
        return super().select(timeout)

    def polled_s(self, since: float) -> float:
        """How long after ``since`` the loop went on polling before it first waited."""
        for at, timeout in self.waits:
            if at >= since and timeout != 0:
                return at - since
        return float("inf")


def _run(coro_fn: Any) -> RecordingSelector:
    selector = RecordingSelector()
    loop = asyncio.SelectorEventLoop(selector)
    try:
        loop.run_until_complete(coro_fn(loop))
    finally:
        loop.close()
    return selector


def test_the_loop_polls_for_the_window_after_an_answer_then_sleeps() -> None:
    poll, marks = BusyPoll(WINDOW_S), {}

    async def answer_twice(loop: asyncio.AbstractEventLoop) -> None:
        marks["first"] = perf_counter()
        poll.answered(loop)
        await asyncio.sleep(WINDOW_S / 2)  # a second answer within the window extends it
        marks["second"] = perf_counter()
        poll.answered(loop)
        await asyncio.sleep(0.03)

    selector = _run(answer_twice)
    assert WINDOW_S <= selector.polled_s(marks["second"]) < 0.03  # polled the window from the second answer, then slept
    assert poll.polling is None

    off = BusyPoll(0)

    async def answer_with_polling_off(loop: asyncio.AbstractEventLoop) -> None:
        marks["off"] = perf_counter()
        off.answered(loop)
        await asyncio.sleep(0.01)

    assert _run(answer_with_polling_off).polled_s(marks["off"]) < WINDOW_S / 2


def test_once_a_clients_requests_come_later_than_the_window_it_polls_after_every_eighth_answer_only() -> None:
    """Polling for a client that takes longer than the window to send its next request would only
    spend CPU; now and then it polls anyway, as an unpolled gap reads longer by the wake-up."""
    poll, polled = BusyPoll(WINDOW_S), []

    async def client(gaps: list[float]) -> None:
        loop = asyncio.get_running_loop()
        for gap in gaps:
            await asyncio.sleep(gap)
            poll.arrived()
            poll.answered(loop)
            polled.append(poll.polling is loop)

    quick, late = 0.0, 3 * WINDOW_S
    asyncio.run(client([late, quick, quick] + [late] * (PROBE_EVERY + 1) + [quick]))
    assert polled == ([True, True, True]  # the first request, after nothing: late, but one is no pattern
                      + [True] * (BACK_OFF_AFTER - 1)  # late ones: polled for until the third
                      + [False] * (PROBE_EVERY - BACK_OFF_AFTER) + [True, False]  # then after the 8th only
                      + [True])  # quick again: polling again


def test_the_http_layer_polls_after_answering_a_lone_client_only(registry: ModelRegistry, tmp_path: Path) -> None:
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), tmp_path / "app", None, port=0)
    config = ServerConfig.load(str(tmp_path / "app" / "server.json"))
    config.busy_poll_us = WINDOW_S * 1e6
    runtime = Runtime(config)
    assert runtime.load()
    body = orjson.dumps({"data": [[0.5] * 20]})

    def request(close: bool = False) -> bytes:
        return (b"POST /score HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                % (len(body), b"connection: close\r\n" if close else b"", body))

    def serve(connections: int, close: bool = False) -> float:
        """How long the loop polled after the first connection's request was answered."""
        marks: dict[str, float] = {}

        async def one_request(loop: asyncio.AbstractEventLoop) -> None:
            protocol = protocol_class(ScoringApp(runtime), ConnectionLimits.from_config(config))
            state = SimpleNamespace(connections=set(), tasks=set())
            transports = [_Closable() for _ in range(connections)]
            conns = [protocol(server_state=state) for _ in transports]
            for conn, transport in zip(conns, transports):
                conn.connection_made(transport)  # type: ignore[arg-type]
            conns[0].data_received(request(close))
            while not transports[0].answers:  # with company, the answer comes at the end of the turn
                await asyncio.sleep(0)
            marks["answered"] = perf_counter()
            assert transports[0].answers[0].startswith(b"HTTP/1.1 200 OK")
            await asyncio.sleep(0.03)

        return _run(one_request).polled_s(marks["answered"])

    assert serve(1) >= WINDOW_S * 0.9  # alone: the client's next request would be read at once
    assert serve(1, close=True) < WINDOW_S / 2  # the answer closed the connection: no next request
    assert serve(2) < WINDOW_S / 2  # another connection open: the loop sleeps as before
