"""The inference server as a local subprocess: ``mlops.serve(...)`` and the ``process`` target."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import client
from .appdir import resolve_models, serve_app_dir
from .errors import DeploymentError
from .serving.config import KEYS_ENV
from .workspace import Workspace


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start_process(app_dir: Path, log_path: Path, keys: list[str] | None = None,
                  env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m jupyter_mlops.serving`` on an app folder, in its own session, keys in env."""
    # server.json is the whole configuration: no MLOPS_* variable of this environment (a host, a
    # port, settings, keys) may move or open the server.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env = {**inherited, "PYTHONUNBUFFERED": "1", **(env or {})}
    if keys:
        env[KEYS_ENV] = ",".join(keys)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.serving", "--config", str(app_dir / "server.json")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # outlives the notebook kernel; stopped by pid
        )


def wait_ready(base_url: str, alive: Callable[[], bool], logs: Callable[[], str], timeout: float,
               cafile: str | None = None) -> None:
    """Poll ``/ready`` until 200; raise with the log tail if the server dies, its init() failed, or
    time runs out. ``alive`` and ``logs`` say how to watch it (a process, a container)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not alive():
            raise DeploymentError(f"The server exited before it was ready ({base_url}).", detail=logs())
        try:
            status, reply = client.request(f"{base_url}/ready", cafile=cafile, timeout=2)
            if status == 200:
                return
            last = reply.get("message", str(reply)) if isinstance(reply, dict) else str(reply)
            if "init failed" in last:  # it will not get better by waiting
                raise DeploymentError(last, detail=logs())
        except OSError as exc:
            last = str(getattr(exc, "reason", exc))
        time.sleep(0.1)
    raise DeploymentError(f"Not ready after {timeout:g} s ({last}).", detail=logs())


def pid_alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass  # not our child (another kernel started it): fall back to signal 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def stop_process(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM (the server drains in-flight requests), then SIGKILL after ``timeout``."""
    if not pid_alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class LocalServer:
    """A running local server: ``score(data)``, ``stop()``; shows its URL and state in notebooks."""

    def __init__(self, url: str, pid: int, log_path: Path, key: str | None = None, cafile: str | None = None) -> None:
        self.url = url
        self.pid = pid
        self.log_path = log_path
        self._key = key
        self._cafile = cafile

    @property
    def scoring_uri(self) -> str:
        return f"{self.url}/score"

    @property
    def swagger_uri(self) -> str:
        return f"{self.url}/swagger.json"

    @property
    def running(self) -> bool:
        return pid_alive(self.pid)

    def score(self, data: Any, timeout: float = 30.0) -> Any:
        return client.score(self.scoring_uri, data, self._key, self._cafile, timeout)

    def logs(self, lines: int = 50) -> str:
        return log_tail(self.log_path, lines)

    def stop(self) -> None:
        stop_process(self.pid)

    def __repr__(self) -> str:
        return f"LocalServer(url={self.url!r}, running={self.running})"

    def _repr_html_(self) -> str:
        from .display import html_table

        return html_table([{"scoring URI": self.scoring_uri, "swagger": self.swagger_uri, "running": self.running}],
                          title="Local server")

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_models(ws: Workspace, models: list[Any], script: str | os.PathLike[str] | None, *, port: int | None,
                 auth_keys: list[str], foreground: bool, **settings: Any) -> LocalServer:
    """The server for ``mlops.serve`` and ``jupyter-mlops serve``: an app folder under the workspace,
    then a ready subprocess (returned) or, in the ``foreground``, this process until it is stopped."""
    if foreground:
        auth_keys = auth_keys + [k for k in os.environ.get(KEYS_ENV, "").split(",") if k]
        port = 5001 if port is None else port
    elif not port:
        port = free_port(str(settings.get("host", "127.0.0.1")))
    config = serve_app_dir(ws, resolve_models(ws, models), script, port=port, auth=bool(auth_keys), **settings)
    if foreground:
        from .serving.server import serve

        config.auth_keys = auth_keys
        raise SystemExit(serve(config))
    log_path = config.app_path / "server.log"
    proc = start_process(config.app_path, log_path, auth_keys)
    scheme = "https" if config.tls_cert else "http"
    url = f"{scheme}://{config.host}:{port}"
    try:
        wait_ready(url, lambda: pid_alive(proc.pid), lambda: log_tail(log_path), timeout=120, cafile=config.tls_cert)
    except BaseException:
        stop_process(proc.pid)
        raise
    return LocalServer(url, proc.pid, log_path, auth_keys[0] if auth_keys else None, config.tls_cert)
