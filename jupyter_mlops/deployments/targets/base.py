"""The one small interface every deployment target implements."""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...images.records import Image
from ...registry.models import ModelRegistry
from ...registry.records import Model
from ...workspace import Workspace


@dataclass
class DeployConfig:
    """What a deployment asks of its target (no secrets: keys live in ``secrets_dir``)."""

    host: str = "127.0.0.1"
    port: int | None = None
    auth: bool = True
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None  # what clients (and score()) trust; the certificate itself by default
    workers: int = 1
    replicas: int = 1
    cpu: str | None = None
    memory: str | None = None
    autoscale: dict[str, Any] | None = None  # {"min": 1, "max": 5, "target_cpu": 70}
    drain_s: float = 2.0
    ready_timeout_s: float = 120.0
    dry_run: bool = False
    output_dir: str | None = None
    namespace: str = "default"
    registry: str | None = None  # image registry prefix for clusters and devices
    collect: bool = False
    sample_rate: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


@dataclass
class DeployContext:
    name: str
    image: Image
    config: DeployConfig
    workspace: Workspace
    home: Path  # this deployment's folder on this machine
    # Told when a new version runs ("started") and when it serves ("serving"): the service records
    # both, so an interruption stops what was started, or finishes a switch that already happened.
    on_progress: Callable[[str, dict[str, Any]], None] | None = field(default=None, repr=False)

    def started(self, handle: dict[str, Any]) -> None:
        """A new version runs but is not ready yet."""
        if self.on_progress is not None:
            self.on_progress("started", handle)

    def serving(self, handle: dict[str, Any]) -> None:
        """The new version is ready and takes traffic: the old one may go."""
        if self.on_progress is not None:
            self.on_progress("serving", handle)

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def base_url(self) -> str:
        return f"{self.config.scheme}://{self.config.host}:{self.config.port}"

    def models(self) -> list[Model]:
        reg = ModelRegistry(self.workspace)
        return [reg.get(*ref.split(":")) for ref in self.image.models]

    def script_file(self, dest_dir: Path) -> Path | None:
        """The image's scoring script, fetched from the artifact store by content."""
        spec = self.image.spec
        if not spec.get("script_sha256"):
            return None
        dest_dir.mkdir(parents=True, exist_ok=True)
        return self.workspace.artifacts.get_blob(spec["script_sha256"], dest_dir / spec["script"])

    def collect_settings(self, store_url: str, spool_dir: str) -> dict[str, Any]:
        if not self.config.collect:
            return {}
        if not 0 < self.config.sample_rate <= 1:
            from ...errors import UsageError

            raise UsageError(f"Invalid sample_rate {self.config.sample_rate!r}: a share between 0 (exclusive) and 1.")
        return {"collect": True, "collect_sample_rate": self.config.sample_rate, "collect_store": store_url,
                "collect_spool_dir": spool_dir}

    def store_env(self) -> dict[str, str]:
        """What the server needs to reach an Azure artifact store (passed by environment, never logged)."""
        import os

        cs = self.workspace.azure_connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        return {"AZURE_STORAGE_CONNECTION_STRING": cs} if self.config.collect and cs else {}

    def new_version_dir(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"v{self.image.version}-", dir=self.home))


class Target(ABC):
    """create / update / delete / status / logs; keys and scoring go through the service."""

    name: str

    @abstractmethod
    def create(self, ctx: DeployContext) -> dict[str, Any]:
        """Start serving; return the handle that finds it again. Raise DeploymentError on failure.
        Call ``ctx.started(handle)`` as soon as something runs; on any exception or interruption,
        stop it before raising."""

    def update(self, ctx: DeployContext, old: dict[str, Any]) -> dict[str, Any]:
        """Safe update: start the new version, wait until ready, switch, stop the old. If the new one
        never gets ready, stop it, leave the old serving, and raise DeploymentError saying why."""
        new = self.create(ctx)
        ctx.serving(new)
        self.delete(old)
        return new

    @abstractmethod
    def delete(self, handle: dict[str, Any]) -> None: ...

    @abstractmethod
    def status(self, ctx: DeployContext, handle: dict[str, Any]) -> str:
        """healthy, unhealthy, failed or transitioning."""

    @abstractmethod
    def logs(self, handle: dict[str, Any], lines: int = 50) -> str: ...

    def scoring_uri(self, ctx: DeployContext) -> str | None:
        return f"{ctx.base_url}/score"

    def keys_changed(self, ctx: DeployContext, handle: dict[str, Any]) -> None:
        """Keys were regenerated. Local targets watch the keys file: nothing to do."""

    def cleanup(self, handle: dict[str, Any]) -> None:
        """A version was replaced: remove what it left on this machine."""
        remove_tree(handle.get("dir"))


def stage_tls(config: DeployConfig, folder: Path, mounted_at: str) -> dict[str, str]:
    """Copy the certificate and key into ``folder`` (0700) and return the server settings that
    find them where ``folder`` is mounted (a container, a device)."""
    folder.mkdir(mode=0o700)
    shutil.copyfile(config.tls_cert, folder / "cert.pem")  # type: ignore[arg-type]
    shutil.copyfile(config.tls_key or config.tls_cert, folder / "key.pem")  # type: ignore[arg-type]
    return {"tls_cert": f"{mounted_at}/cert.pem", "tls_key": f"{mounted_at}/key.pem"}


def remove_tree(path: str | Path | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
