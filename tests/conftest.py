from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.workspace import ENV_VAR, Workspace, use_workspace

from .browser import browser  # noqa: F401 - Debian's chromium under Playwright, one per session
from .services import Azurite, ContainerRegistry, Postgres, ensure_base_image


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real ~/.jupyter-mlops or picks up a stray config file."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    use_workspace(None)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An embedded workspace in a temporary folder, selected through the environment variable."""
    root = tmp_path / "ws"
    monkeypatch.setenv(ENV_VAR, str(root))
    return Workspace.embedded(root, source="test")


def interactive_shell() -> Any:
    """The one IPython shell of the test run, its history kept in memory (no sqlite file in a HOME
    that a test removes)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    if not InteractiveShell.initialized():
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        return InteractiveShell.instance(config=config)
    return InteractiveShell.instance()


@pytest.fixture
def ip(workspace: Workspace) -> Iterator[Any]:
    """A real IPython shell with the extension loaded. IPython swaps ``sys.modules['__main__']`` for
    its own namespace, which breaks multiprocessing's spawn in later tests: it is put back after."""
    main = sys.modules["__main__"]
    shell = interactive_shell()
    shell.history_manager.enabled = False
    shell.run_line_magic("load_ext", "jupyter_mlops")
    yield shell
    shell.user_ns.clear()
    for magics in shell.configurables:  # the shell is a singleton: undo %config between tests
        if type(magics).__name__ == "MlopsMagics":
            magics.workspace = None
    sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def base_image() -> str:
    """A running Docker engine and the local Python base image (built once per machine)."""
    return ensure_base_image()


@pytest.fixture
def docker_workspace(base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """An embedded workspace whose images build on the local base image."""
    (tmp_path / "jupyter-mlops.toml").write_text(f'[workspace]\nroot = "ws"\nbase_image = "{base_image}"\n')
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "jupyter-mlops.toml"))
    return Workspace.from_config(tmp_path / "jupyter-mlops.toml", source="test")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    az = Azurite()
    yield az
    az.close()


@pytest.fixture(scope="session")
def container_registry() -> Iterator[ContainerRegistry]:
    """A registry images are pushed to and pulled from (``container_registry.address``: 127.0.0.1:PORT)."""
    registry = ContainerRegistry()
    yield registry
    registry.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    """The registry's behaviour must be identical on SQLite and on PostgreSQL."""
    root = tmp_path / "ws"
    if request.param == "sqlite":
        return Workspace.embedded(root, source="test")
    url = request.getfixturevalue("postgres").new_database()
    return Workspace(metadata_url=url, artifacts_url=str(root / "artifacts"), root=root, source="test")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")
