"""IPython magics: thin adapters that parse a line, call the API and return a result object.

An :class:`~jupyter_mlops.errors.MlopsError` becomes IPython's ``UsageError``: one line, no
traceback, and a papermill run still fails. ``-o/--out NAME`` binds the result in the notebook.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Unicode
from traitlets.config import Configurable

from . import api
from .errors import MlopsError
from .names import parse_exact_ref, parse_ref


def _adapter(func: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the line (answering --help), turn MlopsError into UsageError, bind -o."""

    @functools.wraps(func)
    def wrapper(self: MlopsMagics, line: str = "") -> Any:
        if any(tok in ("-h", "--help") for tok in line.split()):
            print(wrapper.parser.format_help())  # type: ignore[attr-defined]
            return None
        args = parse_argstring(wrapper, line)
        try:
            result = func(self, args)
        except MlopsError as exc:
            raise UsageError(str(exc)) from None
        out = getattr(args, "out", None)
        if out:
            if not out.isidentifier():
                raise UsageError(f"Invalid -o name {out!r}: it must be a Python identifier.")
            self.shell.user_ns[out] = result
        return result

    return wrapper


def out_arg(func: Callable[..., Any]) -> Callable[..., Any]:
    return argument("-o", "--out", metavar="VAR", help="store the result in this variable")(func)


@magics_class
class MlopsMagics(Magics, Configurable):
    """Registry, image, deployment and monitoring magics over :mod:`jupyter_mlops.api`."""

    workspace = Unicode(
        None, allow_none=True, config=True,
        help="Workspace path or config file; unset means automatic resolution.",
    ).tag(config=True)
    progress = Bool(
        None, allow_none=True, help="Show progress bars: True, False, or None for large transfers only."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)

    @property
    def _ws(self) -> Any:
        return self.workspace or None

    @line_magic
    @magic_arguments()
    @argument("path", help="model file or folder")
    @argument("--name", "-n", required=True, help="model name")
    @argument("--tag", "-t", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    @argument("--property", "-p", action="append", default=[], metavar="K=V", help="property (repeatable)")
    @argument("--description", "-d", help="description")
    @argument("--framework", "-f", help="onnx, sklearn or custom (detected when omitted)")
    @out_arg
    @_adapter
    def register_model(self, args: Any) -> Any:
        """Register a model file or folder as the next version of NAME."""
        return api.register_model(
            _unquote(args.path), args.name, args.tag, args.property, _unquote(args.description),
            args.framework, progress=self.progress, workspace=self._ws,
        )

    @line_magic
    @magic_arguments()
    @argument("name", nargs="?", help="only versions of this model")
    @argument("--tag", "-t", action="append", default=[], metavar="FILTER", help="key or key=value (repeatable)")
    @argument("--property", "-p", action="append", default=[], metavar="FILTER", help="key or key=value")
    @argument("--latest", action="store_true", help="only the latest version of each model")
    @argument("--limit", type=int, default=100, help="page size")
    @argument("--offset", type=int, default=0, help="skip this many")
    @out_arg
    @_adapter
    def models(self, args: Any) -> Any:
        """List registered models, newest first."""
        return api.list_models(
            args.name, args.tag, args.property, args.latest,
            limit=args.limit, offset=args.offset, workspace=self._ws,
        )

    @line_magic
    @magic_arguments()
    @argument("ref", help="NAME or NAME:VERSION")
    @out_arg
    @_adapter
    def model(self, args: Any) -> Any:
        """Show one model version (the latest when no version is given)."""
        ref = parse_ref(args.ref)
        return api.get_model(ref.name, ref.version, workspace=self._ws)

    @line_magic
    @magic_arguments()
    @argument("ref", help="NAME:VERSION")
    @_adapter
    def delete_model(self, args: Any) -> Any:
        """Delete one model version (refused while an image uses it)."""
        ref = parse_exact_ref(args.ref)
        api.delete_model(ref.name, ref.version, workspace=self._ws)
        print(f"Deleted model {ref}.")

    @line_magic
    @magic_arguments()
    @argument("name", help="image name")
    @argument("--model", "-m", action="append", required=True, metavar="NAME[:VERSION]", help="model (repeatable)")
    @argument("--script", "-s", help="scoring script with init() and run(data)")
    @argument("--requirements", "-r", help="pip requirements file")
    @argument("--base-image", help="base image (default: the workspace's)")
    @argument("--tag", "-t", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    @argument("--description", "-d", help="description")
    @argument("--no-docker", action="store_true", help="write the build context only")
    @out_arg
    @_adapter
    def build_image(self, args: Any) -> Any:
        """Build a Docker image of models, script, requirements and the inference server."""
        return api.build_image(
            args.name, args.model, _unquote(args.script), _unquote(args.requirements), args.base_image,
            args.tag, _unquote(args.description), docker=False if args.no_docker else None, workspace=self._ws,
        )

    @line_magic
    @magic_arguments()
    @argument("name", nargs="?", help="only versions of this image")
    @argument("--tag", "-t", action="append", default=[], metavar="FILTER", help="key or key=value (repeatable)")
    @argument("--model", "-m", help="only images that contain this model (NAME or NAME:VERSION)")
    @argument("--limit", type=int, default=100, help="page size")
    @argument("--offset", type=int, default=0, help="skip this many")
    @out_arg
    @_adapter
    def images(self, args: Any) -> Any:
        """List images, newest first."""
        return api.list_images(args.name, args.tag, args.model, limit=args.limit, offset=args.offset,
                               workspace=self._ws)

    @line_magic
    @magic_arguments()
    @argument("ref", help="NAME or NAME:VERSION")
    @argument("--log", action="store_true", help="print the build log's tail")
    @out_arg
    @_adapter
    def image(self, args: Any) -> Any:
        """Show one image version (the latest when no version is given)."""
        ref = parse_ref(args.ref, "image")
        image = api.get_image(ref.name, ref.version, workspace=self._ws)
        if args.log:
            print(image.log_tail(40))
        return image

    @line_magic
    @magic_arguments()
    @argument("ref", help="NAME:VERSION")
    @_adapter
    def delete_image(self, args: Any) -> Any:
        """Delete one image version (refused while a deployment uses it)."""
        ref = parse_exact_ref(args.ref, "image")
        api.delete_image(ref.name, ref.version, workspace=self._ws)
        print(f"Deleted image {ref}.")

    @line_magic
    @magic_arguments()
    @argument("name", help="deployment name")
    @argument("--image", "-i", required=True, metavar="IMAGE[:VERSION]", help="image to deploy")
    @argument("--target", "-T", help="process, docker, kubernetes, edge (default: the workspace's)")
    @argument("--port", type=int, help="port (default: a free one)")
    @argument("--no-auth", action="store_true", help="no keys: anyone who reaches the port may score")
    @argument("--tls-cert", help="certificate file (PEM)")
    @argument("--tls-key", help="private key file (PEM)")
    @argument("--replicas", type=int, default=1, help="replicas (kubernetes)")
    @argument("--cpu", help="CPU limit, e.g. 500m")
    @argument("--memory", help="memory limit, e.g. 512Mi")
    @argument("--autoscale", metavar="MIN:MAX[:CPU%]", help="horizontal autoscaling (kubernetes)")
    @argument("--dry-run", action="store_true", help="kubernetes: write the manifests only")
    @argument("--output-dir", help="where manifests or the edge bundle go")
    @argument("--collect", action="store_true", help="collect inputs, outputs and latency")
    @argument("--sample-rate", type=float, default=1.0, help="share of requests to collect (0-1]")
    @argument("--tag", "-t", action="append", default=[], metavar="K=V", help="tag (repeatable)")
    @out_arg
    @_adapter
    def deploy(self, args: Any) -> Any:
        """Deploy an image as an HTTP scoring service."""
        return api.deploy(
            args.name, args.image, args.target, args.port, not args.no_auth, _unquote(args.tls_cert),
            _unquote(args.tls_key), args.replicas, args.cpu, args.memory, parse_autoscale(args.autoscale), args.tag,
            dry_run=args.dry_run, output_dir=_unquote(args.output_dir), collect=args.collect,
            sample_rate=args.sample_rate, workspace=self._ws,
        )

    @line_magic
    @magic_arguments()
    @argument("name", help="deployment name")
    @argument("--since", default="1h", help="window: 30m, 1h, 7d ... (default 1h)")
    @argument("--html", metavar="FILE", help="also write the dashboard as a standalone HTML file")
    @out_arg
    @_adapter
    def monitor(self, args: Any) -> Any:
        """Dashboard of a deployment's collected data: traffic, latency, errors, predictions, drift."""
        board = api.dashboard(args.name, args.since, workspace=self._ws)
        if args.html:
            print(f"Wrote {board.to_html(_unquote(args.html))}")
        return board

    @line_magic
    @magic_arguments()
    @argument("--model", "-m", help="only deployments whose image contains this model")
    @argument("--image", "-i", help="only deployments of this image (NAME or NAME:VERSION)")
    @argument("--tag", "-t", action="append", default=[], metavar="FILTER", help="key or key=value (repeatable)")
    @out_arg
    @_adapter
    def deployments(self, args: Any) -> Any:
        """List deployments, their state refreshed."""
        return api.list_deployments(args.model, args.image, args.tag, workspace=self._ws)

    @line_magic
    @magic_arguments()
    @argument("name", help="deployment name")
    @argument("--lines", type=int, default=20, help="log lines to show")
    @out_arg
    @_adapter
    def deployment(self, args: Any) -> Any:
        """State, scoring URI, swagger URI, recent events and the log tail of a deployment."""
        dep = api.get_deployment(args.name, workspace=self._ws)
        print(f"{dep.name}: {dep.state} on {dep.target}, image {dep.image}")
        print(f"scoring URI: {dep.scoring_uri}\nswagger URI: {dep.swagger_uri}")
        for event in dep.events[-5:]:
            print(f"  {event!r}")
        tail = dep.logs(args.lines)
        if tail:
            print("log tail:\n" + tail)
        return dep

    @line_magic
    @magic_arguments()
    @argument("name", help="deployment name")
    @_adapter
    def undeploy(self, args: Any) -> Any:
        """Stop and remove a deployment."""
        api.undeploy(args.name, workspace=self._ws)
        print(f"Removed deployment {args.name}.")

    @line_magic
    @magic_arguments()
    @argument("name", help="deployment name")
    @argument("data", nargs="+", help="JSON, or the name of a variable holding the data")
    @out_arg
    @_adapter
    def score(self, args: Any) -> Any:
        """Score data with a deployment: ``%score NAME [[1, 2, ...]]`` or ``%score NAME VAR``."""
        text = _unquote(" ".join(args.data)) or ""
        if text.isidentifier():
            if text not in self.shell.user_ns:
                raise UsageError(f"No variable named {text!r} in the notebook.")
            data = self.shell.user_ns[text]
        else:
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise UsageError(f"Invalid JSON {text[:40]!r}: {exc}.") from None
        return api.get_deployment(args.name, workspace=self._ws).score(data)

    @line_magic
    @magic_arguments()
    @argument("command", choices=["workspace"], help="workspace: show the workspace in use and why")
    @argument("--use", metavar="PATH", help="switch to this workspace folder or config file")
    @out_arg
    @_adapter
    def mlops(self, args: Any) -> Any:
        """General commands: ``%mlops workspace [--use PATH]``."""
        if args.use:
            self.workspace = _unquote(args.use)
        return api.get_workspace(self._ws)


def parse_autoscale(text: str | None) -> dict[str, int] | None:
    """``MIN:MAX[:CPU%]`` -> ``{"min", "max", "target_cpu"}``."""
    if not text:
        return None
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise UsageError(f"Invalid autoscale {text!r}: write MIN:MAX or MIN:MAX:CPU_PERCENT, e.g. 1:5:70.")
    out = {"min": int(parts[0]), "max": int(parts[1])}
    if len(parts) == 3:
        out["target_cpu"] = int(parts[2])
    return out


def _unquote(text: str | None) -> str | None:
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def load_ipython_extension(ipython: Any) -> None:
    magics = MlopsMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
