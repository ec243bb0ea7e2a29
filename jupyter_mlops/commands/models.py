"""Model registry commands: ``jupyter-mlops models ...`` and ``%register_model``, ``%models``, ..."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from .. import api
from ..names import parse_exact_ref
from . import options
from .spec import Command, Done, Invocation, Option


def _register(inv: Invocation, a: Namespace) -> Any:
    return api.register_model(a.path, a.name, tags=a.tags, properties=a.properties, description=a.description,
                              framework=a.framework, progress=inv.progress, workspace=inv.workspace)


def _list(inv: Invocation, a: Namespace) -> Any:
    return api.list_models(a.name, tags=a.tags, properties=a.properties, latest=a.latest, limit=a.limit,
                           offset=a.offset, workspace=inv.workspace)


def _show(inv: Invocation, a: Namespace) -> Any:
    return api.get_model(a.ref, workspace=inv.workspace)


def _update(inv: Invocation, a: Namespace) -> Any:
    name, version = parse_exact_ref(a.ref)
    return api.update_model(name, version, tags=a.tags, remove_tags=a.remove_tags, properties=a.properties,
                            description=a.description, workspace=inv.workspace)


def _download(inv: Invocation, a: Namespace) -> Any:
    path = api.download_model(a.ref, a.dir, exist_ok=a.overwrite, progress=inv.progress, workspace=inv.workspace)
    return Done(f"Wrote {path}.", {"path": str(path)})


def _delete(inv: Invocation, a: Namespace) -> Any:
    name, version = parse_exact_ref(a.ref)
    api.delete_model(name, version, workspace=inv.workspace)
    return Done(f"Deleted model {name}:{version}.", {"deleted": f"{name}:{version}"})


FRAMEWORK = Option("framework", ("--framework", "-f"), "onnx, sklearn or custom (detected when omitted)",
                   choices=("onnx", "sklearn", "custom"))
PROPERTIES = Option("properties", ("--property", "-p"), "property K=V (repeatable; add-only)", many=True, default=[],
                    metavar="K=V")
DESCRIPTION = Option("description", ("--description", "-d"), "description")

COMMANDS = (
    Command(("models", "register"), "Register a model file or folder as the next version of NAME.", (
        Option("path", (), "model file or folder", complete="path"),
        Option("name", ("--name", "-n"), "model name", required=True, complete="model"),
        options.tags(), PROPERTIES, DESCRIPTION, FRAMEWORK,
    ), _register, magic="register_model"),
    Command(("models", "list"), "List registered models, newest first.", (
        Option("name", (), "only versions of this model", optional=True, complete="model"),
        options.tag_filters(),
        Option("properties", ("--property", "-p"), "only those with this property: KEY or KEY=VALUE (repeatable)",
               many=True, default=[], metavar="FILTER"),
        Option("latest", ("--latest",), "only the latest version of each model", switch=True, default=False),
        *options.page(),
    ), _list, magic="models"),
    Command(("models", "show"), "Show one model version (the latest when no version is given).",
            (options.model_ref(),), _show, magic="model"),
    Command(("models", "update"), "Change a version's tags or description, or add properties.", (
        options.exact_ref("model"), options.tags("set tag K=V (repeatable)"),
        Option("remove_tags", ("--remove-tag",), "remove this tag (repeatable)", many=True, default=[], metavar="KEY"),
        PROPERTIES, DESCRIPTION,
    ), _update, magic="update_model"),
    Command(("models", "download"), "Write a model's file or folder into a folder.", (
        options.model_ref(), Option("dir", ("--dir",), "target folder", default=".", complete="path"),
        Option("overwrite", ("--overwrite",), "replace existing files", switch=True, default=False),
    ), _download, magic="download_model"),
    Command(("models", "delete"), "Delete one model version (refused while an image uses it).",
            (options.exact_ref("model"),), _delete, magic="delete_model"),
)
