"""Panels under test: real registry, real servers; a click is the comm message the view sends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from comm.base_comm import BaseComm

import jupyter_mlops as mlops
from jupyter_mlops.workspace import ENV_VAR, Workspace, use_workspace

from ..modelfactory import onnx_logreg, training_data


def click(panel: Any, action: str, arg: Any = None, timeout: float = 60.0, **form: Any) -> None:
    """What the view sends on a click (through the widget's comm handler), then wait for the
    action to finish, background actions included."""
    content = {"action": action, "arg": arg, "form": form}
    panel._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    panel.wait(timeout)


def eventually(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


class RecordingComm(BaseComm):
    """A comm that keeps what the kernel would send to the front end (a transport double, like
    httpx's MockTransport): custom messages such as the clipboard text."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
        self.sent.append({"type": msg_type, "data": data})

    def custom(self) -> list[Any]:
        return [m["data"]["content"] for m in self.sent if isinstance(m["data"], dict) and m["data"].get("method") == "custom"]


@pytest.fixture
def recording_comms(monkeypatch: pytest.MonkeyPatch) -> None:
    import comm

    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))


@pytest.fixture(scope="session")
def wheelhouses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wheelhouse cache for the session: each context build would otherwise resolve the
    runtime's dependencies with pip again (seconds) in its fresh workspace."""
    return tmp_path_factory.mktemp("wheelhouses")


@pytest.fixture
def workspace(workspace: Workspace, wheelhouses: Path) -> Workspace:
    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    (workspace.state_dir / "wheelhouses").symlink_to(wheelhouses, target_is_directory=True)
    return workspace


@pytest.fixture
def train() -> pd.DataFrame:
    x, _ = training_data(20, rows=1000, seed=0)
    return pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])


@pytest.fixture
def lr(workspace: Workspace, tmp_path: Path, train: pd.DataFrame) -> mlops.Model:
    """An ONNX logistic regression (input float32 [None, 20]) with a baseline."""
    return mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr", tags={"stage": "dev"}, baseline=train)


@pytest.fixture
def deployed(lr: mlops.Model) -> Iterator[str]:
    """``fraud``: the lr model on the process target, keys on, collecting."""
    image = mlops.build_image("lr-svc", lr, docker=False)
    mlops.deploy("fraud", image, target="process", collect=True)
    yield "fraud"
    if any(d.name == "fraud" for d in mlops.list_deployments()):
        mlops.undeploy("fraud")


@pytest.fixture(scope="module")
def _served_root(tmp_path_factory: pytest.TempPathFactory, wheelhouses: Path) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("served") / "ws"
    root.mkdir()
    (root / "wheelhouses").symlink_to(wheelhouses, target_is_directory=True)
    train = pd.DataFrame(training_data(20, rows=1000, seed=0)[0], columns=[f"f{i}" for i in range(20)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(ENV_VAR, str(root))
        use_workspace(None)
        model = mlops.register_model(onnx_logreg(root.parent / "lr.onnx"), "lr", baseline=train)
        mlops.deploy("fraud", mlops.build_image("lr-svc", model, docker=False), target="process", collect=True)
        yield root
        mlops.undeploy("fraud")


@pytest.fixture
def served(_served_root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``fraud`` as in :func:`deployed`, shared by the tests of a module that leave it serving
    (undeploying drains for two seconds)."""
    monkeypatch.setenv(ENV_VAR, str(_served_root))
    return "fraud"
