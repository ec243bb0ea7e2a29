"""JSON in and out, with orjson; numpy arrays and pandas objects encode as plain JSON.

JSON has no NaN or infinity, and orjson writes them as ``null``. A reply must not turn a model's NaN
into a silent ``null``, so :func:`dumps` raises :class:`NonFinite` instead (the server answers 500
saying so). The check costs a byte search on every reply and a second encoding only when the
reply holds a ``null``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import orjson

from .errors import BadInput

try:
    import simdjson
except ImportError:  # a server from before it was a requirement: the general path for every body
    simdjson = None  # type: ignore[assignment]

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
    # A None, or a NaN/inf that orjson wrote as null: tell them apart. (``find``, not ``in``: CPython
    # 3.11 tries a bytes ``in`` as an int first, and raises and clears a TypeError: ~1,800
    # instructions, 1 % of a request here, where ``find`` takes ~150.)
    if out.find(b"null") != -1:
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


_local = threading.local()


def _parser() -> Any:
    """This thread's parser, reused (one made per body allocated its buffers every time, which cost
    more under load than the parse). simdjson requires the objects of one parse to be gone before
    the next begins: number_rows keeps none, and a parse that finds some refused falls back."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    return parser


def number_rows(body: bytes, key: str, alone: bool = False) -> np.ndarray | None:
    """``body[key]`` as a float64 array of shape (rows, columns), when the body is a JSON object whose
    ``key`` holds rows of equal length of plain numbers (and, with ``alone``, nothing else: MLflow's
    bodies hold exactly one of its forms); otherwise None, and the general path (orjson, then
    tensors.py) parses the body and says what is wrong with it.

    simdjson parses the numbers straight into the array: no Python float per number, and no pass of
    numpy's over nested lists to find their shape and type (32 rows of 20: ~10 us against ~42 us;
    /score's requests/s at 8 and 64 connections 1.4x and 1.6x).
    Integers come as float64, as any JSON number may; callers use this only for float inputs. Every
    ``[`` in the body must be the rows' own (``rows + 1`` of them), which rules out deeper nesting;
    anything simdjson refuses (null, strings, booleans, malformed JSON) is left to the general path."""
    if simdjson is None:
        return None
    try:
        doc = _parser().parse(body)
        if not isinstance(doc, simdjson.Object) or (alone and len(doc) != 1):
            return None
        return _rows(doc[key], body, 0)
    except Exception:  # not an object, no such key, a value that is not a number, malformed JSON
        return None


def split_rows(body: bytes) -> np.ndarray | None:
    """The rows of MLflow's ``{"dataframe_split": {"columns": [...], "data": rows}}`` (a pandas
    frame's ``to_dict(orient="split")``, so ``index`` may be there too), read as :func:`number_rows`
    reads rows, when ``columns`` (if any) are strings and the body holds nothing else; otherwise None."""
    if simdjson is None:
        return None
    try:
        doc = _parser().parse(body)
        if not isinstance(doc, simdjson.Object) or len(doc) != 1:
            return None
        split = doc["dataframe_split"]
        if not isinstance(split, simdjson.Object):
            return None
        arrays = 0  # the arrays beside the rows: theirs are the only other [ the body may hold
        columns = split.get("columns")
        if columns is not None:
            if not isinstance(columns, simdjson.Array) or not all(isinstance(c, str) for c in columns):
                return None
            arrays += 1
        if isinstance(split.get("index"), simdjson.Array):
            arrays += 1
        return _rows(split["data"], body, arrays)
    except Exception:
        return None


def _rows(data: Any, body: bytes, arrays: int) -> np.ndarray | None:
    """``data`` (a parsed value of ``body``) as rows, when the body's other ``[`` are ``arrays``'."""
    if not isinstance(data, simdjson.Array):
        return None
    count = len(data)
    if not count or body.count(b"[") != count + 1 + arrays:
        return None
    flat = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
    columns, rest = divmod(len(flat), count)
    if rest or not columns:
        return None
    for row in data:
        if not isinstance(row, simdjson.Array) or len(row) != columns:
            return None
    return flat.reshape(count, columns)
