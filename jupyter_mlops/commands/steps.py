"""The verbs a pipeline step may use: each is an existing command, with the outputs later steps refer to.

A step's options are that command's own (checked by :meth:`Command.check` and converted by
:meth:`Command.values`): nothing is declared twice. A new step kind is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import DeploymentError
from . import deployments, endpoints, images, models
from .spec import Command

_COMMANDS = {c.name: c for c in (*models.COMMANDS, *images.COMMANDS, *deployments.COMMANDS, *endpoints.COMMANDS)}


@dataclass(frozen=True)
class Step:
    """A kind of step: the command it runs and the names of its outputs (``${steps.ID.NAME}``)."""

    command: Command
    outputs: tuple[str, ...]
    # The outputs from the command's result; by default its attributes (or keys) of those names.
    extract: Callable[[Any], dict[str, Any]] | None = None

    def outputs_of(self, result: Any) -> dict[str, Any]:
        if self.extract is not None:
            return self.extract(result)
        get = result.get if isinstance(result, dict) else lambda name: getattr(result, name)
        return {name: get(name) for name in self.outputs}


def _step(command: str, *outputs: str, extract: Callable[[Any], dict[str, Any]] | None = None) -> Step:
    return Step(_COMMANDS[command], outputs, extract)


_DEPLOYMENT = ("name", "image", "models", "follows", "state", "scoring_uri")


def rollout_outputs(result: Any) -> dict[str, Any]:
    """A rollout that did not promote fails its step (its reason the one line), so the pipeline stops."""
    if getattr(result, "status", None) != "promoted":
        reason = getattr(result, "reason", None) or getattr(result, "status", "no result")
        raise DeploymentError(f"The rollout of {getattr(result, 'image', '?')} was not promoted: {reason}.")
    return {"endpoint": result.endpoint, "new": result.new, "image": result.image, "status": result.status}

STEPS: dict[str, Step] = {
    "register": _step("models register", "ref", "name", "version"),
    "validate": _step("models validate", "model", "output", "seconds"),
    "build": _step("images build", "ref", "name", "version", "docker_tag", "digest"),
    "smoke_test": _step("images smoke-test", "answer", extract=lambda answer: {"answer": answer}),
    "push": _step("images push", "image", "reference", "pinned", "digest"),
    "deploy": _step("deploy", *_DEPLOYMENT),
    "update": _step("deployments update", *_DEPLOYMENT),
    "alias": _step("models set-alias", "ref", "name", "version", "aliases"),
    "rollout": _step("endpoints rollout", "endpoint", "new", "image", "status", extract=rollout_outputs),
}
