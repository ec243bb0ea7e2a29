"""What each deployment target can be asked for, as small typed classes.

A target declares its class (``Target.settings``); :func:`parse_settings` turns what a caller gave
into it, and a setting the target does not support is an error that names both, never dropped.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..errors import UsageError

_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$")


@dataclass
class Settings:
    """What every target supports: keys, TLS, collection and how long to wait for readiness."""

    auth: bool = True
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None  # what clients (and score()) trust; the certificate itself by default
    workers: int = 1
    collect: bool = False
    sample_rate: float = 1.0
    ready_timeout: float = 120.0
    drain_s: float = 2.0
    coalesce: bool = True  # requests read together share a model run (serving/coalescing.py)
    busy_poll_us: int = 250  # after answering a lone client, poll for its next request (serving/polling.py)
    endpoint: str | None = None  # behind this endpoint: its keys, its proxy (see jupyter_mlops/endpoints)

    target: ClassVar[str] = "any"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    def check(self) -> None:
        """Values that make no sense for any target."""
        if not 0 < self.sample_rate <= 1:
            raise UsageError(f"Invalid sample_rate {self.sample_rate!r}: a share between 0 (exclusive) and 1.")
        if self.workers < 1:
            raise UsageError(f"Invalid workers {self.workers!r}: at least 1.")
        if isinstance(self.busy_poll_us, bool) or not isinstance(self.busy_poll_us, int) or self.busy_poll_us < 0:
            raise UsageError(f"Invalid busy_poll_us {self.busy_poll_us!r}: microseconds, a whole number, at least 0.")
        if self.ready_timeout <= 0:
            raise UsageError(f"Invalid ready_timeout {self.ready_timeout!r}: seconds, more than 0.")
        if self.tls_key and not self.tls_cert:
            raise UsageError("A TLS key needs its certificate (tls_cert).")


@dataclass
class LocalSettings(Settings):
    """A server on this machine: where it listens."""

    host: str = "127.0.0.1"
    port: int | None = None  # a free one when not given

    def check(self) -> None:
        super().check()
        if self.port is not None and not 0 <= self.port <= 65535:
            raise UsageError(f"Invalid port {self.port!r}: 0 to 65535.")


@dataclass
class ProcessSettings(LocalSettings):
    target: ClassVar[str] = "process"


@dataclass
class DockerSettings(LocalSettings):
    cpu: str | None = None  # CPUs, e.g. 500m or 2
    memory: str | None = None  # e.g. 512Mi

    target: ClassVar[str] = "docker"

    def check(self) -> None:
        super().check()
        check_quantity("cpu", self.cpu)
        check_quantity("memory", self.memory)


@dataclass
class KubernetesSettings(Settings):
    replicas: int = 1
    cpu: str | None = None
    memory: str | None = None
    autoscale: dict[str, int] | None = None  # {"min": 1, "max": 5, "target_cpu": 70}
    namespace: str = "default"
    registry: str | None = None  # image registry prefix the cluster pulls from
    ingress_host: str | None = None  # the TLS Ingress's host name (<name>.example.com when not given)
    service_type: str = "ClusterIP"
    dry_run: bool = False
    output_dir: str | None = None

    target: ClassVar[str] = "kubernetes"

    def check(self) -> None:
        super().check()
        check_quantity("cpu", self.cpu)
        check_quantity("memory", self.memory)
        if self.replicas < 1:
            raise UsageError(f"Invalid replicas {self.replicas!r}: at least 1.")
        if self.service_type not in ("ClusterIP", "NodePort", "LoadBalancer"):
            raise UsageError(f"Invalid service_type {self.service_type!r}: ClusterIP, NodePort or LoadBalancer.")


@dataclass
class EdgeSettings(Settings):
    port: int = 5001  # where the device serves
    registry: str | None = None
    output_dir: str | None = None
    collect_store: str | None = None  # an artifact store URL the device reaches; a folder in the bundle when not given

    target: ClassVar[str] = "edge"


@dataclass
class PluginSettings(Settings):
    """For targets that declare nothing more: the common settings plus free-form ``extra``."""

    extra: dict[str, Any] = field(default_factory=dict)


def check_quantity(name: str, value: str | None) -> None:
    if value is not None and not _QUANTITY.match(str(value)):
        raise UsageError(f"Invalid {name} {value!r}: a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi.")


def parse_settings(cls: type[Settings], given: dict[str, Any]) -> Settings:
    """``cls`` from ``given``; a key the class does not have is an error naming the setting and
    the target (and what it does support)."""
    names = [f.name for f in fields(cls)]
    for key in given:
        if key not in names:
            raise UsageError(
                f"Setting {key!r} is not supported by the {cls.target!r} target; it supports: {', '.join(names)}.")
    settings = cls(**given)
    settings.check()
    return settings


def load_settings(cls: type[Settings], stored: dict[str, Any]) -> Settings:
    """A stored record's settings: keys an older version wrote that no longer exist are skipped."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in stored.items() if k in names})


def to_record(settings: Settings) -> dict[str, Any]:
    return dataclasses.asdict(settings)
