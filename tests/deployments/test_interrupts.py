"""A deploy or update that is interrupted (Ctrl-C, a killed kernel) leaves nothing stuck: no state
that stays ``transitioning``, no server left running, no refused next deploy or update."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.deployments.service import DeploymentService
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg

ROW = [[0.2] * 20]
Images = tuple[mlops.Image, mlops.Image]  # one that gets ready at once, one whose init() takes minutes
SLOW_INIT = """import pathlib, time

def init():
    pathlib.Path({marker!r}).touch()
    time.sleep(120)

def run(data):
    return data
"""


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "init-started"


@pytest.fixture
def images(workspace: Workspace, tmp_path: Path, marker: Path) -> Iterator[Images]:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    script = tmp_path / "slow.py"
    script.write_text(SLOW_INIT.format(marker=str(marker)))
    yield mlops.build_image("fast", model, docker=False), mlops.build_image("slow", model, script=script, docker=False)
    for pid in server_pids(workspace.state_dir / "deployments"):  # whatever a failing test left running
        os.kill(pid, signal.SIGKILL)


def _until(check: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def server_pids(home: Path) -> list[int]:
    """Servers running out of this deployment's folder: their supervisors (each has its workers)."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if "jupyter_mlops.serving" in cmdline and str(home) in cmdline and fields[0] != "Z":
            parents[int(proc.name)] = int(fields[1])
    return sorted(pid for pid, parent in parents.items() if parent not in parents)


def _takes_ctrl_c() -> None:
    """In the kernel's process, before Python starts: SIGINT as a kernel has it (Python's
    KeyboardInterrupt). A child inherits an ignored SIGINT, and Python then leaves it ignored: so it is
    when the test run itself was started in the background by a script (``cmd &``), and the Ctrl-C
    the tests send would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _in_a_kernel(code: str, marker: Path) -> subprocess.Popen[str]:
    """Run API calls in another Python process, as a notebook kernel would; return once the
    new version's init() is running (readiness is being awaited)."""
    proc = subprocess.Popen([sys.executable, "-c", f"import jupyter_mlops as mlops\n{code}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_takes_ctrl_c)
    _until(lambda: marker.exists() or proc.poll() is not None)
    assert proc.poll() is None, proc.communicate()
    return proc


def test_ctrl_c_during_deploy_stops_the_server_and_fails_the_deployment(
        images: Images, workspace: Workspace, marker: Path) -> None:
    home = DeploymentService(workspace).home("slowpoke")
    kernel = _in_a_kernel("mlops.deploy('slowpoke', 'slow:1', target='process', auth=False)", marker)
    assert server_pids(home)
    kernel.send_signal(signal.SIGINT)
    _, err = kernel.communicate(timeout=60)
    assert kernel.returncode != 0 and "KeyboardInterrupt" in err
    assert server_pids(home) == []
    dep = mlops.get_deployment("slowpoke")
    assert (dep.state, dep.events[-1].kind) == ("failed", "create-interrupted")
    assert dep.events[-1].message == "interrupted (KeyboardInterrupt)"
    again = mlops.deploy("slowpoke", "fast:1", target="process", auth=False)  # not refused
    assert again.state == "healthy" and "label" in again.score(ROW)
    mlops.undeploy("slowpoke")


def test_ctrl_c_during_update_keeps_the_old_version_serving(
        images: Images, workspace: Workspace, marker: Path) -> None:
    home = DeploymentService(workspace).home("steady")
    dep = mlops.deploy("steady", "fast:1", target="process", auth=False)
    try:
        before, old = dep.score(ROW), server_pids(home)
        kernel = _in_a_kernel("mlops.update_deployment('steady', 'slow:1')", marker)
        assert len(server_pids(home)) == 2
        kernel.send_signal(signal.SIGINT)
        _, err = kernel.communicate(timeout=60)
        assert kernel.returncode != 0 and "KeyboardInterrupt" in err
        assert server_pids(home) == old
        after = mlops.get_deployment("steady")
        assert (after.state, after.image, after.events[-1].kind) == ("healthy", "fast:1", "update-interrupted")
        assert "still serving fast:1" in after.events[-1].message
        assert after.score(ROW) == before
        marker.unlink()
        with pytest.raises(mlops.DeploymentError, match="Not ready after 1 s"):  # not refused: it runs, and fails
            mlops.update_deployment("steady", "slow:1", ready_timeout=1)
        assert mlops.get_deployment("steady").state == "healthy"
    finally:
        mlops.undeploy("steady")
    assert server_pids(home) == []


def test_a_deploy_whose_process_was_killed_is_settled_by_the_next_read(
        images: Images, workspace: Workspace, marker: Path) -> None:
    home = DeploymentService(workspace).home("orphan")
    kernel = _in_a_kernel("mlops.deploy('orphan', 'slow:1', target='process', auth=False)", marker)
    kernel.kill()  # no cleanup runs in the kernel: SIGKILL, a crash, a restarted machine
    kernel.communicate(timeout=30)
    assert server_pids(home)  # what it started still runs
    dep = mlops.get_deployment("orphan")
    assert (dep.state, dep.events[-1].kind) == ("failed", "create-interrupted")
    assert f"the process that was changing it (pid {kernel.pid} on " in dep.events[-1].message
    assert server_pids(home) == []
    again = mlops.deploy("orphan", "fast:1", target="process", auth=False)
    assert again.state == "healthy"
    mlops.undeploy("orphan")
