"""LiveDashboard over a real collecting deployment: points arrive in place, pickers, offline snapshot."""

from __future__ import annotations

import httpx

import jupyter_mlops as mlops
from jupyter_mlops.widgets import LiveDashboard

from ..modelfactory import training_data
from .conftest import click, eventually


def _score(name: str, rows: list[list[float]]) -> None:
    dep = mlops.get_deployment(name)
    key = mlops.get_keys(name)["primary"]
    with httpx.Client(headers={"authorization": f"Bearer {key}"}) as http:
        for row in rows:
            assert http.post(dep.scoring_uri, json={"data": [row]}).status_code == 200


def _requests(board: LiveDashboard) -> int:
    return sum(sum(t.y) for t in board.figure.data if t.name == "status 200")


def test_points_arrive_in_place_as_requests_come(served: str) -> None:
    board = mlops.dashboard(served, since="1h", live=True, interval=0.3)
    assert isinstance(board, LiveDashboard)
    try:
        start = _requests(board)
        rows = training_data(20, rows=30, seed=5)[0]
        rows[:, 5] += 2.0  # f5 drifts
        _score(served, rows.tolist())
        assert eventually(lambda: _requests(board) == start + 30, timeout=20)
        traces = {t.name: t for t in board.figure.data}
        assert {"p50", "p95", "p99", "error rate", "PSI"} <= set(traces)
        uids = [t.uid for t in board.figure.data]
        assert eventually(lambda: "f5" in board.drifted_features and "f5" in board.controls.html)
        _score(served, training_data(20, rows=5, seed=6)[0].tolist())
        assert eventually(lambda: _requests(board) == start + 35, timeout=20)
        assert [t.uid for t in board.figure.data] == uids  # the same traces, updated in place
        assert eventually(lambda: f"{start + 35} requests in the last 1h" in board.controls.html)
    finally:
        board.close()
    board.controls.poller.join(5)
    assert not board.controls.poller.alive


def test_each_refresh_parses_only_new_objects(served: str) -> None:
    _score(served, training_data(20, rows=3, seed=7)[0].tolist())
    board = LiveDashboard(served, poll=False)
    assert eventually(lambda: (board.refresh(), board.controls.requests)[1] >= 3, timeout=20)
    parsed = dict(board.controls.cache)
    board.refresh()
    assert parsed and parsed.keys() <= board.controls.cache.keys()
    assert all(board.controls.cache[k] is v for k, v in parsed.items())  # read once, kept


def test_window_and_feature_pickers(served: str) -> None:
    rows = training_data(20, rows=10, seed=8)[0]
    _score(served, rows.tolist())
    board = LiveDashboard(served, poll=False)
    assert eventually(lambda: (board.refresh(), board.controls.features)[1], timeout=20)
    assert board.controls.features == [f"f{i}" for i in range(20)] and 'name="features"' in board.controls.html
    click(board.controls, "features", features=["f3", "f5"])
    psi = next(t for t in board.figure.data if t.name == "PSI")
    assert list(psi.x) == ["f3", "f5"] and board.controls.picked == ["f3", "f5"]
    click(board.controls, "all_features")
    assert len(next(t for t in board.figure.data if t.name == "PSI").x) == 20
    click(board.controls, "window", window="5m")
    assert board.controls.since == "5m" and "in the last 5m" in board.controls.html
    click(board.controls, "window", window="yesterday")
    assert board.controls.error.startswith("Invalid duration 'yesterday'")


def test_the_snapshot_carries_the_figures(served: str) -> None:
    board = LiveDashboard(served, poll=False)
    data, _ = board._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert "Live dashboard: fraud" in html and "Plotly.newPlot(" in html and "if (!window.Plotly)" in html
    assert 'name="window"' not in html  # the pickers need a kernel: not in the snapshot
    assert data["text/plain"].startswith("LiveDashboard fraud: ")
