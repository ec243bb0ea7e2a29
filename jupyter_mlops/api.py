"""The one plain Python API. Magics, widgets, the CLI and the server extension call only this.

Every function takes ``workspace=`` (a :class:`Workspace`, a path, or None for the one in use).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .deployments.records import Deployment, DeploymentList
from .deployments.service import DeploymentService
from .endpoints.records import Endpoint, EndpointList, Token
from .endpoints.rollout import Rollout, RolloutResult, follow
from .endpoints.service import EndpointService
from .errors import UsageError
from .images.records import Image, ImageList, Push
from .images.registry import ImageRegistry
from .local_server import LocalServer
from .monitoring.dashboard import Dashboard
from .monitoring.drift import summarize
from .names import Ref, parse_int, parse_version, ref_of
from .registry.models import DEFAULT_PAGE, ModelRegistry
from .registry.records import Model, ModelList
from .registry.validation import Validation
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
    *,
    tags: dict[str, str] | list[str] | None = None,
    properties: dict[str, str] | list[str] | None = None,
    description: str | None = None,
    framework: str | None = None,
    baseline: Any = None,
    source: str | None = None,
    progress: bool | None = None,
    workspace: WorkspaceArg = None,
) -> Model:
    """Register a file or folder as the next version of model ``name``.

    ``baseline``: training data (DataFrame or array); its per-feature summary is stored with the
    version, and drift of collected inputs is measured against it. Provenance is recorded with it
    (``model.provenance``): the notebook or script (``source`` when given), the git commit and whether
    tracked files had changes, papermill's parameters, the Python and package versions, the CI run."""
    reg = _models(workspace)
    model = reg.register(path, name, tags, properties, description, framework, progress, source)
    if baseline is not None:
        reg.set_baseline(model.name, model.version, summarize(baseline))
    return model


def set_baseline(model: Model | str, data: Any, *, workspace: WorkspaceArg = None) -> dict[str, Any]:
    """Store per-feature summary statistics of ``data`` (training data) with a model version."""
    reg = _models(workspace)
    found = reg.resolve(model)
    baseline = summarize(data)
    reg.set_baseline(found.name, found.version, baseline)
    return baseline


def collected_data(deployment: str, *, start: Any = None, end: Any = None, model: str | None = None,
                   collector: str = "request", workspace: WorkspaceArg = None) -> Any:
    """What a deployment collected, as a DataFrame: one row per input row, one column per feature
    (named from the model's baseline when it has one), outputs, status, latency and ids.
    ``collector`` picks records a scoring script stored with ``Collector(name)``. A removed
    deployment's data stays readable; a name with neither a deployment nor data is a NotFoundError."""
    from .monitoring.service import collected_data as read

    return read(_ws(workspace), deployment, start, end, model, collector)


def dashboard(deployment: str, *, since: str | None = "1h", threshold: float = 0.2, live: bool = False,
              interval: float = 5.0, workspace: WorkspaceArg = None) -> Dashboard | LiveDashboard:
    """Plotly dashboard: requests per minute by status, latency p50/p95/p99, error rate,
    predictions, and per-feature drift (PSI) against the baseline, with the threshold marked.
    As :func:`collected_data`: a NotFoundError for a name with neither a deployment nor data.

    The name of an endpoint (that is no deployment's) compares its deployments side by side, those of
    its last rollout included: blue against green, one trace each.
    ``live=True``: a :class:`~jupyter_mlops.widgets.LiveDashboard` panel that updates in place every
    ``interval`` seconds, with a time-window and a feature picker."""
    if live:
        return _live_dashboard(deployment, since, threshold, interval, workspace)
    from .monitoring.service import compare
    from .monitoring.service import dashboard as build

    behind = _endpoints(workspace).compared(deployment)
    if behind is not None:
        return compare(_ws(workspace), deployment, behind, since, threshold)
    return build(_ws(workspace), deployment, since, threshold)


def get_baseline(model: Model | str, *, workspace: WorkspaceArg = None) -> dict[str, Any] | None:
    """The per-feature summary stored with a model version (``"name[:version]"``), or None."""
    found = model if isinstance(model, Model) else get_model(model, workspace=workspace)
    return _models(workspace).baseline(found.name, found.version)


def get_model(name: str, version: int | str | None = None, *, workspace: WorkspaceArg = None) -> Model:
    """A model version: ``"name:3"`` and ``"name@champion"`` (an alias; ``@latest`` is built in) work
    too; the latest when no version is given."""
    ref = ref_of(name)
    if version is not None:
        if ref.version is not None or ref.alias is not None:
            raise UsageError(f"Give the version once: {name!r} already names one.")
        ref = Ref(ref.name, parse_version(version))
    return _models(workspace).resolve(ref)


def set_alias(name: str, alias: str, version: int | str, *, workspace: WorkspaceArg = None) -> Model:
    """Point ``name@alias`` (``churn@champion``) at a version; it leaves the version it named before.
    Everything that takes a model reference takes ``name@alias``; a deployment that follows one
    (``deploy(..., model="churn@champion")``) serves the version it names after its next update."""
    return _models(workspace).set_alias(name, alias, version)


def delete_alias(name: str, alias: str, *, workspace: WorkspaceArg = None) -> None:
    """Remove ``name@alias``; the version it named stays."""
    _models(workspace).delete_alias(name, alias)


def validate_model(
    model: Model | str,
    notebook: str | os.PathLike[str],
    *,
    parameters: dict[str, Any] | list[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    workspace: WorkspaceArg = None,
) -> Validation:
    """Run a validation notebook for a model version with papermill: it gets the parameter ``model``
    (``NAME:VERSION``, ``model`` may be an alias) and ``parameters`` (test data, thresholds), runs in its
    own folder, and uses this workspace. An exception in it, such as a failed assertion, raises
    :class:`ValidationError` with that exception's line. The executed copy is kept at ``output``
    (default: under the workspace's ``validations/NAME/VERSION/``), passed or failed."""
    from .registry.validation import validate

    ws = _ws(workspace)
    return validate(ws, ModelRegistry(ws).resolve(model), notebook, parameters, output, timeout)


def list_models(
    name: str | None = None,
    *,
    tags: dict[str, str | None] | list[str] | str | None = None,
    properties: dict[str, str | None] | list[str] | str | None = None,
    latest: bool = False,
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
    workspace: WorkspaceArg = None,
) -> ModelList:
    """Models newest first, filtered by name, tags and properties (``key`` or ``key=value``)."""
    return _models(workspace).list(name, tags, properties, latest, limit, offset)


def update_model(
    name: str,
    version: int | str,
    *,
    tags: dict[str, str] | list[str] | None = None,
    remove_tags: list[str] | None = None,
    properties: dict[str, str] | list[str] | None = None,
    description: str | None = None,
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
    """Write a model's file or folder into ``target_dir``; ``model`` is a Model, ``"name[:version]"`` or
    ``"name@alias"``."""
    reg = _models(workspace)
    found = reg.resolve(model)
    return reg.download(found.name, found.version, target_dir, exist_ok, progress)


def _images(workspace: WorkspaceArg) -> ImageRegistry:
    return ImageRegistry(_ws(workspace))


def build_image(
    name: str,
    models: list[Model | str] | Model | str,
    *,
    script: str | os.PathLike[str] | None = None,
    requirements: str | os.PathLike[str] | list[str] | None = None,
    base_image: str | None = None,
    tags: dict[str, str] | list[str] | None = None,
    description: str | None = None,
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
    ref = ref_of(name, "image")
    return _images(workspace).get(ref.name, version if version is not None else ref.version)


def list_images(
    name: str | None = None,
    *,
    tags: dict[str, str | None] | list[str] | str | None = None,
    model: str | None = None,
    limit: int = 100,
    offset: int = 0,
    workspace: WorkspaceArg = None,
) -> ImageList:
    """Images newest first, filtered by name, tags and the model (``NAME[:VERSION]``) they contain."""
    return _images(workspace).list(name, tags, model, limit, offset)


def update_image(name: str, version: int | str, *, tags: dict[str, str] | list[str] | None = None,
                 remove_tags: list[str] | None = None, workspace: WorkspaceArg = None) -> Image:
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


def push_image(image: Image | str, registry: str, *, progress: bool = True, echo: Callable[[str], None] | None = None,
               workspace: WorkspaceArg = None) -> Push:
    """Push a built image to a container registry (``127.0.0.1:5000``, ``registry.example.com/ml``) with
    Docker's own credentials (``docker login``), streaming progress; records the reference and the digest
    the registry answered (``image.pushes``). Kubernetes and edge deployments given ``registry=`` pull
    that push, pinned by its digest."""
    return _images(workspace).push(image, registry, progress, echo)


def _deployments(workspace: WorkspaceArg) -> DeploymentService:
    return DeploymentService(_ws(workspace))


def deploy(
    name: str,
    image: Image | str | None = None,
    *,
    model: str | None = None,
    update_existing: bool = False,
    target: str | None = None,
    auth: bool = True,
    tags: dict[str, str] | list[str] | None = None,
    port: int | None = None,
    host: str | None = None,
    workers: int | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca: str | None = None,
    replicas: int | None = None,
    cpu: str | None = None,
    memory: str | None = None,
    autoscale: dict[str, Any] | str | None = None,
    namespace: str | None = None,
    registry: str | None = None,
    ingress_host: str | None = None,
    dry_run: bool = False,
    output_dir: str | None = None,
    collect: bool = False,
    sample_rate: float | None = None,
    ready_timeout: float | None = None,
    endpoint: str | None = None,
    coalesce: bool = True,
    busy_poll_us: int | None = None,
    workspace: WorkspaceArg = None,
) -> Deployment:
    """Deploy an image as a scoring service on ``target`` (process, docker, kubernetes, edge, or a
    plugin; the workspace's default when omitted). Keys are generated when ``auth`` is on (see
    :func:`get_keys`). ``collect=True`` records inputs, outputs and latency (a ``sample_rate``
    share of requests) in the workspace's artifact store: see :func:`collected_data`, :func:`dashboard`.

    Each target supports its own settings (``replicas`` and ``autoscale`` on kubernetes, ``cpu`` and
    ``memory`` on docker and kubernetes, ...); one it does not support is an error naming both.
    Returns once it serves, with ``scoring_uri``, ``swagger_uri`` and ``score()``.

    ``model="churn@champion"`` follows a model alias: the deployment serves the newest image (of
    ``image``'s name, when given without a version) holding the version the alias names, records both,
    and :func:`update_deployment` without an image moves it to the version the alias names then.
    ``update_existing=True`` updates a deployment of that name instead of refusing (CI runs that deploy on
    every push); its target and settings must be the ones given.

    ``endpoint``: deploy behind that endpoint (see :func:`create_endpoint`), on its target by default,
    with its keys or tokens (``auth`` is the endpoint's); it takes no traffic until :func:`set_traffic`.

    ``coalesce=False``: a model run per request. By default the requests a server worker reads
    together share one run (faster under load; outputs equal to float rounding), for models whose
    inputs have a free batch dimension: turn it off for a model whose rows are not independent.
    ``busy_poll_us``: as in :func:`serve` (250 by default)."""
    given = {k: v for k, v in locals().items() if k not in (
        "name", "image", "model", "update_existing", "target", "tags", "auth", "workspace", "endpoint", "coalesce",
        "busy_poll_us") and v not in (None, False)}
    if not coalesce:
        given["coalesce"] = False
    if busy_poll_us is not None:  # (0, off, is a value)
        given["busy_poll_us"] = busy_poll_us
    if endpoint is not None:
        if model is not None or update_existing:
            raise UsageError("A deployment behind an endpoint takes an image; use rollout() to move an endpoint on.")
        if image is None:
            raise UsageError("Give the image to deploy behind the endpoint.")
        return _endpoints(workspace).deploy(name, image, endpoint, target, tags, **given)
    return _deployments(workspace).deploy(name, image, target, tags, model, update_existing, auth=auth, **given)


def get_deployment(name: str, *, workspace: WorkspaceArg = None) -> Deployment:
    """A deployment, its state refreshed from its target, with its event history."""
    return _deployments(workspace).get(name)


def list_deployments(*, model: str | None = None, image: str | None = None,
                     tags: dict[str, str | None] | list[str] | str | None = None, limit: int = 100, offset: int = 0,
                     refresh: bool = False, workspace: WorkspaceArg = None) -> DeploymentList:
    """Deployments newest first, whose image contains ``model`` (``NAME[:VERSION]``), of ``image``,
    with ``tags``. States are as last recorded (no probes); ``refresh=True`` asks each target."""
    return _deployments(workspace).list(model, image, tags, limit, offset, refresh)


def update_deployment(name: str, image: Image | str | None = None, *, model: str | None = None,
                      ready_timeout: float | None = None, workspace: WorkspaceArg = None) -> Deployment:
    """Move a deployment to another image; the old version serves until the new one is ready, and
    keeps serving (the failure recorded, with the log tail) if it never is.

    Without ``image``, a deployment that follows a model alias (``deploy(..., model="churn@champion")``)
    re-resolves it: it moves to the newest image of its image's name that holds the version the alias
    names now, and stays as it is when it serves that already. ``model`` changes what it follows."""
    return _deployments(workspace).update(name, image, ready_timeout, model)


def undeploy(name: str, *, workspace: WorkspaceArg = None) -> None:
    """Stop and remove a deployment. One behind an endpoint must have no traffic; it leaves the
    endpoint's routes before it stops."""
    _endpoints(workspace).undeploy(name)


def get_keys(name: str, *, workspace: WorkspaceArg = None) -> dict[str, str]:
    """The deployment's primary and secondary keys (shown only when asked for)."""
    return _deployments(workspace).get_keys(name)


def regen_key(name: str, key: str = "primary", *, workspace: WorkspaceArg = None) -> None:
    """Replace the primary or secondary key; the service accepts the new one within a second, no rebuild."""
    _deployments(workspace).regen_key(name, key)


def _endpoints(workspace: WorkspaceArg) -> EndpointService:
    return EndpointService(_ws(workspace))


def create_endpoint(
    name: str,
    *,
    target: str | None = None,
    auth: str = "key",
    host: str = "127.0.0.1",
    port: int | None = None,
    namespace: str | None = None,
    gateway: str | None = None,
    hostname: str | None = None,
    dry_run: bool = False,
    output_dir: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_ca: str | None = None,
    workspace: WorkspaceArg = None,
) -> Endpoint:
    """A stable scoring URI for deployments to stand behind (``deploy(..., endpoint=name)``).

    ``auth``: ``"key"`` (primary and secondary keys, :func:`get_endpoint_keys`), ``"token"`` (expiring
    tokens, :func:`get_token`) or ``"none"``. On ``process`` and ``docker`` targets nginx routes on
    ``port`` (a free one by default), with HTTPS when given ``tls_cert`` and ``tls_key`` (PEM files, as
    :func:`deploy` takes them; ``tls_ca`` is what clients and ``score()`` trust, the certificate itself
    by default): the scoring URI is then ``https://``. Its nginx is started again when the endpoint is
    used after a restart. On ``kubernetes`` a Gateway API HTTPRoute attached to ``gateway`` (``dry_run``
    writes it to ``output_dir`` beside the deployments' manifests)."""
    return _endpoints(workspace).create(name, target, auth, host, port, namespace, gateway, hostname, dry_run,
                                        output_dir, tls_cert, tls_key, tls_ca)


def get_endpoint(name: str, *, workspace: WorkspaceArg = None) -> Endpoint:
    """An endpoint: its traffic and mirror shares, the deployments behind it, the rollout and events."""
    return _endpoints(workspace).get(name)


def list_endpoints(*, limit: int = 100, offset: int = 0, workspace: WorkspaceArg = None) -> EndpointList:
    """Endpoints, newest first."""
    return _endpoints(workspace).list(limit, offset)


def delete_endpoint(name: str, *, workspace: WorkspaceArg = None) -> None:
    """Remove an endpoint with the deployments behind it, its proxy and its keys."""
    _endpoints(workspace).delete(name)


def set_traffic(endpoint: str, traffic: dict[str, int] | None = None, *, mirror: dict[str, int] | None = None,
                workspace: WorkspaceArg = None) -> Endpoint:
    """Live traffic shares by deployment (whole percentages summing to 100; those left out get 0) and
    a mirror share (at most 50 %, to one deployment with no live traffic; its answers are dropped).
    Only healthy deployments may receive either. Takes effect without dropping a request."""
    return _endpoints(workspace).set_traffic(endpoint, traffic, mirror)


def get_token(endpoint: str, *, expires_in: float = 3600.0, workspace: WorkspaceArg = None) -> Token:
    """An expiring token for an endpoint with token auth (``Authorization: Bearer <token.access_token>``);
    401 once it expires."""
    return _endpoints(workspace).token(endpoint, expires_in)


def get_endpoint_keys(endpoint: str, *, workspace: WorkspaceArg = None) -> dict[str, str]:
    """An endpoint's primary and secondary keys (key auth), shown only when asked for."""
    return _endpoints(workspace).keys(endpoint)


def regen_endpoint_key(endpoint: str, key: str = "primary", *, workspace: WorkspaceArg = None) -> None:
    """Replace an endpoint's primary or secondary key; every deployment behind it takes the new one within
    a second."""
    _endpoints(workspace).regen_key(endpoint, key)


def rollout(
    endpoint: str,
    image: Image | str | None = None,
    *,
    steps: list[int] | tuple[int, ...] = (10, 50, 100),
    interval: float | str = "1m",
    gates: dict[str, Any] | None = None,
    mirror: int = 50,
    deployment: str | None = None,
    resume: bool = False,
    echo: Callable[[str], None] | None = print,
    workspace: WorkspaceArg = None,
) -> RolloutResult:
    """Roll ``image`` out behind ``endpoint``, gated on live evidence, in the foreground.

    The new version is deployed beside the one taking all traffic (as ``deployment``, blue or green by
    default, collecting what it answers); it first gets ``mirror`` % of live traffic in the shadow, then
    ``steps`` % of it. After each ``interval`` (seconds or "30s", "1m") it is compared with the current
    version on what both collected: error rate, p99 latency, PSI of their predictions for the same
    traffic, input drift (``gates`` sets the limits: see ``jupyter_mlops.endpoints.gates.Gates``).
    Every gate holding at every step promotes it (the old deployment is removed); one failing sends it
    back to 0 %. Each step's figures are endpoint events. ``resume=True`` picks up a rollout whose process
    was stopped; :func:`abort_rollout` stops one."""
    runner = Rollout(_endpoints(workspace), endpoint, echo)
    if resume:
        return runner.resume()
    if image is None:
        raise UsageError("rollout needs the image to roll out (or resume=True).")
    return runner.start(image, list(steps), interval, gates, mirror, deployment)


def follow_rollout(endpoint: str, *, echo: Callable[[str], None] = print, workspace: WorkspaceArg = None) -> Endpoint:
    """Print the events of a rollout running in another process as they come, until it ends."""
    follow(_endpoints(workspace), endpoint, echo)
    return get_endpoint(endpoint, workspace=workspace)


def abort_rollout(endpoint: str, *, workspace: WorkspaceArg = None) -> Endpoint:
    """Stop the endpoint's rollout: the new version goes back to 0 %, the current takes all traffic."""
    Rollout(_endpoints(workspace), endpoint).abort()
    return get_endpoint(endpoint, workspace=workspace)


def serve(
    models: list[Model | str] | Model | str,
    *,
    script: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    auth_keys: list[str] | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    max_batch_size: int = 0,
    max_batch_delay_ms: float = 2.0,
    coalesce: bool = True,
    busy_poll_us: int | None = None,
    timeout: float = 60.0,
    foreground: bool = False,
    workspace: WorkspaceArg = None,
) -> LocalServer:
    """Serve registered models from a local subprocess (no Docker); returns once it is ready, on a
    free port unless ``port`` says otherwise. ``svc.score(data)`` scores, ``svc.stop()`` stops.

    ``foreground=True`` serves in this process until stopped (the CLI; default port 5001) and takes
    keys from ``$MLOPS_AUTH_KEYS`` too. For a named, listed and updatable service, use :func:`deploy`.
    ``coalesce``: as in :func:`deploy`. ``busy_poll_us``: after answering a client alone on a worker,
    how long the worker polls for its next request before it sleeps (250 by default: faster for a
    client that calls in series, at up to that much CPU per request; 0: off)."""
    from .local_server import serve_models

    return serve_models(
        _ws(workspace), [models] if isinstance(models, (str, Model)) else list(models), script, host=host, port=port,
        workers=workers, auth_keys=list(auth_keys or []), tls_cert=tls_cert, tls_key=tls_key,
        max_batch_size=max_batch_size, max_batch_delay_ms=max_batch_delay_ms, coalesce=coalesce,
        scoring_timeout_s=timeout, foreground=foreground,
        **({} if busy_poll_us is None else {"busy_poll_us": parse_int(busy_poll_us, "busy_poll_us")}),
    )


def get_workspace(workspace: WorkspaceArg = None) -> Workspace:
    """The workspace in use (or the one named), with ``source`` saying why it was chosen."""
    return _ws(workspace)


# --- notebook panels (jupyter_mlops.widgets; ``mlops.ui``) ---------------------------------------------
def _build_panel(name: str) -> BuildLog | None:
    """The BuildLog panel, shown, when this runs in a notebook kernel; None elsewhere (the widgets,
    an adapter, are imported only inside a kernel: the one hand-off from the API to a panel)."""
    if "ipykernel" not in sys.modules:
        return None
    from .widgets.build_log import BuildLog

    return BuildLog.in_notebook(name)


def _live_dashboard(deployment: str, since: str | None, threshold: float, interval: float,
                    workspace: WorkspaceArg) -> LiveDashboard:
    from .widgets.live_dashboard import LiveDashboard

    return LiveDashboard(deployment, since=since or "1h", threshold=threshold, interval=interval,
                         workspace=workspace)
