"""Read what deployments collected, as pandas DataFrames: one row per input row."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import UsageError
from ..serving import records as record_format
from ..serving.errors import BadInput
from ..workspace import Workspace

_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | timedelta | None) -> datetime | None:
    """``"1h"``, ``"30m"``, ``"7d"`` (or a timedelta) -> the UTC time that long ago."""
    if text is None:
        return None
    if isinstance(text, timedelta):
        return datetime.now(timezone.utc) - text
    m = _SINCE.match(str(text).strip())
    if not m:
        raise UsageError(f"Invalid duration {text!r}: write a number and s, m, h, d or w, e.g. 1h.")
    return datetime.now(timezone.utc) - timedelta(**{_UNITS[m[2]]: float(m[1])})


def _as_utc(t: datetime | str | None) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def has_records(ws: Workspace, deployment: str) -> bool:
    return next(iter(ws.artifacts.list(f"collected/{deployment}/")), None) is not None


def read_records(ws: Workspace, deployment: str, start: Any = None, end: Any = None, model: str | None = None,
                 collector: str = record_format.REQUEST,
                 cache: dict[str, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """``cache``: objects already parsed, by name (stored objects never change), so a caller that
    reads again and again (a live dashboard) parses only what is new; objects out of the window leave it."""
    start, end = _as_utc(start), _as_utc(end)
    records = []
    for name in ws.artifacts.list(record_format.deployment_prefix(deployment, model)):
        hour = record_format.object_hour(name)
        if hour is None:
            continue
        if (start and hour + timedelta(hours=1) <= start) or (end and hour > end):
            if cache is not None:
                cache.pop(name, None)
            continue
        parsed = cache.get(name) if cache is not None else None
        if parsed is None:
            parsed = list(record_format.parse_lines(ws.artifacts.get_bytes(name)))
            if cache is not None:
                cache[name] = parsed
        for rec in parsed:
            t = datetime.fromtimestamp(rec["time"], timezone.utc)
            if rec.get("collector", record_format.REQUEST) != collector or (start and t < start) or (end and t > end):
                continue
            records.append(rec)
    records.sort(key=lambda r: r["time"])
    return records


def _input_rows(route: str | None, request: Any) -> list[Any] | None:
    """The request's input rows, whatever protocol it came by."""
    if not isinstance(request, dict):
        return None
    if route == "v2_infer":
        first = next(iter(_v2_tensors(request, "inputs").values()), None)  # shape [n] is n rows of one value
        return first.reshape(len(first), -1).tolist() if first is not None and first.ndim else None
    for key in ("data", "instances", "inputs", "dataframe_records"):
        if key in request:
            rows = request[key]
            break
    else:
        split = request.get("dataframe_split")
        rows = split.get("data") if isinstance(split, dict) else None
    if not isinstance(rows, list):
        return None
    if rows and not isinstance(rows[0], (list, dict)):
        rows = [rows]  # one row sent without its batch dimension
    return rows


def _v2_tensors(message: Any, key: str) -> dict[str, Any]:
    """A v2 record's tensors by name; none where the message is not one (a 4xx's error body)."""
    from ..serving.tensors import v2_recorded  # numpy, when there are v2 records only

    try:
        return v2_recorded(message, key) if isinstance(message, dict) else {}
    except (BadInput, KeyError, TypeError, ValueError):  # ValueError: base64's binascii.Error
        return {}


def _output_columns(route: str | None, response: Any, n: int) -> dict[str, list[Any]]:
    if route == "v2_infer":
        return {name: arr.tolist() for name, arr in _v2_tensors(response, "outputs").items()
                if arr.ndim and len(arr) == n}
    if isinstance(response, dict) and "predictions" in response and route == "invocations":
        response = response["predictions"]
    if isinstance(response, dict):
        return {k: v for k, v in response.items() if isinstance(v, list) and len(v) == n}
    if isinstance(response, list) and len(response) == n:
        return {"prediction": response}
    return {}


def to_frame(records: list[dict[str, Any]], feature_names: dict[tuple[Any, Any], list[str]] | None = None) -> Any:
    import pandas as pd

    rows, features_seen, outputs_seen = [], {}, {}
    for rec in records:
        meta = {"time": pd.Timestamp(rec["time"], unit="s", tz="UTC"), "model": rec.get("model"),
                "model_version": rec.get("model_version"), "route": rec.get("route"), "status": rec.get("status"),
                "latency_ms": rec.get("latency_ms"), "request_id": rec.get("request_id"),
                "correlation_id": rec.get("correlation_id")}
        inputs = _input_rows(rec.get("route"), rec.get("request"))
        if not inputs:
            rows.append({**meta, "request": rec.get("request"), "response": rec.get("response")})
            continue
        ok = rec.get("status") == 200
        outputs = _output_columns(rec.get("route"), rec.get("response"), len(inputs)) if ok else {}
        names = (feature_names or {}).get((rec.get("model"), rec.get("model_version")))
        for i, row in enumerate(inputs):
            if isinstance(row, dict):
                features = dict(row)
            else:
                keys = names if names and len(names) == len(row) else [f"x{j}" for j in range(len(row))]
                features = dict(zip(keys, row))
            rows.append({**meta, **features, **{k: v[i] for k, v in outputs.items()}})
            features_seen.update(dict.fromkeys(features))
        outputs_seen.update(dict.fromkeys(outputs))
    frame = pd.DataFrame(rows)
    frame.attrs["features"], frame.attrs["outputs"] = list(features_seen), list(outputs_seen)
    return frame
