"""Artifact store on Azure Blob Storage (or Azurite), through azure-storage-blob."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import NotFoundError, StoreError, UsageError
from .progress import progress_bar
from .stores import ArtifactStore, safe_key

ENV_CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"


class AzureBlobArtifactStore(ArtifactStore):
    """``azure://container[/prefix]``; the connection string comes from the workspace config or
    ``$AZURE_STORAGE_CONNECTION_STRING`` and is never shown."""

    def __init__(self, connection_string: str, container: str, prefix: str = "") -> None:
        from azure.storage.blob import BlobServiceClient, LinearRetry

        if not 3 <= len(container) <= 63:
            raise UsageError(
                f"Invalid Azure container name {container!r}: 3 to 63 characters."
            )
        self._service = BlobServiceClient.from_connection_string(
            connection_string, connection_timeout=10, read_timeout=60,
            # The SDK's default backs off for about a minute; callers here (registration, the
            # collector's writer with its spool) would rather hear of an outage in seconds.
            retry_policy=LinearRetry(backoff=1, random_jitter_range=1, retry_total=2),
        )
        self._container = self._service.get_container_client(container)
        self._created = False
        self.prefix = prefix.strip("/")
        self.url = f"azure://{container}" + (f"/{self.prefix}" if self.prefix else "")

    @classmethod
    def from_url(cls, url: str, connection_string: str | None = None) -> AzureBlobArtifactStore:
        rest = url[len("azure://") :]
        container, _, prefix = rest.partition("/")
        connection_string = connection_string or os.environ.get(ENV_CONNECTION_STRING)
        if not connection_string:
            raise UsageError(
                f"Artifact store {url!r} needs a connection string: set "
                f"azure_connection_string in the workspace config or ${ENV_CONNECTION_STRING}."
            )
        return cls(connection_string, container, prefix)

    def _blob(self, name: str):
        key = safe_key(name)
        return self._container.get_blob_client(f"{self.prefix}/{key}" if self.prefix else key)

    def _ensure_container(self) -> None:
        if self._created:
            return
        from azure.core.exceptions import ResourceExistsError

        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        except Exception as exc:
            raise StoreError(f"Azure Blob Storage {self.url!r} unreachable: {_short(exc)}") from None
        self._created = True

    def exists(self, name: str) -> bool:
        try:
            return bool(self._blob(name).exists())
        except Exception as exc:
            raise StoreError(f"Azure Blob Storage {self.url!r} unreachable: {_short(exc)}") from None

    def upload_file(self, name: str, path: Path, progress: bool | None = None, length: int | None = None) -> None:
        self._ensure_container()
        size = path.stat().st_size if length is None else length
        with path.open("rb") as f, progress_bar(size, f"uploading {path.name}", progress) as bar:
            done = [0]

            def hook(current: int, _total: int | None) -> None:
                bar.update(current - done[0])
                done[0] = current

            self._call(lambda: self._blob(name).upload_blob(
                f, length=size, overwrite=True, max_concurrency=2, progress_hook=hook
            ))

    def download_file(self, name: str, dest: Path, progress: bool | None = None) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        blob = self._blob(name)
        tmp = dest.with_name(f".tmp-{dest.name}")
        try:
            size = blob.get_blob_properties().size
            with tmp.open("wb") as out, progress_bar(size, f"downloading {dest.name}", progress) as bar:
                done = [0]

                def hook(current: int, _total: int | None) -> None:
                    bar.update(current - done[0])
                    done[0] = current

                blob.download_blob(max_concurrency=2, progress_hook=hook).readinto(out)
            os.replace(tmp, dest)
        except ResourceNotFoundError:
            raise NotFoundError(f"Artifact {name!r} not found in {self.url!r}.") from None
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, name: str, data: bytes) -> None:
        self._ensure_container()
        self._call(lambda: self._blob(name).upload_blob(data, overwrite=True))

    def get_bytes(self, name: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._call(lambda: self._blob(name).download_blob().readall())
        except ResourceNotFoundError:
            raise NotFoundError(f"Artifact {name!r} not found in {self.url!r}.") from None

    def list(self, prefix: str = "") -> Iterator[str]:
        from azure.core.exceptions import ResourceNotFoundError

        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        try:
            for blob in self._container.list_blobs(name_starts_with=full or None):
                yield blob.name[cut:]
        except ResourceNotFoundError:
            return

    def delete(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._blob(name).delete_blob()
        except ResourceNotFoundError:
            pass

    def _call(self, fn):
        from azure.core.exceptions import AzureError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError

        try:
            return fn()
        except ResourceNotFoundError:
            raise
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise StoreError(f"Azure Blob Storage {self.url!r} unreachable: {_short(exc)}") from None
        except AzureError as exc:  # refused: quota, permissions, a full account
            raise StoreError(f"Azure Blob Storage {self.url!r} failed: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
