"""DeploymentPanel and DeploymentList over a real process deployment."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.widgets import DeploymentList, DeploymentPanel
from jupyter_mlops.widgets.deployment_panel import MASK, example_body
from jupyter_mlops.workspace import Workspace

from .conftest import click, eventually


def test_the_panel_shows_state_events_and_logs(served: str) -> None:
    panel = DeploymentPanel(served, poll=False)
    assert panel.state == "healthy" and panel.deployment.image == "lr-svc:1"
    assert [e.kind for e in panel.deployment.events][:2] == ["creating", "created"]
    assert "created" in panel.html and "serving image lr-svc:1 on process" in panel.html
    assert panel.logs and "Log tail" in panel.html
    assert panel.text().startswith("DeploymentPanel fraud: healthy, image lr-svc:1, process, http://127.0.0.1:")


def test_a_wrong_name_is_a_one_line_error(workspace: Workspace) -> None:
    with pytest.raises(mlops.NotFoundError, match="^Deployment 'nope' not found.$"):
        mlops.ui.deployment("nope")


def test_the_test_console_starts_from_the_signature_and_shows_answer_and_latency(served: str) -> None:
    panel = DeploymentPanel(served, poll=False)
    assert json.loads(panel.body_text) == {"data": [[0.0] * 20]}
    click(panel, "send", body=json.dumps({"data": [[1.0] * 20, [-1.0] * 20]}))
    assert panel.error == "" and panel.answer["status"] == 200 and panel.answer["latency_ms"] > 0
    assert panel.answer["body"]["label"] == mlops.get_deployment(served).score([[1.0] * 20, [-1.0] * 20])["label"]
    assert "HTTP 200" in panel.html and "probabilities" in panel.html
    click(panel, "send", body='{"data": [[1, 2]]}')  # the server's 400 is an answer, shown as such
    assert panel.answer["status"] == 400 and "HTTP 400" in panel.html and panel.error == ""
    click(panel, "send", body="{not json")
    assert panel.error.startswith("The request body is not JSON: ") and panel.answer["status"] == 400


def test_signature_less_models_get_a_row_as_wide_as_the_baseline() -> None:
    assert json.loads(example_body(None, {"features": ["a", "b", "c"]})) == {"data": [[0.0, 0.0, 0.0]]}
    assert json.loads(example_body({"inputs": [{"name": "x", "shape": [None, 4], "dtype": "float32"}]}, None)) == {
        "data": [[0.0] * 4]}


def test_the_key_reaches_the_clipboard_only_never_the_panel_or_its_snapshot(served: str,
                                                                            recording_comms: None) -> None:
    key = mlops.get_keys(served)["primary"]
    panel = DeploymentPanel(served, poll=False)
    assert MASK in panel.html and key not in panel.html
    click(panel, "snippet", "python")
    assert "requests.post(" in panel.html and key not in panel.html
    data, _ = panel._repr_mimebundle_()
    assert key not in data["text/html"] and key not in data["text/plain"] and key not in repr(panel)
    click(panel, "copy", body=panel.body_text)  # the clipboard gets the key; the panel's state does not
    (copied,) = [m["copy"] for m in panel.comm.custom() if "copy" in m]
    assert f'"Authorization": "Bearer {key}"' in copied
    namespace: dict[str, object] = {}
    exec(copied.replace("print(", "reply_seen = ("), namespace)
    assert namespace["reply"].status_code == 200
    click(panel, "snippet", "curl")
    assert key not in panel.html and f"Bearer {MASK}" in panel.html
    assert all(key not in str(v) for v in panel.trait_values().values())  # nothing saved with widget state holds it


def test_regenerating_a_key_takes_effect_and_the_old_one_stops(served: str) -> None:
    old = mlops.get_keys(served)["primary"]
    uri = mlops.get_deployment(served).scoring_uri
    panel = DeploymentPanel(served, poll=False)
    click(panel, "regen", "primary")
    new = mlops.get_keys(served)["primary"]
    assert new != old and "New primary key" in panel.notice
    assert panel.deployment.events[-1].kind == "key-regenerated"
    body = {"data": [[0.0] * 20]}

    def status(key: str) -> int:
        return httpx.post(uri, json=body, headers={"authorization": f"Bearer {key}"}).status_code

    assert eventually(lambda: status(new) == 200 and status(old) == 401, timeout=5)


def test_update_shows_the_readiness_gate_and_keeps_the_uri(deployed: str, lr: mlops.Model) -> None:
    mlops.build_image("lr-svc", lr, docker=False)
    panel = DeploymentPanel(deployed, poll=False)
    uri = panel.deployment.scoring_uri
    assert panel.images == ["lr-svc:2"] and 'name="update_image"' in panel.html
    click(panel, "update", update_image="lr-svc:2")
    assert panel.error == "" and panel.gate["state"] == "done" and panel.deployment.image == "lr-svc:2"
    assert panel.deployment.scoring_uri == uri and panel.state == "healthy"
    assert panel.html.count('class="done"') == 3 and "wait until lr-svc:2 reports ready" in panel.html
    assert [e.kind for e in panel.deployment.events][-2:] == ["updating", "updated"]


def test_a_failed_update_shows_why_and_the_old_version_keeps_serving(deployed: str, lr: mlops.Model, tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    raise RuntimeError('weights missing')\n\ndef run(data):\n    return data\n")
    mlops.build_image("lr-svc", lr, script=script, docker=False)
    panel = DeploymentPanel(deployed, poll=False)
    click(panel, "update", update_image="lr-svc:2")
    assert panel.gate["state"] == "failed" and "weights missing" in panel.gate["reason"] + panel.gate["log"]
    assert 'class="failed"' in panel.html and panel.error
    assert panel.deployment.image == "lr-svc:1" and panel.state == "healthy"
    assert mlops.get_deployment(deployed).score([[0.0] * 20])["label"] in ([0], [1])


def test_undeploy_is_confirmed_then_the_panel_stops(deployed: str) -> None:
    panel = DeploymentPanel(deployed)
    assert panel.poller is not None and panel.poller.alive
    click(panel, "undeploy")
    assert panel.confirm == "undeploy" and mlops.get_deployment(deployed)
    click(panel, "confirm_undeploy")
    assert panel.state == "gone" and panel.notice == "Undeployed fraud." and mlops.list_deployments() == []
    panel.poller.join(5)
    assert not panel.poller.alive


@pytest.mark.parametrize("found", [False, True])
def test_a_refresh_under_way_when_undeploy_finishes_leaves_its_message(deployed: str, found: bool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The poller's refresh asked for the deployment as the undeploy removed it, and got its answer
    after: the panel said "no longer exists" instead of "Undeployed" (seen in a browser test), or,
    answered before the removal, brought the deployment back as healthy."""
    from jupyter_mlops.widgets import deployment_panel

    panel = DeploymentPanel(deployed, poll=False)
    real, undeployed = deployment_panel.api.get_deployment, threading.Event()

    def late(*args: Any, **kwargs: Any) -> Any:  # the refresh's answer comes after the undeploy
        if threading.current_thread().name != "late-refresh":
            return real(*args, **kwargs)
        answer = real(*args, **kwargs) if found else None
        undeployed.wait(30)
        return answer or real(*args, **kwargs)

    monkeypatch.setattr(deployment_panel.api, "get_deployment", late)
    refresh = threading.Thread(target=panel.refresh, name="late-refresh")
    refresh.start()
    click(panel, "undeploy")
    click(panel, "confirm_undeploy")
    undeployed.set()
    refresh.join(30)
    assert (panel.state, panel.notice, panel.deployment) == ("gone", "Undeployed fraud.", None)


def test_the_panel_follows_changes_made_elsewhere(deployed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeploymentPanel, "poll_interval", 0.2)
    panel = DeploymentPanel(deployed)
    mlops.regen_key(deployed, "secondary")
    assert eventually(lambda: "secondary key regenerated" in panel.html)
    mlops.undeploy(deployed)
    assert eventually(lambda: "no longer exists" in panel.html) and panel.state == "gone"
    panel.poller.join(5)
    assert not panel.poller.alive


def test_polling_stops_on_close_and_pauses_while_no_view_is_on_screen(served: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeploymentPanel, "poll_interval", 0.05)
    panel = DeploymentPanel(served)
    assert eventually(lambda: panel.poller.ticks >= 3)
    panel._view_count = 1  # the front end drew a view ...
    panel._view_count = 0  # ... and the notebook tab was closed
    paused_at = panel.poller.ticks
    assert not eventually(lambda: panel.poller.ticks > paused_at + 1, timeout=0.5)
    panel._view_count = 1  # shown again: polling resumes
    assert eventually(lambda: panel.poller.ticks > paused_at + 2)
    panel.close()
    panel.poller.join(5)
    assert not panel.poller.alive


def test_the_list_shows_every_deployment_and_opens_one(deployed: str, lr: mlops.Model) -> None:
    mlops.deploy("fraud-b", "lr-svc:1", target="process", auth=False)
    try:
        lst = DeploymentList(poll=False)
        assert [d.name for d in lst.table.deployments] == ["fraud-b", "fraud"]  # newest first
        assert lst.table.html.count('class="dot healthy"') == 2 and "2 healthy" in lst.table.html
        click(lst.table, "open", "fraud-b")
        assert isinstance(lst.panel, DeploymentPanel) and lst.panel.name == "fraud-b"
        assert lst.children == (lst.table, lst.panel)
        data, _ = lst._repr_mimebundle_()
        assert data["text/plain"] == "DeploymentList: fraud-b (healthy), fraud (healthy)"
        assert "Deployment fraud-b" in data["text/html"] and data["text/html"].count("class=\"mlops-panel mlops-snapshot\"") == 2
        click(lst.table, "open", "fraud-b")  # a second click closes it
        assert lst.panel is None and lst.children == (lst.table,)
        lst.close()
    finally:
        mlops.undeploy("fraud-b")


def test_polling_ends_with_the_kernel(served: str) -> None:
    """A kernel that exits with panels still polling exits at once, cleanly (no poll after atexit)."""
    import os
    import subprocess
    import sys
    import time

    code = ("import time\nfrom jupyter_mlops.widgets import DeploymentPanel\nDeploymentPanel.poll_interval = 0.01\n"
            f"panel = DeploymentPanel({served!r})\ntime.sleep(0.5)\nassert panel.poller.ticks > 5, panel.poller.ticks\n")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert time.monotonic() - start < 15
