"""Deployment commands: ``jupyter-mlops deploy``, ``jupyter-mlops deployments ...`` and ``%deploy``,
``%deployments``, ``%deployment``, ``%update_deployment``, ``%score``, ``%undeploy``, ``%regen_key``."""

from __future__ import annotations

import json
from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..errors import UsageError
from ..names import parse_autoscale, parse_float, parse_int
from . import options
from .spec import Command, Done, Invocation, Option

_port = partial(parse_int, what="port", minimum=0)
_count = partial(parse_int, what="count", minimum=1)
_seconds = partial(parse_float, what="seconds")


def _deploy(inv: Invocation, a: Namespace) -> Any:
    settings = {k: v for k, v in vars(a).items()
                if k not in ("name", "image", "no_auth", "no_coalesce", "busy_poll_us") and v not in (None, False)}
    return api.deploy(a.name, a.image, auth=not a.no_auth, coalesce=not a.no_coalesce, busy_poll_us=a.busy_poll_us,
                      workspace=inv.workspace, **settings)


def _list(inv: Invocation, a: Namespace) -> Any:
    return api.list_deployments(model=a.model, image=a.image, tags=a.tags, limit=a.limit, offset=a.offset,
                                refresh=a.refresh, workspace=inv.workspace)


def _show(inv: Invocation, a: Namespace) -> Any:
    dep = api.get_deployment(a.name, workspace=inv.workspace)
    inv.echo(f"{dep.name}: {dep.state} on {dep.target}, image {dep.image}")
    inv.echo(f"scoring URI: {dep.scoring_uri}\nswagger URI: {dep.swagger_uri}")
    for event in dep.events[-10:]:
        inv.echo(f"  {event!r}")
    tail = dep.logs(a.lines) if a.lines else ""
    if tail:
        inv.echo("log tail:\n" + tail)
    return dep


def _update(inv: Invocation, a: Namespace) -> Any:
    return api.update_deployment(a.name, a.image, model=a.model, ready_timeout=a.ready_timeout,
                                 workspace=inv.workspace)


def _delete(inv: Invocation, a: Namespace) -> Any:
    api.undeploy(a.name, workspace=inv.workspace)
    return Done(f"Removed deployment {a.name}.", {"deleted": a.name})


def _keys(inv: Invocation, a: Namespace) -> Any:
    return api.get_keys(a.name, workspace=inv.workspace)


def _regen(inv: Invocation, a: Namespace) -> Any:
    api.regen_key(a.name, a.key, workspace=inv.workspace)
    return Done(f"Regenerated the {a.key} key of {a.name}.", {"regenerated": a.key})


def parse_data(value: Any) -> Any:
    """JSON text (a bare payload or a whole ``{"data": ...}`` body) or an already parsed value."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise UsageError(f"Invalid JSON {value[:40]!r}: {exc}.") from None


def _score(inv: Invocation, a: Namespace) -> Any:
    return api.get_deployment(a.name, workspace=inv.workspace).score(a.data)


IMAGE = Option("image", ("--image", "-i"), "image: NAME:VERSION, or NAME for its newest that holds --model",
               metavar="IMAGE[:VERSION]", complete="image_ref")
MODEL = Option("model", ("--model", "-m"), "follow this model alias (NAME@ALIAS): serve the newest image holding the "
               "version it names, and move with it on updates", metavar="NAME@ALIAS", complete="model_ref")
READY_TIMEOUT = Option("ready_timeout", ("--ready-timeout",), "seconds to wait for the new version to be ready",
                       parse=_seconds, metavar="SECONDS")

DEPLOY_OPTIONS = (
    Option("name", (), "deployment name", complete="deployment"), IMAGE, MODEL,
    Option("update_existing", ("--update-existing",), "update NAME if it exists (its target and settings as given)",
           switch=True, default=False),
    Option("target", ("--target", "-T"), "process, docker, kubernetes, edge or a plugin (default: the workspace's)",
           complete="target"),
    Option("port", ("--port",), "port (default: a free one)", parse=_port),
    Option("host", ("--host",), "address to listen on (process, docker; default 127.0.0.1)"),
    Option("workers", ("--workers",), "server worker processes", parse=_count),
    Option("no_auth", ("--no-auth",), "no keys: anyone who reaches the port may score", switch=True, default=False),
    Option("tls_cert", ("--tls-cert",), "certificate file (PEM)", complete="path"),
    Option("tls_key", ("--tls-key",), "private key file (PEM)", complete="path"),
    Option("replicas", ("--replicas",), "replicas (kubernetes)", parse=_count),
    Option("cpu", ("--cpu",), "CPU limit, e.g. 500m (docker, kubernetes)"),
    Option("memory", ("--memory",), "memory limit, e.g. 512Mi (docker, kubernetes)"),
    Option("autoscale", ("--autoscale",), "horizontal autoscaling MIN:MAX[:CPU%] (kubernetes)", parse=parse_autoscale,
           metavar="MIN:MAX[:CPU%]"),
    Option("namespace", ("--namespace",), "namespace (kubernetes)"),
    Option("registry", ("--registry",), "image registry prefix (kubernetes, edge)"),
    Option("ingress_host", ("--ingress-host",), "host name of the TLS Ingress (kubernetes)"),
    Option("dry_run", ("--dry-run",), "write the manifests only (kubernetes)", switch=True, default=False),
    Option("output_dir", ("--output-dir",), "where manifests or the edge bundle go", complete="path"),
    Option("collect", ("--collect",), "collect inputs, outputs and latency", switch=True, default=False),
    Option("sample_rate", ("--sample-rate",), "share of requests to collect, in (0, 1]",
           parse=partial(parse_float, what="sample rate")),
    options.no_coalesce(), options.busy_poll(), READY_TIMEOUT, options.tags(),
    Option("endpoint", ("--endpoint",), "deploy behind this endpoint, with its keys (no traffic until set)",
           complete="endpoint"),
)

COMMANDS = (
    Command(("deploy",), "Deploy an image as an HTTP scoring service.", DEPLOY_OPTIONS, _deploy, magic="deploy"),
    Command(("deployments", "list"), "List deployments (their recorded state; --refresh probes them).", (
        Option("model", ("--model", "-m"), "only deployments whose image contains this model (NAME, NAME:VERSION or "
               "NAME@ALIAS)", complete="model_ref"),
        Option("image", ("--image", "-i"), "only deployments of this image (NAME or NAME:VERSION)",
               complete="image_ref"),
        options.tag_filters(), *options.page(),
        Option("refresh", ("--refresh",), "probe each deployment for its live state", switch=True, default=False),
    ), _list, magic="deployments"),
    Command(("deployments", "show"), "State, URIs, recent events and the log tail of a deployment.", (
        options.deployment_name(),
        Option("lines", ("--lines",), "log lines to show", parse=partial(parse_int, what="lines"), default=20),
        options.panel("the deployment"),
    ), _show, magic="deployment"),
    Command(("deployments", "update"), "Move a deployment to another image (or to what the alias it follows names "
            "now): the old serves until the new is ready.",
            (options.deployment_name(), IMAGE, MODEL, READY_TIMEOUT), _update, magic="update_deployment"),
    Command(("deployments", "delete"), "Stop and remove a deployment.", (options.deployment_name(),), _delete,
            magic="undeploy"),
    Command(("deployments", "keys"), "Print a deployment's keys.", (options.deployment_name(),), _keys),
    Command(("deployments", "regen-key"), "Replace a deployment's primary or secondary key.", (
        options.deployment_name(),
        Option("key", (), "which key", choices=("primary", "secondary"), optional=True, default="primary"),
    ), _regen, magic="regen_key"),
    Command(("deployments", "score"), "Score data with a deployment: JSON data or a whole {\"data\": ...} body.", (
        options.deployment_name(),
        Option("data", (), "JSON (- reads standard input; in a notebook, a variable name works too)", rest=True,
               parse=parse_data, required=True),
    ), _score, magic="score"),
)
