"""Coalescing (serving/coalescing.py): requests read in the same turn of the loop share one model run,
and each still gets its own answer, or its own error."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import orjson
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving.app import ScoringApp
from jupyter_mlops.serving.coalescing import Coalescer, coalescable
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.connections import ConnectionLimits
from jupyter_mlops.serving.errors import BadInput
from jupyter_mlops.serving.protocol import protocol_class
from jupyter_mlops.serving.runtime import Runtime
from jupyter_mlops.serving.scorers import OnnxScorer

from ..modelfactory import onnx_logreg, training_data
from .conftest import RunningServer
from .test_heap import _Transport


def _batch_counts(metrics: str) -> tuple[float, float]:
    """(runs, rows) of the model 'lr' in /metrics' batch-size histogram; (0, 0) when it has none."""
    count = re.search(r'mlops_batch_size_count\{model="lr"\} (\S+)', metrics)
    total = re.search(r'mlops_batch_size_sum\{model="lr"\} (\S+)', metrics)
    return (float(count.group(1)), float(total.group(1))) if count and total else (0.0, 0.0)


async def _fire(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=len(bodies)), timeout=30) as client:
        return await asyncio.gather(*(client.post(f"{url}/score", json=b) for b in bodies))


def test_concurrent_requests_share_runs_and_each_gets_its_own_answer(
        start_server: Callable[..., RunningServer]) -> None:
    x = training_data(20, rows=128, seed=3)[0]
    # 64 requests of 1, 2 or 3 rows (127 in all), on 64 connections at once
    sizes = [1 + i % 3 for i in range(64)]
    edges = np.cumsum(sizes)
    bodies = [{"data": x[e - n:e].tolist()} for n, e in zip(sizes, edges)]
    merged, alone = start_server(["lr"]), start_server(["lr"], coalesce=False)
    got, want = asyncio.run(_fire(merged.url, bodies)), asyncio.run(_fire(alone.url, bodies))
    assert [r.status_code for r in got] == [200] * 64
    assert [r.json()["label"] for r in got] == [r.json()["label"] for r in want]
    # Matches to float32 rounding: a run of several rows sums in another order than one of a single row
    np.testing.assert_allclose(np.concatenate([r.json()["probabilities"] for r in got]),
                               np.concatenate([r.json()["probabilities"] for r in want]), rtol=1e-5, atol=1e-7)
    runs, rows = _batch_counts(httpx.get(f"{merged.url}/metrics").text)  # one worker: its counts are live
    assert rows == sum(sizes) and runs < 64  # every row ran, and some requests shared a run
    assert _batch_counts(httpx.get(f"{alone.url}/metrics").text) == (0.0, 0.0)  # coalesce=False: one run each


def test_a_request_the_model_rejects_fails_alone_and_the_others_of_its_run_are_answered(tmp_path: Path) -> None:
    scorer = OnnxScorer("lr", 1, onnx_logreg(tmp_path / "lr.onnx"))
    calls: list[int] = []
    predict = scorer.predict

    def counted(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        calls.append(len(inputs["input"]))
        return predict(inputs)

    scorer.predict = counted  # type: ignore[method-assign]
    x = training_data(20, rows=3, seed=1)[0]
    good1, good2 = {"input": x[:1]}, {"input": x[1:3]}
    bad = {"input": np.zeros((1, 19), np.float32)}  # a column short: onnxruntime refuses it

    async def one_turn() -> list[object]:
        coalescer = Coalescer(scorer)
        return await asyncio.gather(coalescer.predict(good1), coalescer.predict(bad), coalescer.predict(good2),
                                    return_exceptions=True)

    first, error, second = asyncio.run(one_turn())
    assert isinstance(error, BadInput) and "The model rejected the input" in str(error)
    # The three do not stack (one is a column short), so each ran on its own
    assert calls == [1, 1, 2]
    for inputs, answer in ((good1, first), (good2, second)):
        alone = predict(inputs)
        assert isinstance(answer, dict) and answer.keys() == alone.keys()
        np.testing.assert_array_equal(answer["label"], alone["label"])


def test_a_turn_asks_for_its_loop_once_and_a_coalescer_follows_a_new_loop(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.11's get_running_loop makes a system call (getpid): once per turn, not per request."""
    coalescer = Coalescer(OnnxScorer("lr", 1, onnx_logreg(tmp_path / "lr.onnx")))
    asked: list[asyncio.AbstractEventLoop] = []
    get_running_loop = asyncio.get_running_loop

    def counted() -> asyncio.AbstractEventLoop:
        asked.append(get_running_loop())
        return asked[-1]

    monkeypatch.setattr(asyncio, "get_running_loop", counted)
    x = training_data(20, rows=8, seed=3)[0]

    async def two_turns() -> list[dict[str, np.ndarray]]:
        first = [coalescer.predict({"input": x[i : i + 1]}) for i in range(4)]  # one turn
        answers = list(await asyncio.gather(*first))
        second = [coalescer.predict({"input": x[i : i + 1]}) for i in range(4, 8)]  # the next
        return answers + list(await asyncio.gather(*second))

    for _ in range(2):  # a second event loop, as asyncio.run makes: the coalescer runs on it
        asked.clear()
        answers = asyncio.run(two_turns())
        assert len(asked) == 2 and [len(a["label"]) for a in answers] == [1] * 8
        np.testing.assert_array_equal(np.concatenate([a["label"] for a in answers]),
                                      coalescer.scorer.predict({"input": x})["label"])


def test_the_app_coalesces_in_process_over_asgi(registry: ModelRegistry, tmp_path: Path) -> None:
    """Under an ASGI server (here httpx's transport) each request is a task awaiting the turn's future."""
    app_dir = tmp_path / "inprocess"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app_dir, None, port=0)
    runtime = Runtime(ServerConfig.load(str(app_dir / "server.json")))
    assert runtime.load()
    x = training_data(20, rows=16, seed=2)[0]

    async def call() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=ScoringApp(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await asyncio.gather(*(client.post("/score", json={"data": [row.tolist()]}) for row in x))

    replies = asyncio.run(call())
    assert [r.status_code for r in replies] == [200] * 16
    scorer = runtime.only_model()
    assert [r.json()["label"][0] for r in replies] == [int(scorer.predict({"input": row[None]})["label"][0]) for row in x]
    body = runtime.metrics.render()[0]
    runs, rows = _batch_counts(body.decode() if isinstance(body, bytes) else body)
    assert rows == 16 and runs < 16


def test_a_request_on_the_workers_only_connection_runs_at_once_and_one_with_company_waits_for_its_turn(
        registry: ModelRegistry, tmp_path: Path) -> None:
    """The HTTP layer over in-process transports: with one connection open, nothing else can arrive in
    a request's turn, so it is answered inside ``data_received``; with a second open, each request
    waits for the end of the turn, and the two share a run."""
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), tmp_path / "app", None, port=0)
    config = ServerConfig.load(str(tmp_path / "app" / "server.json"))
    runtime = Runtime(config)
    x = training_data(20, rows=3, seed=5)[0]
    requests = []
    for row in x:
        body = orjson.dumps({"data": [row.tolist()]})
        requests.append(b"POST /score HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                        b"content-length: %d\r\n\r\n%s" % (len(body), body))

    def batches() -> tuple[float, float]:
        body = runtime.metrics.render()[0]
        return _batch_counts(body.decode() if isinstance(body, bytes) else body)

    def label(answer: bytes) -> list[int]:
        return orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["label"]

    async def serve() -> None:
        assert runtime.load()
        scorer = runtime.only_model()
        labels = [[int(scorer.predict({"input": row[None]})["label"][0])] for row in x]
        protocol = protocol_class(ScoringApp(runtime), ConnectionLimits.from_config(config))
        state = SimpleNamespace(connections=set(), tasks=set())
        first, second = _Transport(), _Transport()
        one = protocol(server_state=state)
        one.connection_made(first)  # type: ignore[arg-type]
        one.data_received(requests[0])
        assert len(first.answers) == 1 and first.answers[0].startswith(b"HTTP/1.1 200 OK")  # with no turn of the loop
        assert label(first.answers[0]) == labels[0] and batches() == (1.0, 1.0)  # its run counted as any
        two = protocol(server_state=state)
        two.connection_made(second)  # type: ignore[arg-type]
        one.data_received(requests[1])
        two.data_received(requests[2])
        assert len(first.answers) == 1 and second.answers == []  # with company: both wait for the turn's end
        await asyncio.sleep(0)
        assert [label(first.answers[1]), label(second.answers[0])] == [labels[1], labels[2]]

    asyncio.run(serve())
    assert batches() == (2.0, 3.0)  # the two with company shared one run


@pytest.mark.parametrize(("shape", "expected"), [([None, 20], True), ([1, 20], False), (None, False)])
def test_only_models_with_a_free_batch_dimension_are_coalesced(tmp_path: Path, shape: list[int | None] | None,
                                                               expected: bool) -> None:
    scorer = OnnxScorer("lr", 1, onnx_logreg(tmp_path / "lr.onnx"))
    scorer.signature = {**scorer.signature, "inputs": [{"name": "input", "dtype": "float32", "shape": shape}]}
    assert coalescable(scorer) is expected
