"""The one plain Python API. Magics, widgets, the CLI and the server extension call only this.

Every function takes ``workspace=`` (a :class:`Workspace`, a path, or None for the one in use).
"""

from __future__ import annotations

import os
from pathlib import Path

from .names import parse_ref
from .registry.models import DEFAULT_PAGE, ModelRegistry
from .registry.records import Model, ModelList
from .workspace import Workspace, current_workspace, resolve_workspace

WorkspaceArg = Workspace | str | os.PathLike[str] | None


def _ws(workspace: WorkspaceArg) -> Workspace:
    return current_workspace() if workspace is None else resolve_workspace(workspace)


def _models(workspace: WorkspaceArg) -> ModelRegistry:
    return ModelRegistry(_ws(workspace))


def register_model(
    path: str | os.PathLike[str],
    name: str,
    tags: dict[str, str] | list[str] | None = None,
    properties: dict[str, str] | list[str] | None = None,
    description: str | None = None,
    framework: str | None = None,
    *,
    progress: bool | None = None,
    workspace: WorkspaceArg = None,
) -> Model:
    """Register a file or folder as the next version of model ``name``."""
    return _models(workspace).register(path, name, tags, properties, description, framework, progress)


def get_model(name: str, version: int | str | None = None, *, workspace: WorkspaceArg = None) -> Model:
    """A model version (``"name:3"`` works too); the latest when no version is given."""
    if version is None and ":" in name:
        ref = parse_ref(name)
        name, version = ref.name, ref.version
    return _models(workspace).get(name, version)


def list_models(
    name: str | None = None,
    tags: dict[str, str | None] | list[str] | str | None = None,
    properties: dict[str, str | None] | list[str] | str | None = None,
    latest: bool = False,
    *,
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
    workspace: WorkspaceArg = None,
) -> ModelList:
    """Models newest first, filtered by name, tags and properties (``key`` or ``key=value``)."""
    return _models(workspace).list(name, tags, properties, latest, limit, offset)


def update_model(
    name: str,
    version: int | str,
    tags: dict[str, str] | list[str] | None = None,
    remove_tags: list[str] | None = None,
    properties: dict[str, str] | list[str] | None = None,
    description: str | None = None,
    *,
    workspace: WorkspaceArg = None,
) -> Model:
    """Change tags (mutable), add properties (add-only) or the description of a version."""
    return _models(workspace).update(name, version, tags, remove_tags, properties, description)


def delete_model(name: str, version: int | str, *, workspace: WorkspaceArg = None) -> None:
    """Delete a version; refused, naming the image, while an image uses it."""
    _models(workspace).delete(name, version)


def download_model(
    model: Model | str,
    target_dir: str | os.PathLike[str] = ".",
    *,
    exist_ok: bool = False,
    progress: bool | None = None,
    workspace: WorkspaceArg = None,
) -> Path:
    """Write a model's file or folder into ``target_dir``; ``model`` is a Model or ``"name[:version]"``."""
    if isinstance(model, Model):
        name, version = model.name, model.version
    else:
        ref = parse_ref(model)
        name, version = ref.name, ref.version
    return _models(workspace).download(name, version, target_dir, exist_ok, progress)


def get_workspace(workspace: WorkspaceArg = None) -> Workspace:
    """The workspace in use (or the one named), with ``source`` saying why it was chosen."""
    return _ws(workspace)


