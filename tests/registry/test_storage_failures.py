"""A registration that the stores refuse leaves nothing behind and says why in one line."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.workspace import Workspace

ROOM = 256 * 1024


@contextlib.contextmanager
def only_room_for(folder: Path, nbytes: int) -> Iterator[None]:
    """A disk that fills after ``nbytes``: a tmpfs of that size on ``folder`` where root may mount
    one; else a file-size limit on this process (writes past it fail with EFBIG, as a full disk
    fails with ENOSPC)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={nbytes}", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if mounted:
        try:
            yield
        finally:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def _blobs(ws: Workspace) -> list[str]:
    return sorted(ws.artifacts.list("blobs/"))


def test_a_registration_the_metadata_store_refuses_leaves_no_artifact(tmp_path: Path) -> None:
    ws = Workspace.embedded(tmp_path / "ws", source="test")
    (tmp_path / "first.bin").write_bytes(b"first")
    ModelRegistry(ws).register(tmp_path / "first.bin", "first")
    before = _blobs(ws)
    read_only = Workspace(metadata_url=f"sqlite:///file:{ws.root / 'mlops.sqlite'}?mode=ro&uri=true",
                          artifacts_url=ws.artifacts_url, root=ws.root, source="test")
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"new a")
    (folder / "b.bin").write_bytes(b"first")  # content already stored for "first": must stay
    with pytest.raises(mlops.StoreError) as err:
        ModelRegistry(read_only).register(folder, "second")
    assert "readonly database" in str(err.value) and "\n" not in str(err.value)
    assert _blobs(ws) == before
    assert [m.name for m in ModelRegistry(ws).list()] == ["first"]


def test_a_full_disk_is_one_store_error_and_leaves_no_artifact(tmp_path: Path) -> None:
    ws = Workspace(metadata_url=f"sqlite:///{tmp_path / 'mlops.sqlite'}", artifacts_url=str(tmp_path / "artifacts"),
                   root=tmp_path, source="test")
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "a-small.bin").write_bytes(os.urandom(16 * 1024))  # fits, and is stored first
    (folder / "b-large.bin").write_bytes(os.urandom(2 * ROOM))  # does not
    reg = ModelRegistry(ws)
    reg.list()  # the metadata store exists before the disk fills
    with only_room_for(tmp_path / "artifacts", ROOM):
        with pytest.raises(mlops.StoreError) as err:
            reg.register(folder, "big")
        left = [p.name for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]  # blobs, temporary files
    assert str(err.value).startswith("Cannot write ") and "\n" not in str(err.value)
    assert ("No space left on device" in str(err.value)) or ("File too large" in str(err.value))
    assert left == [] and reg.list() == []
