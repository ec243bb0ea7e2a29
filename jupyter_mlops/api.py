"""The one plain Python API. Magics, widgets, the CLI and the server extension call only this.

Every function takes ``workspace=`` (a :class:`Workspace`, a path, or None for the one in use).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .deployments.records import Deployment, DeploymentList
from .deployments.service import DeploymentService
from .images.records import Image, ImageList
from .images.registry import ImageRegistry
from .local_server import LocalServer
from .monitoring.dashboard import Dashboard
from .monitoring.drift import summarize
from .names import parse_ref
from .registry.models import DEFAULT_PAGE, ModelRegistry
from .registry.records import Model, ModelList
from .workspace import Workspace, current_workspace, resolve_workspace

if TYPE_CHECKING:
    from .widgets.build_log import BuildLog
    from .widgets.live_dashboard import LiveDashboard

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
    baseline: Any = None,
    progress: bool | None = None,
    workspace: WorkspaceArg = None,
) -> Model:
    """Register a file or folder as the next version of model ``name``.

    ``baseline``: training data (DataFrame or array); its per-feature summary is stored with the
    version, and drift of collected inputs is measured against it."""
    reg = _models(workspace)
    model = reg.register(path, name, tags, properties, description, framework, progress)
    if baseline is not None:
        reg.set_baseline(model.name, model.version, summarize(baseline))
    return model


def set_baseline(model: Model | str, data: Any, *, workspace: WorkspaceArg = None) -> dict[str, Any]:
    """Store per-feature summary statistics of ``data`` (training data) with a model version."""
    ref = (model.name, model.version) if isinstance(model, Model) else _split_ref(model)
    baseline = summarize(data)
    _models(workspace).set_baseline(ref[0], ref[1] or _models(workspace).get(ref[0]).version, baseline)
    return baseline


def _split_ref(text: str) -> tuple[str, int | None]:
    ref = parse_ref(text)
    return ref.name, ref.version


def collected_data(deployment: str, start: Any = None, end: Any = None, model: str | None = None, *,
                   collector: str = "request", workspace: WorkspaceArg = None) -> Any:
    """What a deployment collected, as a DataFrame: one row per input row, one column per feature
    (named from the model's baseline when it has one), outputs, status, latency and ids.
    ``collector`` picks records a scoring script stored with ``Collector(name)``."""
    from .monitoring.service import collected_data as read

    return read(_ws(workspace), deployment, start, end, model, collector)


def dashboard(deployment: str, since: str | None = "1h", *, threshold: float = 0.2, live: bool = False,
              interval: float = 5.0, workspace: WorkspaceArg = None) -> Dashboard | LiveDashboard:
    """Plotly dashboard: requests per minute by status, latency p50/p95/p99, error rate,
    predictions, and per-feature drift (PSI) against the baseline, with the threshold marked.
    ``live=True``: a :class:`~jupyter_mlops.widgets.LiveDashboard` panel that updates in place every
    ``interval`` seconds, with a time-window and a feature picker."""
    if live:
        return _live_dashboard(deployment, since, threshold, interval, workspace)
    from .monitoring.service import dashboard as build

    return build(_ws(workspace), deployment, since, threshold)


def get_baseline(model: Model | str, *, workspace: WorkspaceArg = None) -> dict[str, Any] | None:
    """The per-feature summary stored with a model version (``"name[:version]"``), or None."""
    ref = (model.name, model.version) if isinstance(model, Model) else _split_ref(model)
    reg = _models(workspace)
    return reg.baseline(ref[0], ref[1] or reg.get(ref[0]).version)


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


def _images(workspace: WorkspaceArg) -> ImageRegistry:
    return ImageRegistry(_ws(workspace))


def build_image(
    name: str,
    models: list[Model | str] | Model | str,
    script: str | os.PathLike[str] | None = None,
    requirements: str | os.PathLike[str] | list[str] | None = None,
    base_image: str | None = None,
    tags: dict[str, str] | list[str] | None = None,
    description: str | None = None,
    *,
    docker: bool | None = None,
    gpu: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] | None = None,
    workspace: WorkspaceArg = None,
) -> Image:
    """Build a Docker image of models + scoring script + requirements + our server, and register it.

    Dependencies are resolved on this machine and installed offline in the image. Without a Docker
    engine (or with ``docker=False``) only the build context is written (state ``context``).
    In a notebook the build shows itself as a :class:`~jupyter_mlops.widgets.BuildLog` panel.
    """
    model_list = [models] if isinstance(models, (str, Model)) else list(models)
    build = functools.partial(_images(workspace).build, name, model_list, script, requirements, base_image, tags,
                              description, docker=docker, gpu=gpu)
    panel = _build_panel(name) if progress and echo is None else None
    return panel.follow(build) if panel is not None else build(progress=progress, echo=echo)


def get_image(name: str, version: int | str | None = None, *, workspace: WorkspaceArg = None) -> Image:
    """An image version (``"name:2"`` works too); the latest when no version is given."""
    if version is None and ":" in name:
        ref = parse_ref(name, "image")
        name, version = ref.name, ref.version
    return _images(workspace).get(name, version)


def list_images(
    name: str | None = None,
    tags: dict[str, str | None] | list[str] | str | None = None,
    model: str | None = None,
    *,
    limit: int = 100,
    offset: int = 0,
    workspace: WorkspaceArg = None,
) -> ImageList:
    """Images newest first, filtered by name, tags and the model (``NAME[:VERSION]``) they contain."""
    return _images(workspace).list(name, tags, model, limit, offset)


def update_image(name: str, version: int | str, tags: dict[str, str] | list[str] | None = None,
                 remove_tags: list[str] | None = None, *, workspace: WorkspaceArg = None) -> Image:
    """Add, change or remove an image's tags."""
    return _images(workspace).update(name, version, tags, remove_tags)


def delete_image(name: str, version: int | str, *, workspace: WorkspaceArg = None) -> None:
    """Delete an image version; refused, naming it, while a deployment uses it."""
    _images(workspace).delete(name, version)


def smoke_test_image(image: Image | str, data: Any, *, timeout: float = 120.0, workspace: WorkspaceArg = None) -> Any:
    """Run the image's container on a free 127.0.0.1 port, score ``data`` once, remove it; returns the answer."""
    from .images.smoke import smoke_test

    img = image if isinstance(image, Image) else get_image(image, workspace=workspace)
    return smoke_test(img, data, timeout)


def _deployments(workspace: WorkspaceArg) -> DeploymentService:
    return DeploymentService(_ws(workspace))


def deploy(
    name: str,
    image: Image | str,
    target: str | None = None,
    port: int | None = None,
    auth: bool = True,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    replicas: int = 1,
    cpu: str | None = None,
    memory: str | None = None,
    autoscale: dict[str, Any] | None = None,
    tags: dict[str, str] | list[str] | None = None,
    *,
    workers: int = 1,
    tls_ca: str | None = None,
    host: str = "127.0.0.1",
    dry_run: bool = False,
    output_dir: str | None = None,
    namespace: str = "default",
    registry: str | None = None,
    ready_timeout: float = 120.0,
    collect: bool = False,
    sample_rate: float = 1.0,
    workspace: WorkspaceArg = None,
) -> Deployment:
    """Deploy an image as a scoring service on ``target`` (process, docker, kubernetes, edge, or a
    plugin; the workspace's default when omitted). Keys are generated when ``auth`` is on (see
    :func:`get_keys`). ``collect=True`` records inputs, outputs and latency (a ``sample_rate``
    share of requests) in the workspace's artifact store: see :func:`collected_data`, :func:`dashboard`.
    Returns once it serves, with ``scoring_uri``, ``swagger_uri`` and ``score()``."""
    return _deployments(workspace).deploy(
        name, image, target, tags, port=port, auth=auth, tls_cert=tls_cert, tls_key=tls_key, tls_ca=tls_ca,
        replicas=replicas, cpu=cpu, memory=memory, autoscale=autoscale, workers=workers, host=host,
        dry_run=dry_run, output_dir=output_dir, namespace=namespace, registry=registry, ready_timeout_s=ready_timeout,
        collect=collect, sample_rate=sample_rate,
    )


def get_deployment(name: str, *, workspace: WorkspaceArg = None) -> Deployment:
    """A deployment, its state refreshed from its target, with its event history."""
    return _deployments(workspace).get(name)


def list_deployments(model: str | None = None, image: str | None = None,
                     tags: dict[str, str | None] | list[str] | str | None = None, *,
                     workspace: WorkspaceArg = None) -> DeploymentList:
    """Deployments whose image contains ``model`` (``NAME[:VERSION]``), of ``image``, with ``tags``."""
    return _deployments(workspace).list(model, image, tags)


def update_deployment(name: str, image: Image | str, *, ready_timeout: float | None = None,
                      workspace: WorkspaceArg = None) -> Deployment:
    """Move a deployment to another image; the old version serves until the new one is ready, and
    keeps serving (the failure recorded, with the log tail) if it never is."""
    return _deployments(workspace).update(name, image, ready_timeout)


def undeploy(name: str, *, workspace: WorkspaceArg = None) -> None:
    """Stop and remove a deployment."""
    _deployments(workspace).undeploy(name)


def get_keys(name: str, *, workspace: WorkspaceArg = None) -> dict[str, str]:
    """The deployment's primary and secondary keys (shown only when asked for)."""
    return _deployments(workspace).get_keys(name)


def regen_key(name: str, key: str = "primary", *, workspace: WorkspaceArg = None) -> None:
    """Replace the primary or secondary key; the service accepts the new one within a second, no rebuild."""
    _deployments(workspace).regen_key(name, key)


def serve(
    models: list[Model | str] | Model | str,
    script: str | os.PathLike[str] | None = None,
    *,
    port: int | None = None,
    workers: int = 1,
    auth_keys: list[str] | None = None,
    max_batch_size: int = 0,
    timeout: float = 60.0,
    workspace: WorkspaceArg = None,
) -> LocalServer:
    """Serve registered models from a local subprocess (no Docker); returns once it is ready.

    ``svc.score(data)`` scores, ``svc.stop()`` stops. For a named, listed and updatable service,
    use :func:`deploy`.
    """
    from .appdir import resolve_models, serve_app_dir
    from .local_server import free_port, log_tail, pid_alive, start_process, wait_ready

    ws = _ws(workspace)
    resolved = resolve_models(ws, [models] if isinstance(models, (str, Model)) else list(models))
    port = port or free_port()
    app = serve_app_dir(ws, resolved, script, port=port, workers=workers, auth=bool(auth_keys),
                        max_batch_size=max_batch_size, scoring_timeout_s=timeout).app_path
    log_path = app / "server.log"
    proc = start_process(app, log_path, auth_keys)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, lambda: pid_alive(proc.pid), lambda: log_tail(log_path), timeout=120)
    except Exception:
        from .local_server import stop_process

        stop_process(proc.pid)
        raise
    return LocalServer(url, proc.pid, log_path, auth_keys[0] if auth_keys else None)


def get_workspace(workspace: WorkspaceArg = None) -> Workspace:
    """The workspace in use (or the one named), with ``source`` saying why it was chosen."""
    return _ws(workspace)


# --- notebook panels (jupyter_mlops.widgets; ``mlops.ui``) ---------------------------------------------
def _build_panel(name: str) -> BuildLog | None:
    """The BuildLog panel, shown, when this runs in a notebook kernel; None elsewhere."""
    from .widgets.build_log import BuildLog

    return BuildLog.in_notebook(name)


def _live_dashboard(deployment: str, since: str | None, threshold: float, interval: float,
                    workspace: WorkspaceArg) -> LiveDashboard:
    from .widgets.live_dashboard import LiveDashboard

    return LiveDashboard(deployment, since=since or "1h", threshold=threshold, interval=interval,
                         workspace=workspace)
