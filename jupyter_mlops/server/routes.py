"""The REST API under ``/jupyter-mlops/api/``: each route and method names the command it runs
(:mod:`jupyter_mlops.commands`), so its options are the CLI's and the magics'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PREFIX = "jupyter-mlops/api"
NAME = r"(?P<name>[^/]+)"
VERSION = r"(?P<version>[^/]+)"


def _ref(url: dict[str, str]) -> dict[str, Any]:
    return {"ref": f"{url['name']}:{url['version']}"}


def _same(url: dict[str, str]) -> dict[str, Any]:
    return dict(url)


@dataclass(frozen=True)
class Action:
    """``command`` runs with the request's values and ``url(pieces of the URL)``; a ``job`` runs in
    the background and answers 202 with the job to poll."""

    command: str
    url: Callable[[dict[str, str]], dict[str, Any]] = field(default=_same)
    job: bool = False
    status: int = 200


ROUTES: dict[str, dict[str, Action]] = {
    "models": {"GET": Action("models list"), "POST": Action("models register", status=201)},
    f"models/{NAME}": {"GET": Action("models list")},
    f"models/{NAME}/{VERSION}": {"GET": Action("models show", _ref), "PATCH": Action("models update", _ref),
                                 "DELETE": Action("models delete", _ref)},
    "images": {"GET": Action("images list"), "POST": Action("images build", job=True)},
    f"images/{NAME}": {"GET": Action("images list")},
    f"images/{NAME}/{VERSION}": {"GET": Action("images show", _ref),
                                 "PATCH": Action("images update", _ref), "DELETE": Action("images delete", _ref)},
    "deployments": {"GET": Action("deployments list"), "POST": Action("deploy", job=True)},
    f"deployments/{NAME}": {"GET": Action("deployments show"), "DELETE": Action("deployments delete")},
    f"deployments/{NAME}/update": {"POST": Action("deployments update", job=True)},
    f"deployments/{NAME}/regen-key": {"POST": Action("deployments regen-key")},
    f"deployments/{NAME}/score": {"POST": Action("deployments score")},
    f"deployments/{NAME}/dashboard": {"GET": Action("monitor")},
    "workspace": {"GET": Action("workspace")},
}
