"""``jupyter-mlops workspace`` (``%mlops workspace`` in notebooks)."""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from .. import api
from .spec import Command, Invocation


def _workspace(inv: Invocation, a: Namespace) -> Any:
    return api.get_workspace(inv.workspace)


COMMANDS = (Command(("workspace",), "Show the workspace in use, and why it was chosen.", (), _workspace),)
