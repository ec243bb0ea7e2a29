"""The supervisor restarts a worker that dies, whatever the worker count, and gives up with one clear
log line when workers keep dying."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry

from ..services import free_port
from .conftest import RunningServer

ROW = [0.5] * 20


def _workers(server: RunningServer) -> list[int]:
    pid = server.proc.pid
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _answers_again(server: RunningServer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{server.url}/score", json={"data": [ROW]}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no answer {timeout} s after the worker died:\n{server.log}")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_worker_is_restarted(start_server: Callable[..., RunningServer], workers: int) -> None:
    server = start_server(["lr"], workers=workers)
    before = _workers(server)
    assert len(before) == workers
    os.kill(before[0], signal.SIGKILL)
    time.sleep(0.3)
    _answers_again(server)
    after = _workers(server)
    assert len(after) == workers and before[0] not in after
    assert server.proc.poll() is None
    assert f"worker pid {before[0]} exited with -9; restarting" in server.log


def test_workers_that_keep_dying_stop_the_supervisor_with_one_clear_line(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    script = tmp_path / "dies.py"
    script.write_text("import os\n\ndef init():\n    os._exit(9)\n\ndef run(data):\n    return data\n")
    app = tmp_path / "app"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app, script, port=free_port(), workers=1,
                  max_worker_restarts=3)
    server = RunningServer(app)
    try:
        assert server.proc.wait(30) == 1
    finally:
        server.stop()
    giving_up = [line for line in server.log.splitlines() if "giving up" in line]
    assert len(giving_up) == 1, server.log
    assert re.search(r"worker pid \d+ exited with 9: 4 crashes in a row; giving up \(max_worker_restarts is 3\)\.$",
                     giving_up[0]), giving_up
    assert server.log.count("; restarting") == 3


def test_killing_the_supervisor_kills_its_workers(start_server: Callable[..., RunningServer]) -> None:
    """No orphan keeps answering on the port (or holding its collection spool) after a SIGKILL."""
    server = start_server(["lr"], workers=2)
    workers = _workers(server)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/", timeout=2)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
