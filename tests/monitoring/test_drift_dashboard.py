"""Drift against a stored baseline, and the dashboard over a real deployment's collected data."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.monitoring.drift import drift, summarize
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, training_data


@pytest.fixture
def train() -> pd.DataFrame:
    x, _ = training_data(20, rows=2000, seed=0)
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])


def test_shifted_features_are_flagged_and_unshifted_are_not(train: pd.DataFrame) -> None:
    baseline = summarize(train)
    fresh = pd.DataFrame(training_data(20, rows=1000, seed=1)[0], columns=train.columns)
    assert not drift(baseline, fresh)["drifted"].any()
    shifted = fresh.copy()
    shifted[["f3", "f7"]] += 1.0  # one standard deviation
    report = drift(baseline, shifted).set_index("feature")
    assert report.index[report.drifted].tolist() == ["f3", "f7"]
    assert report.loc["f3", "psi"] > 0.2 > report.loc["f4", "psi"]
    assert report.loc["f3", "wasserstein"] == pytest.approx(1.0, abs=0.15)


def test_baseline_needs_a_table(train: pd.DataFrame) -> None:
    with pytest.raises(mlops.UsageError, match="Baseline needs at least 10 rows; got 3."):
        summarize(train.head(3))


def test_dashboard_of_a_deployment_with_collected_data(workspace: Workspace, tmp_path: Path, train: pd.DataFrame) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr", baseline=train)
    image = mlops.build_image("lr-svc", model, docker=False)
    dep = mlops.deploy("fraud", image, target="process", auth=False, collect=True)
    try:
        rows = training_data(20, rows=40, seed=2)[0]
        rows[:, 5] += 2.0  # drift on f5
        with httpx.Client() as client:
            for row in rows:
                assert client.post(dep.scoring_uri, json={"data": [row.tolist()]}).status_code == 200
            for _ in range(10):
                assert client.post(dep.scoring_uri, json={"data": [[1, 2]]}).status_code == 400
        deadline = time.monotonic() + 20
        while len(frame := mlops.collected_data("fraud")) < 50 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(frame) == 50 and "f5" in frame.columns  # feature names from the baseline
        board = mlops.dashboard("fraud", since="1h")
    finally:
        mlops.undeploy("fraud")
    traces = {t.name: t for t in board.figure.data}
    assert sum(traces["status 200"].y) == 40 and sum(traces["status 400"].y) == 10
    assert {"p50", "p95", "p99", "error rate", "PSI", "probabilities[-1]"} <= set(traces)
    # each bin's error rate is its 400s over its requests: 20 % overall, whichever bins the 50 fell in
    # (a bin boundary can fall between the 40 answered and the 10 refused: then one bin reads 100 %)
    per_bin: dict[str, dict[str, float]] = {}
    for status in ("200", "400"):
        for x, y in zip(traces[f"status {status}"].x, traces[f"status {status}"].y):
            per_bin.setdefault(str(x), {"200": 0.0, "400": 0.0})[status] += y
    rates = {str(x): y for x, y in zip(traces["error rate"].x, traces["error rate"].y)}
    assert rates == pytest.approx({x: 100 * c["400"] / (c["200"] + c["400"]) for x, c in per_bin.items()})
    weighted = sum(rates[x] * (c["200"] + c["400"]) for x, c in per_bin.items()) / 50
    assert weighted == pytest.approx(20.0)
    assert len(traces["probabilities[-1]"].x) == 40
    psi = dict(zip(traces["PSI"].x, traces["PSI"].y))
    assert board.drifted_features == ["f5"] and psi["f5"] > 0.2
    assert any(getattr(s, "y0", None) == 0.2 for s in board.figure.layout.shapes)  # the threshold line
    html = board.to_html(tmp_path / "out" / "fraud.html")
    assert html.stat().st_size > 100_000 and "Input drift" in html.read_text()


def test_since_is_validated(workspace: Workspace) -> None:
    with pytest.raises(mlops.UsageError, match=r"^Invalid duration 'yesterday': write a number and s, m, h, d or w"):
        mlops.dashboard("fraud", since="yesterday")


def test_drift_across_two_model_versions_is_shown_per_version(workspace: Workspace, tmp_path: Path, train: pd.DataFrame) -> None:
    import json

    for _ in range(2):
        mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr", baseline=train)
    rows = training_data(20, rows=60, seed=3)[0]
    rows[:, 5] += 2.0  # f5 drifts under both versions
    now = time.time()
    for version in (1, 2):
        lines = [json.dumps({"time": now - i, "deployment": "fraud", "model": "lr", "model_version": version,
                             "collector": "request", "route": "score", "status": 200, "latency_ms": 1.0,
                             "request_id": f"{version}-{i}", "correlation_id": None,
                             "request": {"data": [row.tolist()]}, "response": {"label": [0]}})
                 for i, row in enumerate(rows)]
        hour = time.strftime("%Y/%m/%d/%H", time.gmtime(now))
        workspace.artifacts.put_bytes(f"collected/fraud/lr/{version}/{hour}/w-{version}.jsonl", ("\n".join(lines) + "\n").encode())
    board = mlops.dashboard("fraud", since="2h")
    assert board.drifted_features == ["f5"]
    assert board.drift.loc[board.drift.drifted, "model"].tolist() == ["lr:1", "lr:2"]
    psi = next(t for t in board.figure.data if t.name == "PSI")
    assert {"f5 (lr:1)", "f5 (lr:2)"} <= set(psi.x) and len(set(psi.x)) == len(psi.x) == 40


def test_monitoring_a_deployment_that_does_not_exist_is_not_found(workspace: Workspace, tmp_path: Path) -> None:
    for call in (lambda: mlops.dashboard("ghost"), lambda: mlops.collected_data("ghost")):
        with pytest.raises(mlops.NotFoundError) as err:
            call()
        assert str(err.value) == "Deployment 'ghost' does not exist, and nothing was collected under that name."
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    dep = mlops.deploy("quiet", mlops.build_image("lr-svc", model, docker=False), target="process", auth=False,
                       collect=True)
    try:  # it exists and has collected nothing yet: empty, not an error
        assert mlops.collected_data("quiet").empty and mlops.dashboard("quiet").data.empty
        assert httpx.post(dep.scoring_uri, json={"data": [[0.1] * 20]}).status_code == 200
        deadline = time.monotonic() + 20
        while mlops.collected_data("quiet").empty and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        mlops.undeploy("quiet")
    assert len(mlops.collected_data("quiet")) == 1  # removed, but its data stays readable
    assert len(mlops.dashboard("quiet").data) == 1
