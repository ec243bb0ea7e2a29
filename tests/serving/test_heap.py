"""A worker freezes what start-up made, so the collector's full passes under load walk only the
objects of requests (serving/runtime.py, _freeze_heap)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.runtime import Runtime


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on collecting as before


def test_after_loading_a_worker_leaves_the_collector_only_new_objects(registry: ModelRegistry, tmp_path: Path,
                                                                       unfrozen: None) -> None:
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), tmp_path / "app", None, port=0)
    config = ServerConfig.load(str(tmp_path / "app" / "server.json"))
    in_process = Runtime(config)  # the app in-process (tests, notebooks) leaves the host's heap alone
    assert in_process.load() and gc.get_freeze_count() == 0
    tracked = len(gc.get_objects())
    worker = Runtime(config, freeze_after_load=True)
    assert worker.load()
    assert gc.get_freeze_count() > tracked / 2 > 10_000  # the modules, the models and everything else so far
    assert len(gc.get_objects()) < 1_000  # what a full collection would still walk
