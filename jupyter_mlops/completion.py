"""Candidates for completing what users type after a magic: model, image and deployment names,
``NAME:VERSION`` references and deployment targets. The magics' completers call :func:`complete`.
"""

from __future__ import annotations

from typing import Any

from . import api
from .deployments.targets import available
from .errors import MlopsError

KINDS = ("model", "image", "deployment", "target")
LIMIT = 200


def targets() -> list[str]:
    """Deployment targets: the built-in ones and those plugins add."""
    return sorted(available())


def _names(kind: str, workspace: Any) -> list[str]:
    if kind == "model":
        return sorted({m.name for m in api.list_models(latest=True, limit=LIMIT, workspace=workspace)})
    if kind == "image":
        return sorted({i.name for i in api.list_images(limit=LIMIT, workspace=workspace)})
    return sorted(d.name for d in api.list_deployments(workspace=workspace))


def _versions(kind: str, name: str, workspace: Any) -> list[int]:
    found = (api.list_models(name, limit=LIMIT, workspace=workspace) if kind == "model"
             else api.list_images(name, limit=LIMIT, workspace=workspace))
    return sorted(x.version for x in found)


def complete(kind: str, prefix: str = "", *, versions: bool = True, workspace: Any = None) -> list[str]:
    """What may follow ``prefix`` for ``kind`` (model, image, deployment or target), sorted.

    For models and images, ``NAME:`` (or a prefix that is already a whole name, with ``versions``)
    completes to ``NAME:VERSION``. A prefix that cannot be a name gives nothing, never an error."""
    if kind not in KINDS:
        raise ValueError(f"Unknown completion kind {kind!r}: use one of {', '.join(KINDS)}.")
    if kind == "target":
        return [t for t in targets() if t.startswith(prefix)]
    name, sep, version = prefix.partition(":")
    try:
        if sep and kind in ("model", "image"):
            return [f"{name}:{v}" for v in reversed(_versions(kind, name, workspace)) if str(v).startswith(version)]
        names = [n for n in _names(kind, workspace) if n.startswith(prefix)]
        if versions and kind in ("model", "image") and names == [prefix]:
            names += [f"{prefix}:{v}" for v in reversed(_versions(kind, prefix, workspace))]
        return names
    except MlopsError:  # "churn!" is no name: nothing to offer
        return []
