"""Image commands: ``jupyter-mlops images ...`` and ``%build_image``, ``%images``, ``%image``, ..."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from .. import api
from ..names import parse_exact_ref
from . import options
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


def _delete(inv: Invocation, a: Namespace) -> Any:
    name, version = parse_exact_ref(a.ref, "image")
    api.delete_image(name, version, workspace=inv.workspace)
    return Done(f"Deleted image {name}:{version}.", {"deleted": f"{name}:{version}"})


COMMANDS = (
    Command(("images", "build"), "Build a Docker image of models, script, requirements and the inference server.", (
        Option("name", (), "image name", complete="image"),
        Option("models", ("--model", "-m"), "model NAME[:VERSION] (repeatable)", many=True, required=True,
               metavar="NAME[:VERSION]", complete="model_ref"),
        Option("script", ("--script", "-s"), "scoring script with init() and run(data)", complete="path"),
        Option("requirements", ("--requirements", "-r"), "pip requirements file", complete="path"),
        Option("base_image", ("--base-image",), "base image (default: the workspace's)"),
        options.tags(), Option("description", ("--description", "-d"), "description"),
        Option("no_docker", ("--no-docker",), "write the build context only", switch=True, default=False),
    ), _build, magic="build_image"),
    Command(("images", "list"), "List images, newest first.", (
        Option("name", (), "only versions of this image", optional=True, complete="image"),
        options.tag_filters(),
        Option("model", ("--model", "-m"), "only images that contain this model (NAME or NAME:VERSION)",
               complete="model_ref"),
        *options.page(),
    ), _list, magic="images"),
    Command(("images", "show"), "Show one image version (the latest when no version is given).", (
        Option("ref", (), "NAME or NAME:VERSION", metavar="NAME[:VERSION]", complete="image_ref"),
        Option("log", ("--log",), "print the build log", switch=True, default=False),
    ), _show, magic="image"),
    Command(("images", "update"), "Add, change or remove an image version's tags.", (
        options.exact_ref("image"), options.tags("set tag K=V (repeatable)"),
        Option("remove_tags", ("--remove-tag",), "remove this tag (repeatable)", many=True, default=[], metavar="KEY"),
    ), _update, magic="update_image"),
    Command(("images", "delete"), "Delete one image version (refused while a deployment uses it).",
            (options.exact_ref("image"),), _delete, magic="delete_image"),
)
