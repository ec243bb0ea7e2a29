"""Deployment targets. Built-ins register here the way plugins arrive through the
``jupyter_mlops.targets`` entry point group: a name mapped to a :class:`~.base.Target` class."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from ...errors import UsageError
from .base import Target

BUILTIN = {
    "process": "jupyter_mlops.deployments.targets.process:ProcessTarget",
    "docker": "jupyter_mlops.deployments.targets.docker:DockerTarget",
    "kubernetes": "jupyter_mlops.deployments.targets.kubernetes:KubernetesTarget",
    "edge": "jupyter_mlops.deployments.targets.edge:EdgeTarget",
}
GROUP = "jupyter_mlops.targets"


def available() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_target(name: str) -> Target:
    spec = available().get(name)
    if spec is None:
        raise UsageError(f"Unknown deployment target {name!r}: use one of {', '.join(sorted(available()))}.")
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)()
