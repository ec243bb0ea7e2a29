"""jupyter-mlops: register, build, deploy and monitor models from Jupyter.

``import jupyter_mlops as mlops`` gives the whole plain Python API; ``%load_ext jupyter_mlops``
adds the magics. Importing has no side effects: nothing is created or contacted until used.
"""

from __future__ import annotations

from ._version import __version__
from .api import (
    delete_model,
    download_model,
    get_model,
    get_workspace,
    list_models,
    register_model,
    update_model,
)
from .errors import (
    BuildError,
    ConflictError,
    DeploymentError,
    ImmutableError,
    InUseError,
    InvalidNameError,
    MlopsError,
    NotFoundError,
    StoreError,
    UsageError,
)
from .registry.records import Model, ModelList
from .workspace import Workspace, use_workspace

__all__ = [
    "BuildError",
    "ConflictError",
    "DeploymentError",
    "ImmutableError",
    "InUseError",
    "InvalidNameError",
    "MlopsError",
    "Model",
    "ModelList",
    "NotFoundError",
    "StoreError",
    "UsageError",
    "Workspace",
    "__version__",
    "delete_model",
    "download_model",
    "get_model",
    "get_workspace",
    "list_models",
    "register_model",
    "update_model",
    "use_workspace",
]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext jupyter_mlops``: register the magics; no network, no files."""
    from .magics import load_ipython_extension as _load

    _load(ipython)
