"""Eight processes registering one name at once get versions 1..8, each exactly once."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.workspace import Workspace


def _register(ws: Workspace, path: str, barrier, out) -> None:  # type: ignore[no-untyped-def]
    reg = ModelRegistry(ws)
    reg.ws.metadata._ensure_schema()
    barrier.wait()
    out.put(reg.register(path, "race").version)


@pytest.mark.parametrize("n", [8])
def test_concurrent_registrations_get_distinct_consecutive_versions(
    any_workspace: Workspace, tmp_path: Path, n: int
) -> None:
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    ModelRegistry(any_workspace).ws.metadata._ensure_schema()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_register, args=(any_workspace, str(model), barrier, out)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * n
    versions = sorted(out.get(timeout=5) for _ in range(n))
    assert versions == list(range(1, n + 1))
    assert sorted(m.version for m in ModelRegistry(any_workspace).list()) == versions
