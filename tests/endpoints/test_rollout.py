"""Rollouts behind a real endpoint under live traffic: promote a good version, roll back a bad one at the
first (shadow) step with no failed client request, abort, and every decision's figures in the events."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import jupyter_mlops as mlops

from ..modelfactory import training_data
from .conftest import Images

FLAKY_SCRIPT = """
import json
import numpy as np
import onnxruntime as ort
from jupyter_mlops.serving import get_model_path

calls = 0


def init():
    global session
    session = ort.InferenceSession(str(get_model_path("lr")))


def run(raw):
    global calls
    calls += 1
    if calls % 20 == 0:
        raise RuntimeError("every 20th request fails")
    label, proba = session.run(None, {"input": np.asarray(json.loads(raw)["data"], dtype=np.float32)})
    return {"label": label.tolist(), "probabilities": proba.tolist()}
"""

FAST = {"interval": 1.5, "gates": {"min_requests": 40}, "echo": None}


def _skewed_model(path: Path) -> Path:
    """A logistic regression trained on another decision rule: most rows now score low."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    x, _ = training_data(20, seed=0)
    clf = LogisticRegression(max_iter=200).fit(x, (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 1.5).astype(np.int64))
    onx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, 20]))], options={id(clf): {"zipmap": False}},
                  target_opset=17)
    path.write_bytes(onx.SerializeToString())
    return path


class Load:
    """Steady clients sending varied rows through the endpoint; every answer is counted."""

    def __init__(self, url: str, key: str, threads: int = 2) -> None:
        self.url, self.key, self.stop = url, key, threading.Event()
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, seed: int) -> None:
        rows = training_data(20, rows=500, seed=10 + seed)[0]
        with httpx.Client(timeout=30, headers={"authorization": f"Bearer {self.key}"}) as c:
            i = 0
            while not self.stop.is_set():
                try:
                    self.statuses[c.post(self.url, json={"data": rows[i % 500: i % 500 + 1].tolist()}).status_code] += 1
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                i += 1

    def __enter__(self) -> Load:
        [t.start() for t in self.threads]
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        [t.join() for t in self.threads]


@pytest.fixture(scope="module")
def shop(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ws = images.ws
    tmp = tmp_path_factory.mktemp("rollout")
    (tmp / "flaky.py").write_text(FLAKY_SCRIPT)
    lr1 = mlops.get_model("lr:1", workspace=ws)
    flaky = mlops.build_image("flaky", lr1, script=str(tmp / "flaky.py"), docker=False, progress=False, workspace=ws)
    skewed_model = mlops.register_model(_skewed_model(tmp / "skewed.onnx"), "skewed", workspace=ws)
    skewed = mlops.build_image("skewed", skewed_model, docker=False, progress=False, workspace=ws)
    mlops.create_endpoint("shop", target="process", workspace=ws)
    mlops.deploy("blue", images.blue, endpoint="shop", collect=True, workspace=ws)
    ep = mlops.set_traffic("shop", {"blue": 100}, workspace=ws)
    yield {"endpoint": ep, "key": mlops.get_endpoint_keys("shop", workspace=ws)["primary"], "flaky": flaky,
           "skewed": skewed}
    mlops.delete_endpoint("shop", workspace=ws)


def _steps(ws: Any, rollout_id: str) -> list[Any]:
    return [e for e in mlops.get_endpoint("shop", workspace=ws).events
            if e.kind.startswith("rollout") and (e.data or {}).get("rollout") == rollout_id]


@pytest.mark.parametrize("bad, gate", [("flaky", "error_rate"), ("skewed", "prediction_psi")])
def test_a_bad_version_stops_at_the_shadow_step_and_no_client_request_fails(images: Images, shop: dict[str, Any],
                                                                             bad: str, gate: str) -> None:
    ws, ep = images.ws, shop["endpoint"]
    with Load(ep.scoring_uri, shop["key"]) as load:
        result = mlops.rollout("shop", shop[bad], steps=[10, 50, 100], mirror=50, workspace=ws, **FAST)
    assert (result.status, result.new, result.current) == ("rolled-back", "green", "blue")
    assert len(result.steps) == 1 and result.steps[0]["step"] == "mirror 50%"
    failed = {g["gate"]: g for g in result.steps[0]["gates"] if not g["passed"]}
    assert gate in failed, result.steps[0]["gates"]
    if bad == "flaky":
        assert failed["error_rate"]["new"] == pytest.approx(0.05, abs=0.01) and failed["error_rate"]["current"] == 0
    after = mlops.get_endpoint("shop", workspace=ws)
    assert (after.traffic, after.mirror, after.rollout["status"]) == ({"blue": 100, "green": 0}, {}, "rolled-back")
    assert load.errors == [] and set(load.statuses) == {200} and sum(load.statuses.values()) > 100
    events = _steps(ws, after.rollout["id"])
    assert [e.kind for e in events] == ["rollout-started", "rollout-step", "rollout-rolled-back"]
    step = events[1].data
    assert step["passed"] is False and step["new"]["requests"] >= 40 and step["current"]["requests"] >= 40
    assert {g["gate"] for g in step["gates"]} == {"requests", "error_rate", "p99_ms", "prediction_psi", "input_psi"}


def test_a_good_version_is_promoted_to_all_traffic_step_by_step(images: Images, shop: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    ws, ep = images.ws, shop["endpoint"]
    lines: list[str] = []
    with Load(ep.scoring_uri, shop["key"]) as load:
        result = mlops.rollout("shop", images.green, steps=[10, 50, 100], mirror=50, workspace=ws,
                               **{**FAST, "echo": lines.append})
    assert result.status == "promoted", result.steps
    assert [s["step"] for s in result.steps] == ["mirror 50%", "10%", "50%", "100%"]
    assert all(s["passed"] for s in result.steps)
    after = mlops.get_endpoint("shop", workspace=ws)
    assert after.traffic == {"green": 100} and after.deployments["green"]["image"] == images.green.ref
    assert "blue" not in [d.name for d in mlops.list_deployments(workspace=ws)]
    assert load.errors == [] and set(load.statuses) == {200}
    kinds = [e.kind for e in _steps(ws, after.rollout["id"])]
    assert kinds == ["rollout-started"] + ["rollout-step"] * 4 + ["rollout-promoted"]
    assert any(line.startswith("rollout-step: 2/4 10%:") and "error_rate" in line for line in lines), lines
    board = mlops.dashboard("shop", since="10m", workspace=ws)  # blue against green, side by side
    assert set(board.data["deployment"]) == {"blue", "green"}
    assert {t.name for t in board.figure.data} >= {"blue", "green", "blue p99", "green p99"}
    board.to_html(tmp_path / "shop.html")


def test_an_aborted_rollout_goes_back_to_0_percent(images: Images, shop: dict[str, Any]) -> None:
    ws = images.ws
    current = next(d for d, p in mlops.get_endpoint("shop", workspace=ws).traffic.items() if p == 100)
    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(mlops.rollout(
        "shop", images.blue, steps=[50, 100], interval=30, echo=None, workspace=ws)))
    runner.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        ep = mlops.get_endpoint("shop", workspace=ws)
        if ep.mirror:
            break
    with pytest.raises(mlops.ConflictError, match="has a rollout running"):
        mlops.rollout("shop", images.blue, workspace=ws, echo=None)
    followed: list[str] = []  # what `jupyter-mlops endpoints rollout shop --follow` prints from another process
    follower = threading.Thread(target=lambda: mlops.follow_rollout("shop", echo=followed.append, workspace=ws))
    follower.start()
    ep = mlops.abort_rollout("shop", workspace=ws)
    runner.join(10)
    follower.join(10)
    assert outcome and outcome[0].status == "aborted"
    assert any("rollout-aborted: " in line and "aborted on request" in line for line in followed), followed
    assert ep.rollout["status"] == "aborted" and ep.traffic[current] == 100 and not ep.mirror
    with pytest.raises(mlops.UsageError, match="has no rollout to resume"):
        mlops.rollout("shop", resume=True, workspace=ws)


def test_a_rollout_whose_process_was_killed_resumes_from_its_step(images: Images, shop: dict[str, Any]) -> None:
    ws, ep = images.ws, shop["endpoint"]
    current = next(d for d, p in mlops.get_endpoint("shop", workspace=ws).traffic.items() if p == 100)
    code = (f"import jupyter_mlops as m; m.rollout('shop', {images.blue.ref!r}, steps=[100], mirror=0, interval=3, "
            f"gates={{'min_requests': 20}}, echo=None, workspace={str(ws.root)!r})")
    runner = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # killed while its first step waits for evidence
            rollout = mlops.get_endpoint("shop", workspace=ws).rollout or {}
            if rollout.get("status") == "running" and mlops.get_endpoint("shop", workspace=ws).traffic.get(
                    rollout.get("new")) == 100:
                break
            time.sleep(0.1)
    finally:
        runner.kill()
        runner.wait()
    assert mlops.get_endpoint("shop", workspace=ws).rollout["status"] == "running"
    with Load(ep.scoring_uri, shop["key"]) as load:
        result = mlops.rollout("shop", resume=True, echo=None, workspace=ws)
    assert result.status == "promoted" and result.current == current and [s["step"] for s in result.steps] == ["100%"]
    assert load.errors == [] and set(load.statuses) == {200}
    kinds = [e.kind for e in _steps(ws, mlops.get_endpoint("shop", workspace=ws).rollout["id"])]
    assert kinds == ["rollout-started", "rollout-resumed", "rollout-step", "rollout-promoted"]


def test_bad_rollout_settings_are_one_line_errors(images: Images, shop: dict[str, Any]) -> None:
    ws = images.ws
    before = mlops.get_endpoint("shop", workspace=ws).traffic
    for kwargs, message in (
            ({"steps": [50, 10]}, r"^Invalid steps \[50, 10\]: increasing, e.g. \[10, 50, 100\].$"),
            ({"steps": [0, 100]}, r"^Invalid steps \[0, 100\]: whole percentages in \(0, 100\]"),
            ({"mirror": 80}, r"^Invalid mirror 80: a share from 0 \(no shadow step\) to 50.$"),
            ({"interval": "soon"}, r"^Invalid interval 'soon': seconds, or a number and s, m or h \(e.g. 1m\).$"),
            ({"gates": {"max_psi": 1}}, r"^Unknown gate 'max_psi'; gates are: max_error_rate_increase, "),
            ({"gates": {"min_requests": "many"}}, r"^Invalid gate min_requests='many': a number, at least 0.$")):
        with pytest.raises(mlops.UsageError, match=message):
            mlops.rollout("shop", images.green, echo=None, workspace=ws, **kwargs)
    with pytest.raises(mlops.UsageError, match="^rollout needs the image to roll out"):
        mlops.rollout("shop", echo=None, workspace=ws)
    assert mlops.get_endpoint("shop", workspace=ws).traffic == before
