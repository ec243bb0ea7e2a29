"""jupyter-mlops: register, build, deploy and monitor models from Jupyter.

``import jupyter_mlops as mlops`` gives the whole plain Python API; ``%load_ext jupyter_mlops``
adds the magics. Importing has no side effects: nothing is created or contacted until used, and
names load lazily, so ``jupyter_mlops.serving`` (inside images) pulls in none of the notebook side.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

_EXPORTS = {
    "api": [
        "abort_rollout", "build_image", "collected_data", "create_endpoint", "dashboard", "delete_alias",
        "delete_endpoint", "delete_image", "delete_model", "deploy", "download_model", "follow_rollout",
        "get_baseline", "get_deployment", "get_endpoint", "get_endpoint_keys", "get_image", "get_keys", "get_model",
        "get_token", "get_workspace", "list_deployments", "list_endpoints", "list_images", "list_models",
        "push_image", "regen_endpoint_key", "regen_key", "register_model", "rollout", "serve", "set_alias",
        "set_baseline", "set_traffic", "smoke_test_image", "undeploy", "update_deployment", "update_image",
        "update_model", "validate_model",
    ],
    "endpoints.gates": ["Gates"],
    "endpoints.records": ["Endpoint", "EndpointList", "Token"],
    "endpoints.rollout": ["RolloutResult"],
    "monitoring.dashboard": ["Dashboard"],
    "deployments.records": ["Deployment", "DeploymentList"],
    "errors": [
        "BuildError", "ConflictError", "DeploymentError", "ImmutableError", "InUseError",
        "InvalidNameError", "MlopsError", "NotFoundError", "PipelineError", "PushError", "StoreError", "UsageError",
        "ValidationError",
    ],
    "images.records": ["Image", "ImageList", "Push"],
    "local_server": ["LocalServer"],
    "registry.records": ["Model", "ModelList"],
    "registry.validation": ["Validation"],
    "workspace": ["Workspace", "use_workspace"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_WHERE, "__version__", "ui"])


def __getattr__(name: str) -> Any:
    if name == "ui":  # the notebook panels: mlops.ui.models(), .deployments(), .deployment(name)
        return import_module(".widgets", __name__)
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mlops' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE) | {"ui"})


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension (enabled as ``jupyter_mlops``) lives in :mod:`.server`."""
    return [{"module": "jupyter_mlops.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (``labextension/`` built into ``jupyter_mlops/labextension``)."""
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``: register the magics; no network, no files."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from . import widgets as ui  # noqa: F401
    from .api import (  # noqa: F401
        abort_rollout,
        build_image,
        collected_data,
        create_endpoint,
        dashboard,
        delete_alias,
        delete_endpoint,
        delete_image,
        delete_model,
        deploy,
        download_model,
        follow_rollout,
        get_baseline,
        get_deployment,
        get_endpoint,
        get_endpoint_keys,
        get_image,
        get_keys,
        get_model,
        get_token,
        get_workspace,
        list_deployments,
        list_endpoints,
        list_images,
        list_models,
        push_image,
        regen_endpoint_key,
        regen_key,
        register_model,
        rollout,
        serve,
        set_alias,
        set_baseline,
        set_traffic,
        smoke_test_image,
        undeploy,
        update_deployment,
        update_image,
        update_model,
        validate_model,
    )
    from .deployments.records import Deployment, DeploymentList  # noqa: F401
    from .endpoints.gates import Gates  # noqa: F401
    from .endpoints.records import Endpoint, EndpointList, Token  # noqa: F401
    from .endpoints.rollout import RolloutResult  # noqa: F401
    from .errors import (  # noqa: F401
        BuildError,
        ConflictError,
        DeploymentError,
        ImmutableError,
        InUseError,
        InvalidNameError,
        MlopsError,
        NotFoundError,
        PipelineError,
        PushError,
        StoreError,
        UsageError,
        ValidationError,
    )
    from .images.records import Image, ImageList, Push  # noqa: F401
    from .local_server import LocalServer  # noqa: F401
    from .monitoring.dashboard import Dashboard  # noqa: F401
    from .registry.records import Model, ModelList  # noqa: F401
    from .registry.validation import Validation  # noqa: F401
    from .workspace import Workspace, use_workspace  # noqa: F401
