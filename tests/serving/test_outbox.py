"""The outbox (serving/outbox.py): a large coalesced run's answers are sent together once the last is
ready; a small run's as each is ready; a connection's answers keep their order and its close."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from jupyter_mlops.serving.coalescing import Coalescer
from jupyter_mlops.serving.outbox import HOLD_FROM, OUTBOX, Outbox
from jupyter_mlops.serving.scorers import OnnxScorer

from ..modelfactory import onnx_logreg, training_data
from .conftest import RunningServer
from .test_coalescing import _batch_counts
from .test_http_layer import _responses, _score


class Recorder:
    """A transport that notes what is done to it, in one log shared by all of them."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log, self.closed = name, log, False

    def write(self, data: bytes) -> None:
        self.log.append(f"{self.name} sent {data.decode()}")

    def close(self) -> None:
        self.closed = True
        self.log.append(f"{self.name} closed")

    def is_closing(self) -> bool:
        return self.closed


def _run_answering(tmp_path: Path, requests: int, max_rows: int = 512) -> list[str]:
    """One turn of ``requests`` one-row requests, coalesced (in runs of ``max_rows``), each answered
    (as protocol.py does) through the outbox when resumed; the log of resumes and sends."""
    coalescer = Coalescer(OnnxScorer("lr", 1, onnx_logreg(tmp_path / "lr.onnx")), max_rows=max_rows)
    x = training_data(20, rows=requests, seed=4)[0]
    log: list[str] = []

    def answer(i: int, future: asyncio.Future) -> Callable[[], None]:  # type: ignore[type-arg]
        def resume() -> None:
            log.append(f"{i} resumed")
            OUTBOX.write(Recorder(str(i), log), str(int(future.result()["label"][0])).encode())  # type: ignore[arg-type]
        return resume

    async def one_turn() -> None:
        futures = [coalescer.predict({"input": x[i : i + 1]}) for i in range(requests)]
        for i, future in enumerate(futures):
            future.resume = answer(i, future)  # type: ignore[union-attr]
        await asyncio.gather(*futures)  # type: ignore[arg-type]

    asyncio.run(one_turn())
    labels = coalescer.scorer.predict({"input": x})["label"]
    assert sorted(e for e in log if "sent" in e) == sorted(f"{i} sent {labels[i]}" for i in range(requests))
    return log


def test_a_large_runs_answers_are_sent_together_once_the_last_is_ready(tmp_path: Path) -> None:
    log = _run_answering(tmp_path, HOLD_FROM)
    n = HOLD_FROM
    assert [e.split()[1] for e in log] == ["resumed"] * n + ["sent"] * n  # nothing sent before all are ready
    assert [e.split()[0] for e in log[n:]] == [str(i) for i in range(n)]  # then in the order written
    assert OUTBOX.held is None  # not holding after the run


def test_a_large_turn_in_several_runs_sends_each_runs_answers_before_the_next_run(tmp_path: Path) -> None:
    log = _run_answering(tmp_path, HOLD_FROM, max_rows=HOLD_FROM // 2)  # two runs, each under HOLD_FROM
    half = HOLD_FROM // 2
    assert [e.split()[1] for e in log] == (["resumed"] * half + ["sent"] * half) * 2


def test_a_small_runs_answers_are_sent_as_each_is_ready(tmp_path: Path) -> None:
    log = _run_answering(tmp_path, HOLD_FROM - 1)
    assert [e.split()[1] for e in log] == ["resumed", "sent"] * (HOLD_FROM - 1)


def test_held_answers_keep_each_connections_order_and_close_and_skip_a_lost_connection() -> None:
    log: list[str] = []
    a, b, gone = Recorder("a", log), Recorder("b", log), Recorder("gone", log)
    outbox = Outbox()
    outbox.hold()
    outbox.write(a, b"1")  # type: ignore[arg-type]
    outbox.write(gone, b"1")  # type: ignore[arg-type]
    outbox.write(b, b"1", close=True)  # type: ignore[arg-type]
    outbox.write(a, b"2", close=True)  # type: ignore[arg-type]
    gone.closed = True  # the client went away while its answer was held
    assert log == []
    outbox.release()
    assert log == ["a sent 1", "b sent 1", "b closed", "a sent 2", "a closed"]
    outbox.write(a, b"3")  # type: ignore[arg-type]  # no longer holding: at once
    assert log[-1] == "a sent 3"


def test_every_run_of_a_turn_is_answered_when_what_runs_before_the_sends_fails(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The collector spools the held answers' records on release. Had that raised, the exception
    would leave release and the coalescer's turn with it: the turn's later runs never ran, and
    their requests waited for ever. Now it is logged, and every answer goes."""
    coalescer = Coalescer(OnnxScorer("lr", 1, onnx_logreg(tmp_path / "lr.onnx")), max_rows=HOLD_FROM)
    x = training_data(20, rows=2 * HOLD_FROM, seed=4)[0]
    log: list[str] = []

    def fail() -> None:
        raise OSError("disk gone")

    async def one_turn() -> None:
        futures = [coalescer.predict({"input": x[i : i + 1]}) for i in range(2 * HOLD_FROM)]
        for i, future in enumerate(futures):
            future.resume = lambda i=i: OUTBOX.write(Recorder(str(i), log), b"answer")  # type: ignore[union-attr]
        await asyncio.wait_for(asyncio.gather(*futures), 5)  # type: ignore[arg-type]

    OUTBOX.before_send = fail
    try:
        asyncio.run(one_turn())
    finally:
        OUTBOX.before_send = None
    assert sorted(log) == sorted(f"{i} sent answer" for i in range(2 * HOLD_FROM))  # two runs, every answer
    assert caplog.text.count("spooling the records of held answers failed") == 2 and "disk gone" in caplog.text


def test_under_load_every_connection_gets_its_pipelined_answers_in_order(
        start_server: Callable[..., RunningServer]) -> None:
    """Through the real server: 48 connections each send a /score and a /ready pipelined behind it
    (answered at once, so while a large run's answers are held), every third asking to close after.
    Bursts are sent until some run has held its answers (one of HOLD_FROM requests or more)."""
    server = start_server(["lr"])
    x = training_data(20, rows=48, seed=5)[0]
    want = [httpx.post(f"{server.url}/score", json={"data": [row.tolist()]}).json() for row in x]
    held = False
    for _burst in range(10):
        socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in x]
        try:
            requests = [_score(row.tolist()) + b"GET /ready HTTP/1.1\r\nHost: x\r\n"
                        + (b"Connection: close\r\n" if i % 3 == 0 else b"") + b"\r\n" for i, row in enumerate(x)]
            for sock, data in zip(socks, requests):
                sock.sendall(data)
            for i, sock in enumerate(socks):
                (status, _, body), (ready_status, headers, ready) = _responses(sock, 2)
                got = json.loads(body)  # its own answer (to float rounding: a merged run sums in another order)
                assert status == 200 and got["label"] == want[i]["label"]
                np.testing.assert_allclose(got["probabilities"], want[i]["probabilities"], rtol=1e-5, atol=1e-7)
                assert (ready_status, json.loads(ready)) == (200, {"status": "ready"})
                if i % 3 == 0:
                    assert headers["connection"] == "close" and sock.recv(1) == b""  # closed once sent
        finally:
            for sock in socks:
                sock.close()
        metrics = httpx.get(f"{server.url}/metrics").text
        runs, _ = _batch_counts(metrics)
        at_most = float(metrics.split(f'mlops_batch_size_bucket{{le="{HOLD_FROM}",model="lr"}} ')[1].split()[0])
        if runs > at_most:  # a run of more than HOLD_FROM one-row requests
            held = True
            break
    assert held, "no coalesced run reached HOLD_FROM requests in 10 bursts"

