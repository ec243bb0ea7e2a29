"""Image commands: ``jupyter-mlops images ...`` and ``%build_image``, ``%images``, ``%image``, ..."""

from __future__ import annotations

from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..names import parse_exact_ref, parse_float
from . import options
from .deployments import parse_data
from .spec import Command, Done, Invocation, Option


def _build(inv: Invocation, a: Namespace) -> Any:
    return api.build_image(
        a.name, a.models, script=a.script, requirements=a.requirements, base_image=a.base_image, tags=a.tags,
        description=a.description, docker=False if a.no_docker else None, progress=inv.log is None, echo=inv.log,
        workspace=inv.workspace,
    )


def _list(inv: Invocation, a: Namespace) -> Any:
    return api.list_images(a.name, tags=a.tags, model=a.model, limit=a.limit, offset=a.offset,
                           workspace=inv.workspace)


def _show(inv: Invocation, a: Namespace) -> Any:
    image = api.get_image(a.ref, workspace=inv.workspace)
    if a.log:
        inv.echo(image.build_log or "(no build log)")
    return image


def _update(inv: Invocation, a: Namespace) -> Any:
    name, version = parse_exact_ref(a.ref, "image")
    return api.update_image(name, version, tags=a.tags, remove_tags=a.remove_tags, workspace=inv.workspace)


def _push(inv: Invocation, a: Namespace) -> Any:
    return api.push_image(a.ref, a.registry, progress=inv.log is None, echo=inv.log, workspace=inv.workspace)


def _smoke_test(inv: Invocation, a: Namespace) -> Any:
    return api.smoke_test_image(a.ref, a.data, timeout=a.timeout, workspace=inv.workspace)


def _delete(inv: Invocation, a: Namespace) -> Any:
    name, version = parse_exact_ref(a.ref, "image")
    api.delete_image(name, version, workspace=inv.workspace)
    return Done(f"Deleted image {name}:{version}.", {"deleted": f"{name}:{version}"})


IMAGE_REF = Option("ref", (), "NAME or NAME:VERSION (the latest when no version is given)", metavar="NAME[:VERSION]",
                   complete="image_ref")

COMMANDS = (
    Command(("images", "build"), "Build a Docker image of models, script, requirements and the inference server.", (
        Option("name", (), "image name", complete="image"),
        Option("models", ("--model", "-m"), "model NAME[:VERSION|@ALIAS] (repeatable)", many=True, required=True,
               metavar="NAME[:VERSION|@ALIAS]", complete="model_ref"),
        Option("script", ("--script", "-s"), "scoring script with init() and run(data)", complete="path"),
        Option("requirements", ("--requirements", "-r"), "pip requirements file", complete="path"),
        Option("base_image", ("--base-image",), "base image (default: the workspace's)"),
        options.tags(), Option("description", ("--description", "-d"), "description"),
        Option("no_docker", ("--no-docker",), "write the build context only", switch=True, default=False),
    ), _build, magic="build_image"),
    Command(("images", "list"), "List images, newest first.", (
        Option("name", (), "only versions of this image", optional=True, complete="image"),
        options.tag_filters(),
        Option("model", ("--model", "-m"), "only images that contain this model (NAME, NAME:VERSION or NAME@ALIAS)",
               complete="model_ref"),
        *options.page(),
    ), _list, magic="images"),
    Command(("images", "show"), "Show one image version (the latest when no version is given).", (
        IMAGE_REF,
        Option("log", ("--log",), "print the build log", switch=True, default=False),
    ), _show, magic="image"),
    Command(("images", "update"), "Add, change or remove an image version's tags.", (
        options.exact_ref("image"), options.tags("set tag K=V (repeatable)"),
        Option("remove_tags", ("--remove-tag",), "remove this tag (repeatable)", many=True, default=[], metavar="KEY"),
    ), _update, magic="update_image"),
    Command(("images", "push"), "Push an image to a container registry; its reference and digest are recorded.", (
        IMAGE_REF, Option("registry", (), "host[:port][/namespace], e.g. 127.0.0.1:5000 or registry.example.com/ml"),
    ), _push, magic="push_image"),
    Command(("images", "smoke-test"), "Run an image on a free 127.0.0.1 port, score once, remove it; prints the "
            "answer.", (
        IMAGE_REF,
        Option("data", (), "JSON: the data or a whole {\"data\": ...} body (- reads standard input; in a notebook, a "
               "variable name works too)", rest=True, parse=parse_data, required=True),
        Option("timeout", ("--timeout",), "seconds to wait for it to be ready",
               parse=partial(parse_float, what="timeout"), default=120.0),
    ), _smoke_test, magic="smoke_test_image"),
    Command(("images", "delete"), "Delete one image version (refused while a deployment uses it).",
            (options.exact_ref("image"),), _delete, magic="delete_image"),
)
