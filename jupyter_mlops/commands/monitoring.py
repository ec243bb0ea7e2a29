"""Monitoring commands: ``jupyter-mlops monitor`` and ``%monitor``."""

from __future__ import annotations

from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..names import parse_float
from . import options
from .spec import Command, Invocation, Option


def _monitor(inv: Invocation, a: Namespace) -> Any:
    board = api.dashboard(a.name, since=a.since, threshold=a.threshold, workspace=inv.workspace)
    if a.html:
        inv.echo(f"Wrote {board.to_html(a.html)}")
    if a.csv:
        board.data.to_csv(a.csv, index=False)
        inv.echo(f"Wrote {a.csv}")
    return board


COMMANDS = (
    Command(("monitor",), "Dashboard of a deployment's collected data: traffic, latency, errors, predictions, drift.", (
        options.deployment_name(),
        Option("since", ("--since",), "window: 30m, 1h, 7d ...", default="1h"),
        Option("threshold", ("--threshold",), "PSI above which a feature counts as drifted",
               parse=partial(parse_float, what="threshold"), default=0.2),
        Option("html", ("--html",), "also write the dashboard as a standalone HTML file", metavar="FILE",
               complete="path"),
        Option("csv", ("--csv",), "also write the collected data as CSV", metavar="FILE", complete="path"),
        Option("live", ("--live",), "a live dashboard that updates in place (notebooks)", switch=True, default=False,
               only="magic"),
    ), _monitor, magic="monitor"),
)
