"""Endpoint commands: ``jupyter-mlops endpoints create|list|show|traffic|rollout|delete|keys|token|regen-key``
and ``%create_endpoint``, ``%endpoints``, ``%endpoint``, ``%traffic``, ``%rollout``, ``%delete_endpoint``.
Keys and tokens have no magic: they stay out of notebook outputs."""

from __future__ import annotations

from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..errors import UsageError
from ..names import parse_float, parse_int, parse_pairs, parse_share, parse_steps
from . import options
from .spec import Command, Done, Invocation, Option


def _create(inv: Invocation, a: Namespace) -> Any:
    return api.create_endpoint(a.name, target=a.target, auth=a.auth, host=a.host, port=a.port, namespace=a.namespace,
                               gateway=a.gateway, hostname=a.hostname, dry_run=a.dry_run, output_dir=a.output_dir,
                               tls_cert=a.tls_cert, tls_key=a.tls_key, tls_ca=a.tls_ca, workspace=inv.workspace)


def _list(inv: Invocation, a: Namespace) -> Any:
    return api.list_endpoints(limit=a.limit, offset=a.offset, workspace=inv.workspace)


def _show(inv: Invocation, a: Namespace) -> Any:
    ep = api.get_endpoint(a.name, workspace=inv.workspace)
    inv.echo(f"{ep.name}: {ep.state} on {ep.target}, {ep.auth} auth, scoring URI {ep.scoring_uri}")
    for name, info in sorted(ep.deployments.items()):
        inv.echo(f"  {name}: {ep.traffic.get(name, 0)}% live, {ep.mirror.get(name, 0)}% mirrored, "
                 f"image {info['image']}, {info['state']}")
    if ep.rollout:
        inv.echo(f"rollout: {ep.rollout.get('image')} as {ep.rollout.get('new')}: {ep.rollout.get('status')}")
    for event in ep.events[-10:]:
        inv.echo(f"  {event!r}")
    return ep


def _traffic(inv: Invocation, a: Namespace) -> Any:
    traffic = dict(a.shares) if a.shares else None
    mirror = {} if a.no_mirror else (dict(a.mirror) if a.mirror else None)
    if traffic is None and mirror is None:
        raise UsageError("Give shares (blue=90 green=10), --mirror DEPLOYMENT=PERCENT or --no-mirror.")
    return api.set_traffic(a.name, traffic, mirror=mirror, workspace=inv.workspace)


def _gates(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_pairs(pairs, "gate").items():
        out[key] = parse_int(value, what=key) if key == "min_requests" else parse_float(value, what=key)
    return out


def _rollout(inv: Invocation, a: Namespace) -> Any:
    if a.abort:
        ep = api.abort_rollout(a.name, workspace=inv.workspace)
        return Done(f"Aborted the rollout of {a.name}: {_current(ep.traffic)} takes all traffic.",
                    {"aborted": a.name})
    if a.follow:
        return api.follow_rollout(a.name, echo=inv.echo, workspace=inv.workspace)
    if not a.resume and not a.image:
        raise UsageError("rollout needs --image (or --resume, --abort, --follow).")
    return api.rollout(a.name, a.image, steps=a.steps, interval=a.interval, gates=_gates(a.gates), mirror=a.mirror,
                       deployment=a.deployment, resume=a.resume, echo=inv.echo, workspace=inv.workspace)


def _current(traffic: dict[str, int]) -> str:
    return next((d for d, p in traffic.items() if p == 100), "the current deployment")


def _delete(inv: Invocation, a: Namespace) -> Any:
    api.delete_endpoint(a.name, workspace=inv.workspace)
    return Done(f"Removed endpoint {a.name} and the deployments behind it.", {"deleted": a.name})


def _keys(inv: Invocation, a: Namespace) -> Any:
    return api.get_endpoint_keys(a.name, workspace=inv.workspace)


def _token(inv: Invocation, a: Namespace) -> Any:
    return api.get_token(a.name, expires_in=a.expires_in, workspace=inv.workspace).to_dict()


def _regen(inv: Invocation, a: Namespace) -> Any:
    api.regen_endpoint_key(a.name, a.key, workspace=inv.workspace)
    return Done(f"Regenerated the {a.key} key of endpoint {a.name}.", {"regenerated": a.key})


def name() -> Option:
    return Option("name", (), "endpoint name", complete="endpoint")


_port = partial(parse_int, what="port", minimum=0)

COMMANDS = (
    Command(("endpoints", "create"), "Create an endpoint: a stable scoring URI for deployments to stand behind.", (
        name(),
        Option("target", ("--target", "-T"), "process or docker (nginx on this machine), or kubernetes (Gateway API)",
               complete="target"),
        Option("auth", ("--auth",), "key (default), token (expiring tokens) or none", choices=("key", "token", "none"),
               default="key"),
        Option("host", ("--host",), "address nginx listens on (default 127.0.0.1)", default="127.0.0.1"),
        Option("port", ("--port",), "port (default: a free one)", parse=_port),
        Option("tls_cert", ("--tls-cert",), "certificate file (PEM): nginx answers HTTPS", complete="path"),
        Option("tls_key", ("--tls-key",), "private key file (PEM)", complete="path"),
        Option("tls_ca", ("--tls-ca",), "CA file clients trust (default: the certificate)", complete="path"),
        Option("namespace", ("--namespace",), "namespace of the HTTPRoute (kubernetes)"),
        Option("gateway", ("--gateway",), "the Gateway the HTTPRoute attaches to (kubernetes; default mlops-gateway)"),
        Option("hostname", ("--hostname",), "host name the route answers (kubernetes)"),
        Option("dry_run", ("--dry-run",), "write the HTTPRoute only (kubernetes)", switch=True, default=False),
        Option("output_dir", ("--output-dir",), "where the manifests go (kubernetes)", complete="path"),
    ), _create, magic="create_endpoint"),
    Command(("endpoints", "list"), "List endpoints.", options.page(), _list, magic="endpoints"),
    Command(("endpoints", "show"), "Traffic, mirror, deployments, rollout and recent events of an endpoint.",
            (name(),), _show, magic="endpoint"),
    Command(("endpoints", "traffic"), "Set an endpoint's live traffic shares and its mirror share.", (
        name(),
        Option("shares", (), "DEPLOYMENT=PERCENT ... summing to 100 (those left out get 0)", parse=parse_share,
               many=True, optional=True, metavar="DEPLOYMENT=PERCENT"),
        Option("mirror", ("--mirror",), "copy this share of live traffic to a deployment, answers dropped (at most 50)",
               parse=parse_share, many=True, default=[], metavar="DEPLOYMENT=PERCENT"),
        Option("no_mirror", ("--no-mirror",), "stop mirroring", switch=True, default=False),
    ), _traffic, magic="traffic"),
    Command(("endpoints", "rollout"), "Roll an image out behind an endpoint, step by step, gated on live evidence.", (
        name(),
        Option("image", ("--image", "-i"), "image to roll out: NAME or NAME:VERSION", metavar="IMAGE[:VERSION]",
               complete="image_ref"),
        Option("steps", ("--steps",), "live traffic shares, in order (default 10,50,100)", parse=parse_steps,
               default=[10, 50, 100], metavar="10,50,100"),
        Option("interval", ("--interval",), "time per step: seconds or 30s, 1m (default 1m)", default="1m"),
        Option("mirror", ("--mirror",), "shadow step first: this share of traffic mirrored (0: none; default 50)",
               parse=partial(parse_int, what="mirror"), default=50),
        Option("gates", ("--gate",), "a gate limit K=V (repeatable), e.g. max_error_rate_increase=0.02", many=True,
               default=[], metavar="K=V"),
        Option("deployment", ("--deployment",), "name of the new deployment (default: blue or green)"),
        Option("resume", ("--resume",), "resume a rollout whose process was stopped", switch=True, default=False),
        Option("abort", ("--abort",), "abort the running rollout: back to the current version", switch=True,
               default=False),
        Option("follow", ("--follow",), "follow a rollout running elsewhere until it ends", switch=True,
               default=False),
    ), _rollout, magic="rollout"),
    Command(("endpoints", "delete"), "Remove an endpoint with the deployments behind it.", (name(),), _delete,
            magic="delete_endpoint"),
    Command(("endpoints", "keys"), "Print an endpoint's keys (key auth).", (name(),), _keys),
    Command(("endpoints", "token"), "Print an expiring token for an endpoint (token auth).", (
        name(),
        Option("expires_in", ("--expires-in",), "seconds the token is valid (default 3600)",
               parse=partial(parse_float, what="expires-in"), default=3600.0),
    ), _token),
    Command(("endpoints", "regen-key"), "Replace an endpoint's primary or secondary key.", (
        name(),
        Option("key", (), "which key", choices=("primary", "secondary"), optional=True, default="primary"),
    ), _regen),
)
