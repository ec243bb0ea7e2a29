"""The dashboard's figure: readable axes for a burst of traffic, and a word on an empty drift chart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, training_data


def _collect(workspace: Workspace, rows: list[list[float]], spread_s: float, model: str = "lr") -> None:
    """Records as the collector stores them, ``spread_s`` seconds apart in all."""
    now = time.time()
    lines = [json.dumps({"time": now - spread_s * i / max(len(rows) - 1, 1), "deployment": "fraud", "model": model,
                         "model_version": 1, "collector": "request", "route": "score", "status": 200,
                         "latency_ms": 1.0 + i, "request_id": f"r{i}", "correlation_id": None,
                         "request": {"data": [row]}, "response": {"label": [0]}})
             for i, row in enumerate(rows)]
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(now))
    workspace.artifacts.put_bytes(f"collected/fraud/{model}/1/{hour}/w-1.jsonl", ("\n".join(lines) + "\n").encode())


def test_a_burst_in_one_bucket_keeps_time_axes_a_few_bins_wide(workspace: Workspace, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    _collect(workspace, training_data(20, rows=30, seed=1)[0].tolist(), spread_s=0.002)  # all within 2 ms
    board = mlops.dashboard("fraud", since="1h")
    layout = board.figure.layout
    for axis in (layout.xaxis, layout.xaxis2, layout.xaxis3):  # requests, latency, error rate
        low, high = (pd.Timestamp(t).tz_localize(None) for t in axis.range)
        assert high - low >= pd.Timedelta("20s")  # two 10 s bins, not sub-millisecond ticks
        assert low < board.data["time"].min().tz_localize(None) < high
    (bar,) = [t for t in board.figure.data if t.name == "status 200"]
    assert bar.width >= 5_000  # milliseconds: most of its 10 s bin, not a hairline


def test_without_a_baseline_the_drift_chart_says_why(workspace: Workspace, tmp_path: Path) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")  # no baseline=
    _collect(workspace, training_data(20, rows=30, seed=1)[0].tolist(), spread_s=60)
    board = mlops.dashboard("fraud", since="1h")
    notes = [a.text for a in board.figure.layout.annotations]
    assert any(n.startswith("No drift: lr:1 has no baseline. Register it with baseline=") for n in notes), notes
    assert "PSI" not in {t.name for t in board.figure.data}


def test_an_empty_window_says_so(workspace: Workspace) -> None:
    _collect(workspace, [[0.1] * 20], spread_s=0)  # the deployment's data exists, but none in the window
    time.sleep(1.2)
    notes = [a.text for a in mlops.dashboard("fraud", since="1s").figure.layout.annotations]
    assert "No requests collected in this window yet." in notes
    assert "No drift yet: no requests in this window." in notes


def test_the_dashboard_draws_offline_in_exported_notebooks(workspace: Workspace, tmp_path: Path) -> None:
    x = training_data(20, rows=200, seed=0)[0]
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr",
                         baseline=pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]))
    _collect(workspace, x[:30].tolist(), spread_s=60)
    bundle = mlops.dashboard("fraud", since="1h")._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in bundle
    html = bundle["text/html"]
    assert html.startswith("<script>if (!window.Plotly) {") and "Plotly.newPlot(" in html and "<script src=" not in html
    assert bundle["text/plain"].startswith("Dashboard(deployment='fraud', requests=30")


def test_bins_grow_with_the_span_of_the_data() -> None:
    from jupyter_mlops.monitoring.dashboard import bin_size

    now = pd.Timestamp.now(tz="UTC")
    spans = {"1min": "10s", "1h": "min", "3h": "5min", "20h": "15min", "3D": "h", "30D": "D", "365D": "D"}
    for span, freq in spans.items():
        frame = pd.DataFrame({"time": [now - pd.Timedelta(span), now]})
        assert bin_size(frame)[0] == freq, span  # a span past 20 minutes raised ValueError ("min" is no Timedelta)


@pytest.mark.parametrize("hours, bin_ms", [(1, 60_000), (3, 300_000)])  # per minute, per 5 minutes
def test_a_dashboard_of_hours_of_traffic_draws_in_wider_bins(workspace: Workspace, tmp_path: Path, hours: int,
                                                             bin_ms: int) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    _collect(workspace, training_data(20, rows=60, seed=1)[0].tolist(), spread_s=hours * 3600)
    board = mlops.dashboard("fraud", since=f"{hours + 1}h")
    (bar,) = [t for t in board.figure.data if t.name == "status 200"]
    assert bin_ms / 2 <= bar.width <= bin_ms  # milliseconds: most of its bin
