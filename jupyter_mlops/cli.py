"""``jupyter-mlops``: the command line for CI. Thin: parse, call the API, print text or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import api
from .display import text_table
from .errors import MlopsError
from .names import parse_exact_ref, parse_ref

Handler = Callable[[argparse.Namespace], Any]


def _emit(args: argparse.Namespace, result: Any) -> None:
    if result is None:
        return
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(result), indent=2, default=str))
    elif isinstance(result, list):
        print(text_table([r.summary() for r in result]))
        if getattr(result, "has_more", False):
            print(f"(more: --offset {result.offset + len(result)})")
    elif hasattr(result, "summary"):
        print(text_table([result.summary()]))
    elif isinstance(result, dict):
        print(text_table([result]))
    else:
        print(result)


def _jsonable(result: Any) -> Any:
    if isinstance(result, list):
        return [_jsonable(r) for r in result]
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result


# --- workspace ---------------------------------------------------------------------------------
def cmd_workspace(args: argparse.Namespace) -> Any:
    return api.get_workspace(args.workspace).describe()


# --- models ------------------------------------------------------------------------------------
def cmd_models_register(args: argparse.Namespace) -> Any:
    return api.register_model(
        args.path, args.name, args.tag, args.property, args.description, args.framework,
        progress=False if args.json else None, workspace=args.workspace,
    )


def cmd_models_list(args: argparse.Namespace) -> Any:
    return api.list_models(
        args.name, args.tag, args.property, args.latest,
        limit=args.limit, offset=args.offset, workspace=args.workspace,
    )


def cmd_models_show(args: argparse.Namespace) -> Any:
    ref = parse_ref(args.ref)
    return api.get_model(ref.name, ref.version, workspace=args.workspace)


def cmd_models_download(args: argparse.Namespace) -> Any:
    path = api.download_model(args.ref, args.dir, exist_ok=args.overwrite, workspace=args.workspace)
    return {"path": str(path)}


def cmd_models_delete(args: argparse.Namespace) -> Any:
    ref = parse_exact_ref(args.ref)
    api.delete_model(ref.name, ref.version, workspace=args.workspace)
    return {"deleted": str(ref)}


def _models_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    models = sub.add_parser("models", help="the model registry").add_subparsers(dest="action", required=True)
    p = models.add_parser("register", parents=[common], help="register a file or folder")
    p.add_argument("path")
    p.add_argument("--name", "-n", required=True)
    p.add_argument("--tag", "-t", action="append", default=[], metavar="K=V")
    p.add_argument("--property", "-p", action="append", default=[], metavar="K=V")
    p.add_argument("--description", "-d")
    p.add_argument("--framework", "-f", choices=["onnx", "sklearn", "custom"])
    p.set_defaults(handler=cmd_models_register)
    p = models.add_parser("list", parents=[common], help="list models, newest first")
    p.add_argument("name", nargs="?")
    p.add_argument("--tag", "-t", action="append", default=[], metavar="FILTER")
    p.add_argument("--property", "-p", action="append", default=[], metavar="FILTER")
    p.add_argument("--latest", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(handler=cmd_models_list)
    p = models.add_parser("show", parents=[common], help="one model version")
    p.add_argument("ref", metavar="NAME[:VERSION]")
    p.set_defaults(handler=cmd_models_show)
    p = models.add_parser("download", parents=[common], help="write a model's files")
    p.add_argument("ref", metavar="NAME[:VERSION]")
    p.add_argument("--dir", default=".")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=cmd_models_download)
    p = models.add_parser("delete", parents=[common], help="delete one version")
    p.add_argument("ref", metavar="NAME:VERSION")
    p.set_defaults(handler=cmd_models_delete)


# --- images ------------------------------------------------------------------------------------
def cmd_images_build(args: argparse.Namespace) -> Any:
    echo = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    return api.build_image(
        args.name, args.model, args.script, args.requirements, args.base_image, args.tag, args.description,
        docker=False if args.no_docker else None, progress=False, echo=echo, workspace=args.workspace,
    )


def cmd_images_list(args: argparse.Namespace) -> Any:
    return api.list_images(args.name, args.tag, args.model, limit=args.limit, offset=args.offset,
                           workspace=args.workspace)


def cmd_images_show(args: argparse.Namespace) -> Any:
    ref = parse_ref(args.ref, "image")
    image = api.get_image(ref.name, ref.version, workspace=args.workspace)
    if args.log and not args.json:
        print(image.build_log or "")
    return image


def cmd_images_delete(args: argparse.Namespace) -> Any:
    ref = parse_exact_ref(args.ref, "image")
    api.delete_image(ref.name, ref.version, workspace=args.workspace)
    return {"deleted": str(ref)}


def _images_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    images = sub.add_parser("images", help="build and manage images").add_subparsers(dest="action", required=True)
    p = images.add_parser("build", parents=[common], help="build and register an image")
    p.add_argument("name")
    p.add_argument("--model", "-m", action="append", required=True, metavar="NAME[:VERSION]")
    p.add_argument("--script", "-s")
    p.add_argument("--requirements", "-r")
    p.add_argument("--base-image")
    p.add_argument("--tag", "-t", action="append", default=[], metavar="K=V")
    p.add_argument("--description", "-d")
    p.add_argument("--no-docker", action="store_true", help="write the build context only")
    p.set_defaults(handler=cmd_images_build)
    p = images.add_parser("list", parents=[common], help="list images, newest first")
    p.add_argument("name", nargs="?")
    p.add_argument("--tag", "-t", action="append", default=[], metavar="FILTER")
    p.add_argument("--model", "-m")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--offset", type=int, default=0)
    p.set_defaults(handler=cmd_images_list)
    p = images.add_parser("show", parents=[common], help="one image version")
    p.add_argument("ref", metavar="NAME[:VERSION]")
    p.add_argument("--log", action="store_true", help="print the build log")
    p.set_defaults(handler=cmd_images_show)
    p = images.add_parser("delete", parents=[common], help="delete one version")
    p.add_argument("ref", metavar="NAME:VERSION")
    p.set_defaults(handler=cmd_images_delete)


# --- deployments -------------------------------------------------------------------------------
def cmd_deploy(args: argparse.Namespace) -> Any:
    from .magics import parse_autoscale

    return api.deploy(
        args.name, args.image, args.target, args.port, not args.no_auth, args.tls_cert, args.tls_key, args.replicas,
        args.cpu, args.memory, parse_autoscale(args.autoscale), args.tag, dry_run=args.dry_run,
        output_dir=args.output_dir, namespace=args.namespace, registry=args.registry, collect=args.collect,
        sample_rate=args.sample_rate, workspace=args.workspace,
    )


def cmd_deployments_list(args: argparse.Namespace) -> Any:
    return api.list_deployments(args.model, args.image, args.tag, workspace=args.workspace)


def cmd_deployments_show(args: argparse.Namespace) -> Any:
    dep = api.get_deployment(args.name, workspace=args.workspace)
    if not args.json:
        for event in dep.events[-10:]:
            print(repr(event))
        print(dep.logs(args.lines))
    return dep


def cmd_deployments_update(args: argparse.Namespace) -> Any:
    return api.update_deployment(args.name, args.image, workspace=args.workspace)


def cmd_deployments_delete(args: argparse.Namespace) -> Any:
    api.undeploy(args.name, workspace=args.workspace)
    return {"deleted": args.name}


def cmd_deployments_keys(args: argparse.Namespace) -> Any:
    return api.get_keys(args.name, workspace=args.workspace)


def cmd_deployments_regen_key(args: argparse.Namespace) -> Any:
    api.regen_key(args.name, args.key, workspace=args.workspace)
    return {"regenerated": args.key}


def cmd_deployments_score(args: argparse.Namespace) -> Any:
    data = json.loads(sys.stdin.read() if args.data == "-" else args.data)
    return api.get_deployment(args.name, workspace=args.workspace).score(data)


def _deploy_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("deploy", parents=[common], help="deploy an image as a scoring service")
    p.add_argument("name")
    p.add_argument("--image", "-i", required=True, metavar="IMAGE[:VERSION]")
    p.add_argument("--target", "-T")
    p.add_argument("--port", type=int)
    p.add_argument("--no-auth", action="store_true")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--cpu")
    p.add_argument("--memory")
    p.add_argument("--autoscale", metavar="MIN:MAX[:CPU%]")
    p.add_argument("--dry-run", action="store_true", help="kubernetes: write the manifests only")
    p.add_argument("--output-dir")
    p.add_argument("--namespace", default="default")
    p.add_argument("--registry", help="image registry prefix (kubernetes)")
    p.add_argument("--collect", action="store_true", help="collect inputs, outputs and latency")
    p.add_argument("--sample-rate", type=float, default=1.0)
    p.add_argument("--tag", "-t", action="append", default=[], metavar="K=V")
    p.set_defaults(handler=cmd_deploy)
    deps = sub.add_parser("deployments", help="find, update, secure, remove deployments").add_subparsers(
        dest="action", required=True)
    p = deps.add_parser("list", parents=[common])
    p.add_argument("--model", "-m")
    p.add_argument("--image", "-i")
    p.add_argument("--tag", "-t", action="append", default=[], metavar="FILTER")
    p.set_defaults(handler=cmd_deployments_list)
    p = deps.add_parser("show", parents=[common], help="state, URIs, events, log tail")
    p.add_argument("name")
    p.add_argument("--lines", type=int, default=20)
    p.set_defaults(handler=cmd_deployments_show)
    p = deps.add_parser("update", parents=[common], help="move to another image, safely")
    p.add_argument("name")
    p.add_argument("--image", "-i", required=True)
    p.set_defaults(handler=cmd_deployments_update)
    p = deps.add_parser("delete", parents=[common])
    p.add_argument("name")
    p.set_defaults(handler=cmd_deployments_delete)
    p = deps.add_parser("keys", parents=[common], help="print the keys")
    p.add_argument("name")
    p.set_defaults(handler=cmd_deployments_keys)
    p = deps.add_parser("regen-key", parents=[common])
    p.add_argument("name")
    p.add_argument("key", choices=["primary", "secondary"])
    p.set_defaults(handler=cmd_deployments_regen_key)
    p = deps.add_parser("score", parents=[common], help="score JSON data (or - for stdin)")
    p.add_argument("name")
    p.add_argument("data")
    p.set_defaults(handler=cmd_deployments_score)


# --- monitoring --------------------------------------------------------------------------------
def cmd_monitor(args: argparse.Namespace) -> Any:
    board = api.dashboard(args.name, args.since, threshold=args.threshold, workspace=args.workspace)
    out: dict[str, Any] = {"deployment": args.name, "rows": len(board.data), "drifted": board.drifted_features}
    if args.html:
        out["html"] = str(board.to_html(args.html))
    if args.csv:
        board.data.to_csv(args.csv, index=False)
        out["csv"] = args.csv
    return out


def _monitor_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("monitor", parents=[common], help="dashboard of a deployment's collected data")
    p.add_argument("name")
    p.add_argument("--since", default="1h")
    p.add_argument("--threshold", type=float, default=0.2, help="PSI above which a feature counts as drifted")
    p.add_argument("--html", help="write the dashboard to this HTML file")
    p.add_argument("--csv", help="write the collected data to this CSV file")
    p.set_defaults(handler=cmd_monitor)


# --- serve -------------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> Any:
    import os

    from .appdir import resolve_models, serve_app_dir
    from .serving.server import serve

    ws = api.get_workspace(args.workspace)
    models = resolve_models(ws, args.model)
    keys = list(args.auth_key) + [k for k in os.environ.get("MLOPS_AUTH_KEYS", "").split(",") if k]
    config = serve_app_dir(
        ws, models, args.script,
        host=args.host, port=args.port, workers=args.workers, auth=bool(keys),
        tls_cert=args.tls_cert, tls_key=args.tls_key, max_batch_size=args.max_batch_size,
        max_batch_delay_ms=args.max_batch_delay_ms, scoring_timeout_s=args.timeout,
    )
    config.auth_keys = keys
    raise SystemExit(serve(config))


def _serve_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve registered models over HTTP (foreground)")
    p.add_argument("--model", "-m", action="append", required=True, metavar="NAME[:VERSION]")
    p.add_argument("--script", "-s", help="scoring script with init() and run(data)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5001, help="0 picks a free port")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument("--auth-key", action="append", default=[], metavar="KEY",
                   help="accepted bearer key (repeatable; $MLOPS_AUTH_KEYS keeps keys off the process list)")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--max-batch-size", type=int, default=0, help="adaptive batching: rows per run (0: off)")
    p.add_argument("--max-batch-delay-ms", type=float, default=2.0)
    p.add_argument("--timeout", type=float, default=60.0, help="scoring timeout in seconds")
    p.set_defaults(handler=cmd_serve)


PARSER_BUILDERS: list[Callable[[Any, argparse.ArgumentParser], None]] = [_models_parser, _images_parser, _deploy_parser, _monitor_parser, _serve_parser]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", "-w", help="workspace folder or config file")
    common.add_argument("--json", action="store_true", help="print JSON")
    parser = argparse.ArgumentParser(prog="jupyter-mlops", description="Manage, deploy and monitor models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("workspace", parents=[common], help="show the workspace in use and why")
    p.set_defaults(handler=cmd_workspace)
    for build in PARSER_BUILDERS:
        build(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _emit(args, args.handler(args))
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
