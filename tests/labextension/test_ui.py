"""The JupyterLab extension in a real ``jupyter lab`` and Debian's chromium, driven by galata
(Playwright Test, ``labextension/ui-tests``): the sidebar lists the workspace, a model is
registered from the file browser, deployed from the sidebar, scored by the inserted notebook
snippet and undeployed. Screenshots are kept in ``test-artifacts/lab/``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.local_server import free_port
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "labextension"
BUNDLE = Path(mlops.__file__).resolve().parent / "labextension"
ARTIFACTS = REPO / "test-artifacts" / "lab"


def _config(tmp: Path) -> Path:
    """A Jupyter config folder that loads the server extension and the built bundle (and galata's
    helper extension) from this checkout, whatever is installed."""
    import jupyterlab

    extensions = tmp / "labextensions"
    extensions.mkdir()
    (extensions / "jupyter-mlops").symlink_to(BUNDLE)
    config = tmp / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}, "open_browser": False, "allow_root": True},
        "LabServerApp": {"extra_labextensions_path": [str(extensions),
                                                      str(Path(jupyterlab.__file__).parent / "galata")]},
        "LabApp": {"expose_app_in_browser": True},
    }))
    return config


class Lab:
    """``jupyter lab`` on a free 127.0.0.1 port with a token. The UI test asks for a restart (to see
    the sidebar survive one) by creating ``restart_file``; the same port and token come back."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.root.mkdir()
        self.port, self.token = free_port("127.0.0.1"), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.restart_file = tmp / "restart-lab"
        self.restarts = 0
        self.env = {**os.environ, "JUPYTER_CONFIG_DIR": str(_config(tmp)), "JUPYTER_DATA_DIR": str(tmp / "data"),
                    "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
        self.log = (ARTIFACTS / "jupyter-lab.log").open("a")
        self.proc: subprocess.Popen[bytes] | None = None
        self._done = threading.Event()
        self.start()
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={self.port}",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, f"jupyter lab exited; see {self.log.name}"
            try:
                if httpx.get(f"{self.url}/api/status", headers={"Authorization": f"token {self.token}"}).is_success:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"jupyter lab did not start in 60 s; see {self.log.name}"
            time.sleep(0.3)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def _watch(self) -> None:
        while not self._done.wait(0.3):
            if self.restart_file.exists():
                self.stop()
                time.sleep(3)  # long enough for the page to notice
                self.start()
                self.restarts += 1
                self.restart_file.unlink()

    def close(self) -> None:
        self._done.set()
        self._watcher.join()
        self.stop()
        self.log.close()


@pytest.fixture
def lab(workspace: Workspace, tmp_path: Path) -> Iterator[Lab]:
    server = Lab(tmp_path)
    try:
        yield server
    finally:
        server.close()
        for dep in mlops.list_deployments():
            mlops.undeploy(dep.name)


@pytest.fixture(autouse=True)
def _artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sidebar_register_deploy_snippet_undeploy_in_jupyterlab(lab: Lab, tmp_path: Path) -> None:
    assert (BUNDLE / "package.json").is_file(), f"no built extension in {BUNDLE}: run bash tools/setup.sh"
    assert (LAB / "node_modules" / "@jupyterlab" / "galata").is_dir(), "no galata: run bash tools/setup.sh"
    mlops.register_model(onnx_logreg(tmp_path / "f1.onnx"), "fraud", tags={"stage": "dev"})
    mlops.register_model(onnx_logreg(tmp_path / "f2.onnx", seed=1), "fraud", tags={"stage": "prod"})
    mlops.build_image("fraud-svc", "fraud:1", docker=False)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed: bash tools/setup.sh installs it"
    env = {**os.environ, "TARGET_URL": lab.url, "JUPYTER_TOKEN": lab.token,
           "MLOPS_RESTART_FILE": str(lab.restart_file), "MLOPS_ARTIFACTS": str(ARTIFACTS), "CHROMIUM": chromium,
           "MLOPS_MODEL_FILE": str(onnx_logreg(tmp_path / "churn.onnx", seed=2)),
           "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    run = subprocess.run(["npx", "--no-install", "playwright", "test", "--config", "ui-tests/playwright.config.ts"],
                         cwd=LAB, env=env, capture_output=True, text=True, timeout=360)
    (ARTIFACTS / "playwright.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert lab.restarts == 1
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == [
        "01-sidebar.png", "01b-server-restarting.png", "02-register-dialog.png", "03-deploy-dialog.png",
        "04-deployed.png", "05-snippet-scored.png", "06-deployment-panel.png", "07-undeployed.png",
    ]
    assert [m.ref for m in mlops.list_models("churn")] == ["churn:1"]
    assert mlops.get_image("echo:1").spec["script"].endswith("score.py")
    assert mlops.get_model("churn:1").tags == {"stage": "dev", "owner": "ui"}
    assert list(mlops.list_deployments()) == []
