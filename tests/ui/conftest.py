"""A real JupyterLab (one server per session) and Debian's chromium driven by Playwright.

Screenshots are kept under ``test-artifacts/ui/`` (video and trace off)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..browser import ARTIFACTS as ALL_ARTIFACTS
from ..browser import screenshot
from ..services import REPO, free_port

ARTIFACTS = ALL_ARTIFACTS / "ui"


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    workspace: Path

    def open(self, page: Any, notebook: str) -> None:
        """Open ``notebook`` with its kernel already started (as a session), so that Lab never
        asks which kernel to use (it does when its kernel list loads late, under load)."""
        body = json.dumps({"path": notebook, "type": "notebook", "name": notebook, "kernel": {"name": "python3"}})
        request = urllib.request.Request(f"{self.url}/api/sessions?token={self.token}", data=body.encode(),
                                         headers={"content-type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=60).close()
        page.goto(f"{self.url}/lab/tree/{notebook}?token={self.token}&reset")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("lab-home")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO), "JUPYTER_MLOPS_WORKSPACE": str(root / "ws"),
           "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("JUPYTER_MLOPS_TEST_SKIP_MISSING", None)
    (home / "settings" / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    # no "news" and "check for updates" pop-ups over the notebook (nothing can be reached from here)
    (home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    log = (root / "lab.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"jupyter lab did not start:\n{(root / 'lab.log').read_text()[-3000:]}") from None
            time.sleep(0.2)
    yield Lab(url, token, root, root / "ws")
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    if request.node.stash.get(_FAILED, False):  # what the page showed when the test failed
        shot(pg, f"failed-{request.node.name}")
    context.close()


def shot(page: Any, name: str, target: Any = None) -> Path:
    return screenshot(page, ARTIFACTS / f"{name}.png", target)
