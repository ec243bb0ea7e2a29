"""Model registry commands: ``jupyter-mlops models ...`` and ``%register_model``, ``%models``, ..."""

from __future__ import annotations

from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..names import parse_exact_ref, parse_float, parse_version
from . import options
from .spec import Command, Done, Invocation, Option


def _register(inv: Invocation, a: Namespace) -> Any:
    return api.register_model(a.path, a.name, tags=a.tags, properties=a.properties, description=a.description,
                              framework=a.framework, source=a.source, progress=inv.progress, workspace=inv.workspace)


def _list(inv: Invocation, a: Namespace) -> Any:
    return api.list_models(a.name, tags=a.tags, properties=a.properties, latest=a.latest, limit=a.limit,
                           offset=a.offset, workspace=inv.workspace)


def _show(inv: Invocation, a: Namespace) -> Any:
    model = api.get_model(a.ref, workspace=inv.workspace)
    if not inv.notebook:  # a notebook shows it in the model's HTML
        for what, value in model.provenance_lines():
            inv.echo(f"{what}: {value}")
    return model


def _validate(inv: Invocation, a: Namespace) -> Any:
    return api.validate_model(a.ref, a.notebook, parameters=a.parameters, output=a.output, timeout=a.timeout,
                              workspace=inv.workspace)


def _set_alias(inv: Invocation, a: Namespace) -> Any:
    return api.set_alias(a.name, a.alias, a.version, workspace=inv.workspace)


def _delete_alias(inv: Invocation, a: Namespace) -> Any:
    api.delete_alias(a.name, a.alias, workspace=inv.workspace)
    return Done(f"Deleted alias {a.name}@{a.alias}.", {"deleted": f"{a.name}@{a.alias}"})


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
ALIAS = Option("alias", (), "alias, e.g. champion (latest is built in)")

COMMANDS = (
    Command(("models", "register"), "Register a model file or folder as the next version of NAME.", (
        Option("path", (), "model file or folder", complete="path"),
        Option("name", ("--name", "-n"), "model name", required=True, complete="model"),
        options.tags(), PROPERTIES, DESCRIPTION, FRAMEWORK,
        Option("source", ("--source",), "the notebook or script that made it, for its provenance (detected when "
               "omitted)", complete="path"),
    ), _register, magic="register_model"),
    Command(("models", "list"), "List registered models, newest first.", (
        Option("name", (), "only versions of this model", optional=True, complete="model"),
        options.tag_filters(),
        Option("properties", ("--property", "-p"), "only those with this property: KEY or KEY=VALUE (repeatable)",
               many=True, default=[], metavar="FILTER"),
        Option("latest", ("--latest",), "only the latest version of each model", switch=True, default=False),
        *options.page(), options.panel("the model browser"),
    ), _list, magic="models"),
    Command(("models", "show"), "Show one model version (the latest when no version is given) and its provenance.",
            (options.model_ref(),), _show, magic="model"),
    Command(("models", "validate"), "Run a validation notebook for a model version with papermill; an exception in it "
            "(a failed assertion) fails.", (
        options.model_ref(),
        Option("notebook", ("--notebook",), "the notebook; it gets the parameter model=NAME:VERSION", required=True,
               complete="path"),
        Option("parameters", ("--parameter", "-p"), "notebook parameter NAME=VALUE, VALUE read as JSON when it is "
               "(repeatable)", many=True, default=[], metavar="NAME=VALUE"),
        Option("output", ("--output",), "where the executed copy goes (default: the workspace's validations/)",
               complete="path"),
        Option("timeout", ("--timeout",), "seconds a cell may run", parse=partial(parse_float, what="timeout")),
    ), _validate, magic="validate_model"),
    Command(("models", "set-alias"), "Point NAME@ALIAS at a version; it leaves the version it named before.", (
        Option("name", (), "model name", complete="model"), ALIAS,
        Option("version", (), "the version it names", parse=parse_version),
    ), _set_alias, magic="set_alias"),
    Command(("models", "delete-alias"), "Remove NAME@ALIAS; the version stays.", (
        Option("name", (), "model name", complete="model"), ALIAS,
    ), _delete_alias, magic="delete_alias"),
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
