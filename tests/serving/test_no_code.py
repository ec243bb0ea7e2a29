"""ONNX and sklearn models scored with no script: equal to the frameworks' own answers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from jupyter_mlops.registry.models import ModelRegistry

from ..modelfactory import training_data
from .conftest import RunningServer


@pytest.fixture
def rows() -> np.ndarray:
    return training_data(20, rows=16, seed=7)[0]


def _session(registry: ModelRegistry, tmp_path) -> ort.InferenceSession:  # type: ignore[no-untyped-def]
    path = registry.download("lr", None, tmp_path / "dl", exist_ok=True)
    return ort.InferenceSession(str(path))


def test_onnx_predictions_equal_onnxruntime(
    start_server: Callable[..., RunningServer], registry: ModelRegistry, rows: np.ndarray, tmp_path
) -> None:
    server = start_server(["lr"])
    label, proba = _session(registry, tmp_path).run(None, {"input": rows})
    reply = httpx.post(f"{server.url}/score", json={"data": rows.tolist()})
    assert reply.status_code == 200, reply.text
    assert reply.json()["label"] == label.tolist()
    np.testing.assert_array_equal(np.asarray(reply.json()["probabilities"], dtype=np.float32), proba)


def test_single_row_without_batch_dimension(start_server: Callable[..., RunningServer], rows: np.ndarray) -> None:
    server = start_server(["lr"])
    one = httpx.post(f"{server.url}/score", json={"data": rows[0].tolist()}).json()
    batch = httpx.post(f"{server.url}/score", json={"data": rows[:1].tolist()}).json()
    assert one == batch


def test_sklearn_joblib_scores_without_a_script(
    start_server: Callable[..., RunningServer], registry: ModelRegistry, rows: np.ndarray, tmp_path
) -> None:
    import joblib

    server = start_server(["clf"])
    clf = joblib.load(registry.download("clf", None, tmp_path / "dl"))
    reply = httpx.post(f"{server.url}/score", json={"data": rows.tolist()})
    assert reply.json() == clf.predict(rows).tolist()


def test_swagger_describes_input_and_output(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    doc = httpx.get(f"{server.url}/swagger.json").json()
    assert doc["openapi"].startswith("3.")
    schema = doc["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    row = schema["properties"]["data"]["anyOf"][0]["anyOf"][0]["items"]  # a batch of rows (or one row, or by name)
    assert row["minItems"] == row["maxItems"] == 20 and row["items"]["format"] == "float32"


def _score_counts(text: str) -> dict[str, float]:
    """mlops_requests_total of /score by status, from one scrape."""
    found = re.findall(r'mlops_requests_total\{route="score",status="(\d+)"\} (\S+)', text)
    return {status: float(n) for status, n in found}


def test_metrics_count_requests_by_route_and_status(start_server: Callable[..., RunningServer], rows) -> None:
    server = start_server(["lr"], workers=2)
    for _ in range(3):
        httpx.post(f"{server.url}/score", json={"data": rows[:1].tolist()})
    httpx.post(f"{server.url}/score", json={"data": [[1]]})
    # Two workers: each publishes its counts every 0.25 s, so the sum settles within a moment.
    deadline = time.monotonic() + 10
    while _score_counts(text := httpx.get(f"{server.url}/metrics").text) != {"200": 3, "400": 1}:
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    assert "mlops_request_duration_seconds_bucket" in text and "mlops_requests_in_flight" in text


def test_metrics_counters_never_go_back_from_scrape_to_scrape(start_server: Callable[..., RunningServer], rows) -> None:
    """Scrapes answered by one worker and then another, between requests: the count never drops (a
    counter that drops is, to Prometheus, a restart from zero, and its rate() a spike)."""
    server = start_server(["lr"], workers=2)
    closing = {"connection": "close"}  # each request on a new connection, to either worker
    seen = []
    with httpx.Client(base_url=server.url, headers=closing) as client:
        for _ in range(150):
            client.post("/score", json={"data": rows[:1].tolist()})
            seen.append(_score_counts(client.get("/metrics").text).get("200", 0))
    drops = [(a, b) for a, b in zip(seen, seen[1:]) if b < a]
    assert not drops, f"{len(drops)} of {len(seen)} scrapes counted less than the one before: {drops[:5]}"
