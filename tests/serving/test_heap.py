"""A worker freezes what start-up made, so the collector's full passes under load walk only the
objects of requests (serving/runtime.py, _freeze_heap)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving.app import ScoringApp
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.connections import ConnectionLimits
from jupyter_mlops.serving.protocol import protocol_class
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


class _Transport:
    """What the HTTP layer needs of a transport, counting the answers written."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def write(self, data: bytes) -> None:
        self.answers.append(data)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def test_a_worker_does_not_collect_while_its_requests_in_flight_are_alive(registry: ModelRegistry, tmp_path: Path,
                                                                         unfrozen: None) -> None:
    """128 connections' requests read in each turn and coalesced into one run, as under load: the
    young generation fills with their objects, which are freed when answered. The default threshold
    had the collector walk them every few dozen requests."""
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), tmp_path / "app", None, port=0)
    config = ServerConfig.load(str(tmp_path / "app" / "server.json"))
    threshold = gc.get_threshold()
    worker = Runtime(config, freeze_after_load=True)
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    body = orjson.dumps({"data": [[0.5] * 20]})
    request = (b"POST /score HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
               % len(body)) + body

    async def turns() -> list[_Transport]:
        assert worker.load()
        protocol = protocol_class(ScoringApp(worker), ConnectionLimits.from_config(config))
        state = SimpleNamespace(connections=set(), tasks=set())
        transports = [_Transport() for _ in range(128)]
        connections = [protocol(server_state=state) for _ in transports]
        for connection, transport in zip(connections, transports):
            connection.connection_made(transport)  # type: ignore[arg-type]
        gc.callbacks.append(count)
        try:
            for _ in range(20):
                for connection in connections:
                    connection.data_received(request)
                await asyncio.sleep(0)  # the turn's coalesced run, and the answers
        finally:
            gc.callbacks.remove(count)
        return transports

    try:
        transports = asyncio.run(turns())
    finally:
        gc.set_threshold(*threshold)
    assert all(len(t.answers) == 20 and all(a.startswith(b"HTTP/1.1 200 OK") for a in t.answers) for t in transports)
    assert collections == []  # 2,560 requests; before: a young collection every ~70 of them
