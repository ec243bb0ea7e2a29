"""JSON in and out, with orjson; numpy arrays and pandas objects encode as plain JSON.

JSON has no NaN or infinity, and orjson writes them as ``null``. A reply must not turn a model's NaN
into a silent ``null``, so :func:`dumps` raises :class:`NonFinite` instead (the server answers 500
saying so). The check costs a byte search on every reply and a second encoding only when the
reply holds a ``null``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .errors import BadInput

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class NonFinite(ValueError):
    """The value holds NaN or infinity, which JSON cannot carry."""


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
    out = orjson.dumps(obj, default=_default, option=_OPTIONS)
    if b"null" in out:  # a None, or a NaN/inf that orjson wrote as null: tell them apart
        try:
            json.dumps(obj, default=_default, allow_nan=False, skipkeys=True)
        except ValueError:
            raise NonFinite("NaN or infinity is not JSON") from None
    return out


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"Malformed JSON: {exc}.") from None
