"""The collected-record format, defined once: the server's collector writes it, monitoring reads it.

Records are JSON Lines (only ``\\n`` ends a line) in objects named

    collected/<deployment>/<model>/<version>/<yyyy>/<mm>/<dd>/<hh>/<worker>-<seq>.jsonl

A request record's keys, in this order (the writer formats it from precomputed pieces, so grouping
a segment by model reads a prefix): time (Unix seconds), deployment, model, model_version,
collector ("request"), route, status, latency_ms, request_id, correlation_id, request, response.
A record a scoring script adds with ``Collector(name)`` has time, deployment, model, model_version,
collector (its name), request_id, correlation_id and data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import orjson

ROOT = "collected"
REQUEST = "request"  # the collector name of the server's own request records
_OBJECT = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.jsonl$")

# The fixed parts of a request record, each before the value it names: time, then the middle
# (deployment .. route, and status's key: request_head()), status, latency_ms, request_id,
# correlation_id, request, response, and the end. The collector joins them with the values (one
# allocation of the line's length, where a bytes format parsed its template and grew its buffer).
REQUEST_PARTS = (b'{"time":', b',"latency_ms":', b',"request_id":"', b'","correlation_id":', b',"request":',
                 b',"response":', b"}\n")


def request_head(deployment: str, model: Any, version: Any, route: str) -> bytes:
    """The constant middle of a request record for one (deployment, model, version, route), up to
    the status's value."""
    head = orjson.dumps({"deployment": deployment, "model": model, "model_version": version,
                         "collector": REQUEST, "route": route})
    return b"," + head[1:-1] + b',"status":'


def one_line(value: bytes) -> bytes:
    """A JSON text as one record's line holds it: a line break in JSON is whitespace (a string cannot
    hold one), so a space. ``10 in``: a memchr, where a bytes needle costs CPython 3.11 a TypeError."""
    return value.replace(b"\n", b" ") if 10 in value else value


def custom_record(ts: float, deployment: str, model: Any, version: Any, collector: str, request_id: Any,
                  correlation_id: Any, data: Any) -> bytes:
    return orjson.dumps({"time": ts, "deployment": deployment, "model": model, "model_version": version,
                         "collector": collector, "request_id": request_id, "correlation_id": correlation_id,
                         "data": data}, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def object_prefix(deployment: str, model: Any, version: Any, ts: float) -> str:
    """The folder of one (deployment, model, version, hour); ``_`` for a model no request named."""
    t = datetime.fromtimestamp(ts, timezone.utc)
    return f"{ROOT}/{deployment}/{model or '_'}/{version or '_'}/{t:%Y/%m/%d/%H}"


def object_name(deployment: str, model: Any, version: Any, ts: float, worker: str, seq: int) -> str:
    return f"{object_prefix(deployment, model, version, ts)}/{worker}-{seq:08d}.jsonl"


def deployment_prefix(deployment: str, model: str | None = None) -> str:
    """What to list for a deployment's records (of one model)."""
    return f"{ROOT}/{deployment}/" + (f"{model}/" if model else "")


def object_hour(name: str) -> datetime | None:
    """The UTC hour an object's records fall in, from its name; None for other objects."""
    m = _OBJECT.search(name)
    if m is None:
        return None
    year, month, day, hour = (int(g) for g in m.groups())
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def parse_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.split(b"\n"):
        if line:
            yield orjson.loads(line)
