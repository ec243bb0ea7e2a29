from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, sklearn_joblib
from ..services import end, free_port


class RunningServer:
    """The real server in a subprocess on 127.0.0.1, started from an app folder."""

    def __init__(self, app_dir: Path, env: dict[str, str] | None = None, scheme: str = "http") -> None:
        self.app_dir = app_dir
        self.log_path = app_dir / "server.log"
        self.port = int(__import__("json").loads((app_dir / "server.json").read_text())["port"])
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.serving", "--config", str(app_dir / "server.json")],
            stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )

    def wait_live(self, timeout: float = 30.0, **client: Any) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.log}")
            try:
                if httpx.get(f"{self.url}/", timeout=1, **client).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not live after {timeout} s:\n{self.log}")

    def wait_ready(self, timeout: float = 30.0, **client: Any) -> None:
        self.wait_live(timeout, **client)
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.url}/ready", timeout=2, **client).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready:\n{self.log}")
            time.sleep(0.05)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            end(self.proc, 15)


@pytest.fixture
def registry(workspace: Workspace, tmp_path: Path) -> ModelRegistry:
    reg = ModelRegistry(workspace)
    reg.register(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    reg.register(sklearn_joblib(tmp_path / "clf.joblib"), "clf")
    return reg


@pytest.fixture
def start_server(registry: ModelRegistry, tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    servers: list[RunningServer] = []

    def start(models: list[str], script: Path | None = None, env: dict[str, str] | None = None,
              ready: bool = True, scheme: str = "http", client: dict[str, Any] | None = None,
              **settings: Any) -> RunningServer:
        app = tmp_path / f"app{len(servers)}"
        settings.setdefault("workers", 1)
        write_app_dir(registry.ws, resolve_models(registry.ws, models), app, script, port=free_port(), **settings)
        server = RunningServer(app, env, scheme)
        servers.append(server)
        (server.wait_ready if ready else server.wait_live)(**(client or {}))
        return server

    yield start
    for s in servers:
        s.stop()
