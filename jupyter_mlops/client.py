"""A small HTTP client for scoring services (stdlib only): JSON in, JSON out, one-line errors."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from .errors import DeploymentError, UsageError

try:
    import numpy as _np
except ImportError:  # pragma: no cover - numpy is a dependency; keep the client importable anyway
    _np = None  # type: ignore[assignment]


def _plain(obj: Any) -> Any:
    if _np is not None and isinstance(obj, _np.ndarray):
        return obj.tolist()
    if hasattr(obj, "to_numpy"):  # pandas
        return obj.to_numpy().tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def request(
    url: str, body: Any = None, key: str | None = None, cafile: str | None = None,
    timeout: float = 30.0, method: str | None = None, headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Send a request; returns (status, parsed JSON or text). Connection failures raise."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body, default=_plain).encode())
    headers = {**({"content-type": "application/json"} if data is not None else {}), **(headers or {})}
    if key:
        headers["authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


EXPECTED = "the data itself (rows: a list, array or DataFrame) or a /score request body ({\"data\": ...})"


def score_body(data: Any) -> Any:
    """The ``/score`` request body for ``data``: a full body as given (a dict with a "data" key,
    or its JSON text), anything else wrapped as ``{"data": data}``."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            raise UsageError(f"Cannot score {text[:40]!r}: it is not JSON; give {EXPECTED}.") from None
        if not isinstance(data, dict):
            return {"data": data}  # JSON text of the data itself
    if isinstance(data, dict):
        if "data" in data:
            return data
        raise UsageError(f"Cannot score a dict with keys {sorted(map(str, data))[:5]}: give {EXPECTED}.")
    return {"data": data}


def score(url: str, data: Any, key: str | None = None, cafile: str | None = None, timeout: float = 30.0,
          headers: dict[str, str] | None = None) -> Any:
    """POST ``data`` (see :func:`score_body`) to a scoring URI; a non-2xx answer raises with the
    server's message."""
    body = score_body(data)
    try:
        status, reply = request(url, body, key, cafile, timeout, headers=headers)
    except (urllib.error.URLError, OSError) as exc:
        raise DeploymentError(f"Cannot reach {url}: {getattr(exc, 'reason', exc)}.") from None
    if status >= 400:
        message = reply.get("message") or reply.get("error") if isinstance(reply, dict) else reply
        raise DeploymentError(f"{url} answered {status}: {message}")
    return reply
