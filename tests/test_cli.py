"""The CLI as CI runs it: a subprocess, JSON out, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_mlops.workspace import Workspace

from .modelfactory import onnx_logreg


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", *args], capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_models_register_list_show_download_delete(workspace: Workspace, tmp_path: Path) -> None:
    model = onnx_logreg(tmp_path / "lr.onnx")
    reg = json.loads(cli("models", "register", str(model), "--name", "lr", "--tag", "stage=dev", "--json").stdout)
    assert (reg["name"], reg["version"], reg["framework"]) == ("lr", 1, "onnx")
    cli("models", "register", str(model), "--name", "lr", "--tag", "stage=prod")
    listed = json.loads(cli("models", "list", "--tag", "stage=prod", "--json").stdout)
    assert [(m["name"], m["version"]) for m in listed] == [("lr", 2)]
    assert json.loads(cli("models", "show", "lr:1", "--json").stdout)["tags"] == {"stage": "dev"}
    out = json.loads(cli("models", "download", "lr:1", "--dir", str(tmp_path / "dl"), "--json").stdout)
    assert Path(out["path"]).read_bytes() == model.read_bytes()
    cli("models", "delete", "lr:1")
    assert "lr" in cli("models", "list").stdout and "dev" not in cli("models", "list").stdout


def test_errors_are_one_line_on_stderr_with_nonzero_exit(workspace: Workspace) -> None:
    result = cli("models", "show", "ghost:1", check=False)
    assert result.returncode == 1
    assert result.stderr == "error: Model ghost:1 not found.\n"


def test_workspace_command_says_why(workspace: Workspace) -> None:
    data = json.loads(cli("workspace", "--json").stdout)
    assert data["source"].startswith("$JUPYTER_MLOPS_WORKSPACE=")


def test_images_build_list_show_delete(workspace: Workspace, tmp_path: Path) -> None:
    cli("models", "register", str(onnx_logreg(tmp_path / "lr.onnx")), "--name", "lr")
    built = json.loads(cli("images", "build", "svc", "--model", "lr:1", "--no-docker", "--json").stdout)
    assert (built["name"], built["version"], built["state"], built["models"]) == ("svc", 1, "context", ["lr:1"])
    assert [i["name"] for i in json.loads(cli("images", "list", "--model", "lr", "--json").stdout)] == ["svc"]
    assert json.loads(cli("images", "show", "svc:1", "--json").stdout)["state"] == "context"
    refused = cli("models", "delete", "lr:1", check=False)
    assert (refused.returncode, refused.stderr) == (1, "error: Model lr:1 is used by image svc:1; delete the image first.\n")
    cli("images", "delete", "svc:1")
    cli("models", "delete", "lr:1")


def test_deploy_score_keys_and_delete_from_the_cli(workspace: Workspace, tmp_path: Path) -> None:
    cli("models", "register", str(onnx_logreg(tmp_path / "lr.onnx")), "--name", "lr")
    cli("images", "build", "svc", "--model", "lr", "--no-docker")
    dep = json.loads(cli("deploy", "ci-svc", "--image", "svc:1", "--target", "process", "--json").stdout)
    try:
        assert dep["state"] == "healthy" and dep["scoring_uri"].endswith("/score")
        scored = json.loads(cli("deployments", "score", "ci-svc", json.dumps([[0.1] * 20]), "--json").stdout)
        assert set(scored) == {"label", "probabilities"}
        keys = json.loads(cli("deployments", "keys", "ci-svc", "--json").stdout)
        assert set(keys) == {"primary", "secondary"}
        listed = json.loads(cli("deployments", "list", "--model", "lr", "--json").stdout)
        assert [d["name"] for d in listed] == ["ci-svc"] and keys["primary"] not in json.dumps(listed)
    finally:
        cli("deployments", "delete", "ci-svc")


def test_monitor_writes_the_dashboard_html(workspace: Workspace, tmp_path: Path) -> None:
    cli("models", "register", str(onnx_logreg(tmp_path / "lr.onnx")), "--name", "lr")
    cli("images", "build", "svc", "--model", "lr", "--no-docker")
    cli("deploy", "mon", "--image", "svc", "--target", "process", "--collect")
    try:
        for _ in range(3):
            cli("deployments", "score", "mon", json.dumps([[0.2] * 20]))
        import time

        deadline = time.monotonic() + 20
        while True:
            out = json.loads(cli("monitor", "mon", "--html", str(tmp_path / "mon.html"), "--json").stdout)
            if out["rows"] == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert out["rows"] == 3 and (tmp_path / "mon.html").stat().st_size > 100_000
    finally:
        cli("deployments", "delete", "mon")
