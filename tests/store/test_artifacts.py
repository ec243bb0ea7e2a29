from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from jupyter_mlops.artifacts.azure_blob import AzureBlobArtifactStore
from jupyter_mlops.artifacts.stores import ArtifactStore, LocalArtifactStore, blob_key
from jupyter_mlops.errors import NotFoundError, StoreError, UsageError

from ..services import Azurite


@pytest.fixture(params=["local", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "artifacts")
    az: Azurite = request.getfixturevalue("azurite")
    return AzureBlobArtifactStore(az.connection_string, f"t{os.urandom(6).hex()}", prefix="ws1")


def test_put_file_is_content_addressed(store: ArtifactStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    sha, size, created = store.put_file(a)
    assert (sha, size, created) == (hashlib.sha256(b"same").hexdigest(), 4, True)
    assert store.put_file(b) == (sha, size, False)  # known content: not sent again
    assert list(store.list("blobs/")) == [blob_key(sha)]
    assert store.get_blob(sha, tmp_path / "out" / "c").read_bytes() == b"same"


def test_large_file_streams_in_chunks_and_round_trips(store: ArtifactStore, tmp_path: Path) -> None:
    big = tmp_path / "big"
    chunk = os.urandom(1 << 20)
    with big.open("wb") as f:
        for _ in range(20):  # 20 MiB: several upload blocks, and over the progress threshold
            f.write(chunk)
    sha, size, _ = store.put_file(big, progress=False)
    assert size == 20 << 20
    out = store.get_blob(sha, tmp_path / "copy", progress=False)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == sha


def test_named_objects_put_get_list_delete(store: ArtifactStore) -> None:
    store.put_bytes("collected/d/m/1/x.jsonl", b"{}\n")
    store.put_bytes("collected/d/m/2/y.jsonl", b"[]\n")
    assert sorted(store.list("collected/d/")) == ["collected/d/m/1/x.jsonl", "collected/d/m/2/y.jsonl"]
    assert store.get_bytes("collected/d/m/1/x.jsonl") == b"{}\n"
    store.delete("collected/d/m/1/x.jsonl")
    with pytest.raises(NotFoundError, match="Artifact 'collected/d/m/1/x.jsonl' not found"):
        store.get_bytes("collected/d/m/1/x.jsonl")


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs/path", "a/../../b", "a//b", "a\\b", ""])
def test_names_that_escape_the_store_are_refused(store: ArtifactStore, name: str) -> None:
    with pytest.raises(UsageError, match="Invalid artifact name"):
        store.put_bytes(name, b"x")


def test_local_store_never_leaves_partial_files(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "s")
    store.put_bytes("a/b", b"1")
    assert [p.name for p in (tmp_path / "s" / "a").iterdir()] == ["b"]


def test_azure_store_repr_hides_the_connection_string(azurite: Azurite) -> None:
    store = AzureBlobArtifactStore(azurite.connection_string, "reprtest")
    assert "AccountKey" not in repr(store) and repr(store) == "AzureBlobArtifactStore('azure://reprtest')"


def test_azure_store_down_is_a_store_error(tmp_path: Path) -> None:
    from ..services import AZURITE_ACCOUNT, AZURITE_KEY, free_port

    cs = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
          f"BlobEndpoint=http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT};")
    with pytest.raises(StoreError, match="Azure Blob Storage 'azure://down' unreachable"):
        AzureBlobArtifactStore(cs, "down").put_bytes("x", b"1")
