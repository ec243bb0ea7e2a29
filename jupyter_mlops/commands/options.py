"""Options that several commands share, declared once."""

from __future__ import annotations

from functools import partial

from ..names import parse_int
from .spec import Option


def tags(help: str = "tag K=V (repeatable)") -> Option:
    return Option("tags", ("--tag", "-t"), help, many=True, default=[], metavar="K=V")


def tag_filters() -> Option:
    return Option("tags", ("--tag", "-t"), "only those with this tag: KEY or KEY=VALUE (repeatable)", many=True,
                  default=[], metavar="FILTER")


def page() -> tuple[Option, Option]:
    return (
        Option("limit", ("--limit",), "page size", parse=partial(parse_int, what="limit", minimum=1), default=100),
        Option("offset", ("--offset",), "skip this many", parse=partial(parse_int, what="offset"), default=0),
    )


def model_ref(help: str = "NAME, NAME:VERSION or NAME@ALIAS (the latest when neither is given)") -> Option:
    return Option("ref", (), help, metavar="NAME[:VERSION|@ALIAS]", complete="model_ref")


def exact_ref(kind: str) -> Option:
    return Option("ref", (), f"the {kind} version: NAME:VERSION", metavar="NAME:VERSION", complete=f"{kind}_ref")


def deployment_name() -> Option:
    return Option("name", (), "deployment name", complete="deployment")


def panel(what: str) -> Option:
    return Option("panel", ("--panel",), f"show {what} as a live panel (notebooks)", switch=True, default=False,
                  only="magic")


def busy_poll() -> Option:
    return Option("busy_poll_us", ("--busy-poll-us",), "after answering a client alone on a worker, poll this many "
                  "microseconds for its next request before sleeping (default 250; 0: off)",
                  parse=partial(parse_int, what="busy poll time"))


def no_coalesce() -> Option:
    return Option("no_coalesce", ("--no-coalesce",), "a model run per request (by default the requests a worker reads "
                  "together share one run)", switch=True, default=False)
