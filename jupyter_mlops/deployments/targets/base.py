"""The one small interface every deployment target implements."""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from ...images.records import Image
from ...registry.models import ModelRegistry
from ...registry.records import Model
from ...workspace import Workspace
from ..keys import endpoint_secrets_dir
from ..settings import PluginSettings, Settings

LISTENER = "listener.sock"  # in a version's status folder: its listening socket, offered to the next


@dataclass
class DeployContext:
    name: str
    image: Image
    config: Any  # the target's Settings class (deployments/settings.py)
    workspace: Workspace
    home: Path  # this deployment's folder on this machine
    previous: dict[str, Any] | None = None  # in an update, the handle of the version being replaced
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
        """The keys file's folder: the deployment's own, or its endpoint's (whose keys it accepts)."""
        if self.config.endpoint:
            return endpoint_secrets_dir(self.workspace, self.config.endpoint)
        return self.home / "secrets"

    @property
    def base_url(self) -> str:
        return f"{self.config.scheme}://{self.config.host}:{self.config.port}"

    def models(self) -> list[Model]:
        reg = ModelRegistry(self.workspace)
        return [reg.resolve(ref) for ref in self.image.models]

    def pull_reference(self) -> str:
        """What a cluster or a device runs. With a ``registry`` setting: the image's newest push to that
        registry, pinned by digest (``REGISTRY/jupyter-mlops/NAME@sha256:...``), or ``REGISTRY/TAG`` when it
        got there some other way; without one, the local tag."""
        registry = (getattr(self.config, "registry", None) or "").rstrip("/")
        if not registry:
            return str(self.image.docker_tag)
        pushed = [p for p in self.image.pushes if p.registry == registry]
        return pushed[-1].pinned if pushed else f"{registry}/{self.image.docker_tag}"

    def script_file(self, dest_dir: Path) -> Path | None:
        """The image's scoring script, fetched from the artifact store by content."""
        spec = self.image.spec
        if not spec.get("script_sha256"):
            return None
        dest_dir.mkdir(parents=True, exist_ok=True)
        return self.workspace.artifacts.get_blob(spec["script_sha256"], dest_dir / spec["script"])

    def server_settings(self, *, host: str, port: int | None, keys_file: str | None = None,
                        tls: tuple[str, str] | None = None, status_dir: str | None = None,
                        previous_status_dir: str | None = None,
                        collect_to: tuple[str, str] | None = None) -> dict[str, Any]:
        """The server's settings (``ServerConfig`` fields), built here for every target: where it
        listens, and where it finds its keys file, TLS files, readiness folder, artifact store and
        spool, as the server sees them (a host path, a container or pod mount). A version offers its
        listening socket to the next in its status folder, and an update's new version takes it from
        the status folder of the version it replaces (serving/handoff.py)."""
        cfg = self.config
        out: dict[str, Any] = {"host": host, "port": port, "workers": cfg.workers, "deployment": self.name,
                               "auth": cfg.auth, "drain_s": cfg.drain_s, "coalesce": cfg.coalesce,
                               "busy_poll_us": cfg.busy_poll_us}
        if cfg.auth:
            out["keys_file"] = keys_file
        if cfg.tls_cert and tls:
            out["tls_cert"], out["tls_key"] = tls
        if status_dir:
            out.update(listen_when_ready=True, status_dir=status_dir, listener_offer=f"{status_dir}/{LISTENER}")
        if previous_status_dir:
            out["listener_from"] = f"{previous_status_dir}/{LISTENER}"
        if cfg.collect and collect_to:
            store, spool = collect_to
            out.update(collect=True, collect_sample_rate=cfg.sample_rate, collect_store=store, collect_spool_dir=spool)
        return out

    def azure_connection_string(self) -> str | None:
        cs = self.workspace.azure_connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        return cs if self.workspace.artifacts_url.startswith("azure://") else None

    def store_env(self) -> dict[str, str]:
        """What the server needs to reach an Azure artifact store (passed by environment, never logged)."""
        cs = self.azure_connection_string()
        return {"AZURE_STORAGE_CONNECTION_STRING": cs} if self.config.collect and cs else {}

    def new_version_dir(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"v{self.image.version}-", dir=self.home))


class Target(ABC):
    """create / update / delete / status / logs; keys and scoring go through the service.

    ``settings`` is the class of what the target supports; the service refuses anything else."""

    name: str
    settings: ClassVar[type[Settings]] = PluginSettings
    runs_built_images: ClassVar[bool] = True  # False: serves from the registry (an image's build context is enough)

    @abstractmethod
    def create(self, ctx: DeployContext) -> dict[str, Any]:
        """Start serving; return the handle that finds it again. Raise DeploymentError on failure.
        Call ``ctx.started(handle)`` as soon as something runs; on any exception or interruption,
        stop it before raising."""

    def update(self, ctx: DeployContext, old: dict[str, Any]) -> dict[str, Any]:
        """Safe update: start the new version, wait until ready, switch, stop the old. If the new one
        never gets ready, stop it, leave the old serving, and raise DeploymentError saying why."""
        new = self.create(replace(ctx, previous=old))
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

    def keys_changed(self, ctx: DeployContext, handle: dict[str, Any]) -> None:  # noqa: B027 - a default, not abstract
        """Keys were regenerated. Local targets watch the keys file: nothing to do."""

    def cleanup(self, handle: dict[str, Any]) -> None:
        """A version was replaced: remove what it left on this machine."""
        remove_tree(handle.get("dir"))


def stage_tls(config: Settings, folder: Path, mounted_at: str) -> tuple[str, str]:
    """Copy the certificate and key into ``folder`` (0700); return their paths where ``folder`` is
    mounted (a container, a device)."""
    assert config.tls_cert is not None
    folder.mkdir(mode=0o700)
    shutil.copyfile(config.tls_cert, folder / "cert.pem")
    shutil.copyfile(config.tls_key or config.tls_cert, folder / "key.pem")
    return f"{mounted_at}/cert.pem", f"{mounted_at}/key.pem"


def remove_tree(path: str | Path | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
