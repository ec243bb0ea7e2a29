"""What the REST routes send and receive: results as JSON, errors as status and one line, and
request values (JSON bodies, query strings, URL pieces) as a command's keyword arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..commands import Command, Done
from ..display import RecordList
from ..errors import ConflictError, MlopsError, NotFoundError, UsageError

# The one error mapping of the REST API (first match wins).
STATUS: tuple[tuple[type[MlopsError], int], ...] = (
    (UsageError, 400), (NotFoundError, 404), (ConflictError, 409), (MlopsError, 500),
)
# Query parameters that belong to the Jupyter server, not to a command. JupyterLab's
# ServerConnection also appends a bare ``?<milliseconds>`` to bust caches: digits-only keys are skipped.
SERVER_PARAMS = frozenset({"token", "_xsrf", "no_track_activity"})


def error_status(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and one-line message for an exception a command raised."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status, exc.message
    first = (str(exc).strip().splitlines() or [""])[0]
    return 500, f"Unexpected {type(exc).__name__}: {first}"


def render(result: Any, output: list[str]) -> Any:
    """A command's result as JSON: a page of records as ``items`` with ``has_more`` and ``offset``,
    a record as its ``to_dict()``, a dashboard with its plotly figure; lines the command printed
    come along as ``output``."""
    if isinstance(result, RecordList):
        body: Any = {"items": [r.to_dict() for r in result], "has_more": result.has_more, "offset": result.offset}
    elif isinstance(result, Done):
        body = {"message": result.message, **result.to_dict()}
    elif hasattr(result, "to_dict"):
        body = result.to_dict()
        figure = getattr(result, "figure", None)
        if figure is not None:
            body["figure"] = json.loads(figure.to_json())
    else:
        body = result
    if output and isinstance(body, dict):
        body["output"] = list(output)
    return body


def dumps(body: Any) -> str:
    return json.dumps(body, default=str)


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object (an empty body is ``{}``)."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise UsageError(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise UsageError(f"The request body must be a JSON object, not {type(body).__name__}.")
    return body


def from_query(command: Command, query: Mapping[str, list[bytes]]) -> dict[str, Any]:
    """Query parameters as typed values: repeated ones for repeatable options, true/false for switches."""
    options = {o.dest: o for o in command.options}
    out: dict[str, Any] = {}
    for key, raw in query.items():
        if key in SERVER_PARAMS or key.isdigit():
            continue
        values = [v.decode() for v in raw]
        opt = options.get(key)
        if opt is not None and opt.many:
            out[key] = values
        elif opt is not None and opt.switch:
            out[key] = _switch(key, values[-1])
        else:
            out[key] = values[-1]
    return out


def _switch(key: str, text: str) -> bool:
    if text.lower() in ("", "1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise UsageError(f"Invalid value {text!r} for {key!r}: use true or false.")


def check_json(command: Command, body: Mapping[str, Any]) -> None:
    """JSON types the command line cannot get wrong: switches are booleans, repeatable options lists."""
    for opt in command.options:
        value = body.get(opt.dest)
        if value is None:
            continue
        if opt.switch and not isinstance(value, bool):
            raise UsageError(f"Invalid value {value!r} for {opt.dest!r}: use true or false.")
        if opt.many and not isinstance(value, (list, dict)):
            raise UsageError(f"Invalid value {value!r} for {opt.dest!r}: use a list.")


def merge_url(values: dict[str, Any], url: Mapping[str, Any]) -> dict[str, Any]:
    """Values from the URL win; the same key in the body with another value is an error."""
    for key, value in url.items():
        if key in values and values[key] != value:
            raise UsageError(f"{key!r} is given by the URL ({value!r}); leave it out of the request.")
    return {**values, **url}


def resolve_paths(command: Command, values: dict[str, Any], root: Path) -> dict[str, Any]:
    """Paths are relative to the Jupyter server's root folder, as the file browser shows them."""
    out = dict(values)
    for opt in command.options:
        if opt.complete == "path" and isinstance(out.get(opt.dest), str):
            path = Path(out[opt.dest]).expanduser()
            out[opt.dest] = str(path if path.is_absolute() else (root / path).resolve())
    return out
