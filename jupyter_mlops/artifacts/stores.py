"""Artifact stores: content-addressed blobs plus named objects, on a local folder or Azure Blob.

Blobs live under ``blobs/sha256/<aa>/<sha256>``: identical content is stored once. Everything
streams in chunks, so a file larger than memory is fine.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from ..errors import StoreError, UsageError
from .progress import progress_bar

CHUNK = 4 * 1024 * 1024


def safe_key(name: str) -> str:
    """Refuse names that would escape the store: absolute paths, ``..``, backslashes, NUL."""
    bad = (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in name.split("/"))
    )
    if bad:
        raise UsageError(f"Invalid artifact name {name!r}: use a relative path without '..'.")
    return name


def blob_key(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


class Stored(NamedTuple):
    """What ``put_file`` stored: the content's sha256 and size, and whether this call wrote it
    (False when identical content was already there)."""

    sha256: str
    size: int
    created: bool


def write_failed(path: Path, exc: OSError) -> StoreError:
    """A full disk, a read-only or missing folder: one line naming the file."""
    return StoreError(f"Cannot write {str(path)!r}: {exc.strerror or exc}.")


def hash_file(path: Path, progress: bool | None = None) -> tuple[str, int]:
    """sha256 and size of a file, read in chunks."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as f, progress_bar(size, f"hashing {path.name}", progress) as bar:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest(), size


class ArtifactStore(ABC):
    """Named objects (``put_bytes``/``get_bytes``/``list``) and content-addressed blobs."""

    url: str

    # --- primitives each backend implements -------------------------------------------------
    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def upload_file(self, name: str, path: Path, progress: bool | None = None, length: int | None = None) -> None:
        """Store the file (its first ``length`` bytes when given) under ``name``."""

    @abstractmethod
    def download_file(self, name: str, dest: Path, progress: bool | None = None) -> None: ...

    @abstractmethod
    def put_bytes(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def get_bytes(self, name: str) -> bytes: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]: ...

    @abstractmethod
    def delete(self, name: str) -> None: ...

    # --- content addressing, shared by all backends -----------------------------------------
    def put_file(self, path: str | os.PathLike[str], progress: bool | None = None) -> Stored:
        """Store a file by content. Known content is not re-sent."""
        path = Path(path)
        sha, size = hash_file(path, progress)
        key = blob_key(sha)
        if self.exists(key):
            return Stored(sha, size, False)
        self.upload_file(key, path, progress)
        return Stored(sha, size, True)

    def get_blob(self, sha256: str, dest: str | os.PathLike[str], progress: bool | None = None) -> Path:
        dest = Path(dest)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(blob_key(sha256), dest, progress)
        except OSError as exc:  # the local side: a full disk, a read-only folder
            raise write_failed(dest, exc) from None
        return dest

    def __repr__(self) -> str:
        from .urls import redact_url

        return f"{type(self).__name__}({redact_url(self.url)!r})"


class LocalArtifactStore(ArtifactStore):
    """A folder on this machine; writes go to a temporary file and are renamed into place."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)

    def _path(self, name: str) -> Path:
        return self.root / PurePosixPath(safe_key(name))

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def _write_atomically(self, dest: Path, write) -> None:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        except OSError as exc:
            raise write_failed(dest, exc) from None
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, dest)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise write_failed(dest, exc) from None
            raise

    def upload_file(self, name: str, path: Path, progress: bool | None = None, length: int | None = None) -> None:
        self._copy(path, self._path(name), progress, f"storing {path.name}", length)

    def download_file(self, name: str, dest: Path, progress: bool | None = None) -> None:
        src = self._path(name)
        if not src.exists():
            from ..errors import NotFoundError

            raise NotFoundError(f"Artifact {name!r} not found in {self.url!r}.")
        self._copy(src, dest, progress, f"downloading {dest.name}")

    def _copy(self, src: Path, dest: Path, progress: bool | None, desc: str, length: int | None = None) -> None:
        size = src.stat().st_size if length is None else length

        def write(out) -> None:
            with src.open("rb") as f, progress_bar(size, desc, progress) as bar:
                done = 0
                while done < size:  # sendfile: a copy inside the kernel, without the GIL
                    n = os.sendfile(out.fileno(), f.fileno(), done, min(CHUNK, size - done))
                    if n == 0:
                        break  # the file is shorter than it was
                    done += n
                    bar.update(n)

        self._write_atomically(dest, write)

    def put_bytes(self, name: str, data: bytes) -> None:
        self._write_atomically(self._path(name), lambda out: out.write(data))

    def get_bytes(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            from ..errors import NotFoundError

            raise NotFoundError(f"Artifact {name!r} not found in {self.url!r}.") from None

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if prefix and not prefix.endswith("/") and not base.is_dir():
            base = base.parent
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for f in sorted(files):
                if f.startswith(".tmp-"):
                    continue
                rel = (Path(dirpath) / f).relative_to(self.root).as_posix()
                if rel.startswith(prefix):
                    yield rel

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def local_path(self, name: str) -> Path:
        """Where a stored object lies on disk (local stores only): lets builds hard-link."""
        return self._path(name)


def open_artifact_store(url: str, azure_connection_string: str | None = None) -> ArtifactStore:
    """``azure://container[/prefix]`` for Azure Blob Storage; anything else is a local folder."""
    if url.startswith("azure://"):
        from .azure_blob import AzureBlobArtifactStore

        return AzureBlobArtifactStore.from_url(url, azure_connection_string)
    if url.startswith("file://"):
        url = url[len("file://") :]
    return LocalArtifactStore(url)

