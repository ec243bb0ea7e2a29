"""Lay out an app folder (models in Azure's layout, the scoring script, server.json) from the registry.

The same folder serves ``jupyter-mlops serve``, the ``process`` deployment target and, copied
into a build context, the Docker image.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from .artifacts.stores import LocalArtifactStore, blob_key
from .errors import UsageError
from .names import ref_of
from .registry.models import ModelRegistry
from .registry.records import Model
from .serving.config import ServerConfig
from .serving.layout import MODELS_DIR
from .workspace import Workspace


def resolve_models(ws: Workspace, models: list[Model | str]) -> list[Model]:
    if not models:
        raise UsageError("Give at least one model (NAME or NAME:VERSION).")
    reg = ModelRegistry(ws)
    return [m if isinstance(m, Model) else reg.get(*ref_of(m)) for m in models]


def place_model(ws: Workspace, model: Model, root: Path) -> None:
    """Put a model's files under ``root/<name>/<version>/``; hard links when the store is local."""
    base = root / model.name / str(model.version)
    store = ws.artifacts
    for rel, sha, _size in model.files:
        dest = base / PurePosixPath(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            continue
        if isinstance(store, LocalArtifactStore):
            try:
                os.link(store.local_path(blob_key(sha)), dest)
                continue
            except OSError:
                pass  # another file system: copy instead
        store.get_blob(sha, dest)


def write_app_dir(
    ws: Workspace, models: list[Model], dest: Path, script: str | os.PathLike[str] | None = None,
    **settings: object,
) -> ServerConfig:
    dest.mkdir(parents=True, exist_ok=True)
    for model in models:
        place_model(ws, model, dest / MODELS_DIR)
    script_name = None
    if script is not None:
        src = Path(script).expanduser()
        if not src.is_file():
            raise UsageError(f"Scoring script {str(script)!r} does not exist.")
        script_name = src.name
        shutil.copyfile(src, dest / script_name)
    elif not any(m.framework in ("onnx", "sklearn") for m in models):
        raise UsageError(
            "These models need a scoring script (--script): only ONNX and sklearn models score without one.")
    config = ServerConfig(
        app_dir=str(dest),
        models=[
            {"name": m.name, "version": m.version, "framework": m.framework,
             "path": PurePosixPath(m.files[0][0]).parts[0]}
            for m in models
        ],
        script=script_name,
        **settings,  # type: ignore[arg-type]
    )
    config.save(dest / "server.json")
    return config


def serve_app_dir(ws: Workspace, models: list[Model], script: str | os.PathLike[str] | None,
                  **settings: object) -> ServerConfig:
    """The app folder for ``serve`` (API and CLI): one per model set, script and port, under the workspace."""
    import hashlib

    key = hashlib.sha256(repr(([m.ref for m in models], str(script), settings.get("port"))).encode()).hexdigest()[:16]
    return write_app_dir(ws, models, ws.state_dir / "serve" / key, script, **settings)
