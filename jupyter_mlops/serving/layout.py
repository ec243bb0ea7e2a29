"""Where models lie inside an app folder, in Azure ML's layout.

``<app>/azureml-models/<name>/<version>/<file or folder>``. ``AZUREML_MODEL_DIR`` points at
``<name>/<version>`` when the app has one model, and at ``azureml-models`` when it has several,
as Azure ML does, so existing scoring scripts find their files unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MODELS_DIR = "azureml-models"
_models: list[dict[str, Any]] = []  # set by the server: [{"name", "version", "path"}]


def model_dir_env(app_dir: Path, models: list[dict[str, Any]]) -> str:
    root = app_dir / MODELS_DIR
    if len(models) == 1:
        return str(root / models[0]["name"] / str(models[0]["version"]))
    return str(root)


def install(app_dir: Path, models: list[dict[str, Any]]) -> None:
    """Publish the app's models to scoring scripts (env var and :func:`get_model_path`)."""
    global _models
    _models = [dict(m, abs_path=str(app_dir / MODELS_DIR / m["name"] / str(m["version"]) / m["path"])) for m in models]
    os.environ["AZUREML_MODEL_DIR"] = model_dir_env(app_dir, models)


def get_model_path(name: str, version: int | None = None) -> str:
    """The file or folder of a model in this server: by name, and version if several are present."""
    found = [m for m in _models if m["name"] == name and (version is None or m["version"] == int(version))]
    if not found:
        have = ", ".join(f"{m['name']}:{m['version']}" for m in _models) or "none"
        ref = name if version is None else f"{name}:{version}"
        raise LookupError(f"Model {ref} is not in this server (have: {have}).")
    return str(max(found, key=lambda m: m["version"])["abs_path"])
