"""Every user-facing command, declared once: the CLI, the magics, the widgets and the REST handlers
derive from these declarations (see :mod:`.spec`)."""

from __future__ import annotations

from ..errors import UsageError
from . import deployments, endpoints, images, models, monitoring, pipeline, serving, workspace
from .spec import ADAPTERS, Command, Done, Invocation, Option

COMMANDS: tuple[Command, ...] = (
    *workspace.COMMANDS, *models.COMMANDS, *images.COMMANDS, *deployments.COMMANDS, *endpoints.COMMANDS,
    *monitoring.COMMANDS, *serving.COMMANDS, *pipeline.COMMANDS,
)
BY_NAME = {c.name: c for c in COMMANDS}
BY_MAGIC = {c.magic: c for c in COMMANDS if c.magic}


def get(name: str) -> Command:
    """A command by its CLI words (``"models register"``)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise UsageError(f"Unknown command {name!r}.") from None


__all__ = ["ADAPTERS", "BY_MAGIC", "BY_NAME", "COMMANDS", "Command", "Done", "Invocation", "Option", "get"]
