"""JSON in and out, with orjson; numpy arrays and pandas objects encode as plain JSON."""

from __future__ import annotations

from typing import Any

import orjson

from .errors import BadInput

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # non-contiguous numpy arrays, numpy scalars orjson left alone
        return obj.tolist()
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):  # a pandas DataFrame, as records (a Series went by tolist above)
        return to_dict(orient="records")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=_OPTIONS)


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"Malformed JSON: {exc}.") from None
