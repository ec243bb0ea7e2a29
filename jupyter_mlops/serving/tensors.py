"""Tensors at the HTTP boundary: signatures, validation, and the Open Inference Protocol's forms.

Every protocol's input becomes a typed array here and only here (:func:`to_array`, :func:`to_tensor`),
so one set of rules holds for ``/score``, ``/invocations`` and v2: rows of one length; numbers for
numeric inputs (no null, no numeric strings); integers within the model's integer type; floats
finite after conversion (``1e39`` does not fit float32). JSON cannot carry NaN or infinity, so a
non-finite value only arises from a narrowing cast and is refused (CSV's ``nan`` is refused as it
is read). Tensors in v2's binary extension are taken as their bytes say.
"""

from __future__ import annotations

import base64
import functools
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from .errors import BadInput

# Open Inference Protocol v2 datatypes <-> numpy dtypes.
V2_TO_NUMPY = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
    "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
NUMPY_TO_V2 = {v: k for k, v in V2_TO_NUMPY.items()} | {"string": "BYTES", "str": "BYTES"}
# A collected v2 message that used the binary extension: its JSON header as it came, and under this
# key the binary part, base64: exact, and a byte copy instead of formatting each value as text.
RECORDED_BINARY = "binary_data_base64"

# Which input kinds may be cast, losslessly enough, to which target kinds.
_ACCEPTS = {"f": "fiub", "i": "iub", "u": "iub", "b": "b", "O": "UOS", "U": "UOS", "S": "UOS"}
# A cast that overflows is refused with a 400 below; numpy's warning about it would be log noise.
warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning, __name__)
_F32_INF = tuple(np.array([np.inf, -np.inf], dtype=np.float32)[i : i + 1].tobytes() for i in range(2))
_JSON_NAMES = {dict: "objects", list: "arrays", str: "strings", bool: "booleans", int: "integers", float: "numbers"}


@functools.lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype:
    return np.dtype("object" if name == "string" else name)


def model_dtype(spec: dict[str, Any]) -> np.dtype:
    return _dtype(spec["dtype"])


def to_array(value: Any, dtype: np.dtype, name: str, wanted: str | None = None) -> np.ndarray:
    """JSON data (nested lists of numbers, booleans or strings) as an array of ``dtype``."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise BadInput(f"Input {name!r} is ragged: every row must have the same length.") from None
    return cast(arr, dtype, name, True, wanted)


def cast(arr: np.ndarray, target: np.dtype, name: str, finite: bool, wanted: str | None = None) -> np.ndarray:
    """``arr`` as ``target``, refusing kinds it does not take and values it cannot hold. ``wanted``
    says in messages who wants ``target`` (by default: the model)."""
    kind = arr.dtype.kind
    if kind == "O" and target.kind != "O":
        raise BadInput(_object_problem(arr, target, name))
    if kind not in _ACCEPTS.get(target.kind, target.kind):
        if kind == "f" and target.kind in "iu" and _whole_but_out_of_range(arr, target):
            raise BadInput(f"Input {name!r} holds values out of range for {target}.")
        wanted = wanted or f"the model expects {_dtype_name(target)}"
        raise BadInput(f"Input {name!r} has dtype {_kind_name(arr)}; {wanted}.")
    if arr.dtype == target:
        return arr
    if target.kind in "iu" and not np.can_cast(arr.dtype, target) and arr.size:
        info = np.iinfo(target)
        if arr.min() < info.min or arr.max() > info.max:
            raise BadInput(f"Input {name!r} holds values out of range for {target} ({info.min} to {info.max}).")
    # JSON floats are finite (orjson refuses NaN, Infinity and 1e309): only a narrowing cast can overflow.
    if not (finite and target.kind == "f" and target.itemsize < arr.dtype.itemsize):
        return arr.astype(target)
    out = _narrowed(arr, target)
    if out is None:
        raise BadInput(f"Input {name!r} holds values out of range for {target} "
                       f"(finite values up to {float(np.finfo(target).max):.4g}).")
    return out


SEARCH_MAX = 64  # values: up to here a narrowing cast's result is searched for infinities, beyond it the cast traps


def _narrowed(arr: np.ndarray, target: np.dtype) -> np.ndarray | None:
    """``arr`` (finite floats) cast to the narrower float ``target``; None when that makes an infinity.

    Small arrays: cast, then search the result's bytes (:func:`_overflowed`). Larger ones: cast with
    numpy's overflow trap on, which costs a fixed ~2 us for its error state whatever the data, while
    the search grows with the bytes and with how often they look like an infinity's (32 rows of 20
    small whole numbers: 18 us)."""
    if arr.size <= SEARCH_MAX:
        out = arr.astype(target)
        return None if _overflowed(out) else out
    try:
        with np.errstate(over="raise"):
            return arr.astype(target)
    except FloatingPointError:
        return None


def _overflowed(out: np.ndarray) -> bool:
    """Whether a narrowing float cast made an infinity. For float32 (the usual case) a search of the
    bytes for the two infinities' bit patterns, then a look at each value only if one turns up (it
    can straddle two values): numpy's ufunc machinery costs microseconds on tiny arrays."""
    if out.dtype == np.float32:
        raw = out.tobytes()
        if raw.find(_F32_INF[0]) == -1 and raw.find(_F32_INF[1]) == -1:  # (not ``in``: see encoding.dumps)
            return False
    return not bool(np.isfinite(out).all())


def _whole_but_out_of_range(arr: np.ndarray, target: np.dtype) -> bool:
    """Whole numbers past 64 bits reach us as floats (orjson), or mixed with negatives past int64 (numpy)."""
    info = np.iinfo(target)
    whole = np.isfinite(arr).all() and bool((arr == np.trunc(arr)).all())
    return whole and bool(arr.size) and (arr.min() < float(info.min) or arr.max() >= float(info.max + 1))


def _object_problem(arr: np.ndarray, target: np.dtype, name: str) -> str:
    """Why numpy made an object array of a numeric input: null, huge integers, or nested objects."""
    items = arr.ravel().tolist()
    if any(v is None for v in items):
        return f"Input {name!r} holds null values; the model expects {_dtype_name(target)}."
    if all(type(v) is int for v in items):
        return f"Input {name!r} holds values out of range for {_dtype_name(target)}."
    kinds = sorted({_JSON_NAMES.get(type(v), type(v).__name__) for v in items} - {"integers", "numbers"})
    return f"Input {name!r} holds {' and '.join(kinds) or 'mixed values'}; the model expects {_dtype_name(target)}."


def _kind_name(arr: np.ndarray) -> str:
    return {"U": "string", "S": "bytes", "O": "object", "b": "bool"}.get(arr.dtype.kind, str(arr.dtype))


def _dtype_name(dtype: np.dtype) -> str:
    return "string" if dtype.kind == "O" else str(dtype)


def _fmt_shape(shape: list[int | None]) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


def to_tensor(value: Any, spec: dict[str, Any], finite: bool = True) -> np.ndarray:
    """Validate ``value`` (JSON data or an array) against one signature entry ``{"name", "dtype",
    "shape"}`` and convert it."""
    name, shape = spec["name"], spec.get("shape")
    target = model_dtype(spec)
    arr = cast(value, target, name, finite) if isinstance(value, np.ndarray) else to_array(value, target, name)
    if arr.size == 0:
        raise BadInput(f"Input {name!r} is empty: send at least one row.")
    if shape is not None:
        if len(shape) == arr.ndim + 1 and shape[0] is None:
            arr = arr[None, ...]  # a single row sent without its batch dimension
        if not _fits(tuple(shape), arr.shape):
            raise BadInput(f"Input {name!r} has shape {list(arr.shape)}; the model expects {_fmt_shape(shape)}.")
    return arr


@functools.lru_cache(maxsize=1024)
def _fits(shape: tuple[int | None, ...], dims: tuple[int, ...]) -> bool:
    """Whether an array of ``dims`` has the signature's ``shape`` (None: any size). Cached: a server
    sees few distinct shapes, and the check costs more than the lookup."""
    return len(dims) == len(shape) and all(d is None or d == a for d, a in zip(shape, dims))


def takes_float_rows(inputs: list[dict[str, Any]]) -> bool:
    """Whether the model has one input, of a float type: what :func:`~.encoding.number_rows` is for."""
    return len(inputs) == 1 and model_dtype(inputs[0]).kind == "f"


def inputs_from_data(data: Any, inputs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``{"data": ...}`` bodies: one input takes the value itself; several take a dict by name."""
    if len(inputs) == 1 and not (isinstance(data, dict) and inputs[0]["name"] in data):
        return {inputs[0]["name"]: to_tensor(data, inputs[0])}
    if not isinstance(data, dict):
        names = ", ".join(i["name"] for i in inputs)
        raise BadInput(f"This model has several inputs ({names}): send 'data' as an object keyed by input name.")
    missing = [i["name"] for i in inputs if i["name"] not in data]
    if missing:
        raise BadInput(f"Missing input(s): {', '.join(missing)}.")
    unknown = sorted(set(data) - {i["name"] for i in inputs})
    if unknown:
        raise BadInput(f"Unknown input(s): {', '.join(unknown)}.")
    return {i["name"]: to_tensor(data[i["name"]], i) for i in inputs}


# --- Open Inference Protocol v2 ------------------------------------------------------------------

def json_object(value: Any, what: str) -> dict[str, Any]:
    """An optional JSON object field (``parameters``): {} when absent, else it must be an object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{what} must be an object.")
    return value


def _v2_header(t: Any) -> tuple[str, str, list[int], dict[str, Any]]:
    """One request tensor's name, datatype, shape and parameters, each checked for its JSON type."""
    if not isinstance(t, dict) or not {"name", "shape", "datatype"} <= set(t):
        raise BadInput("Each input needs 'name', 'shape' and 'datatype'.")
    name = t["name"]
    if not isinstance(name, str):
        raise BadInput(f"Each input's 'name' must be a string, not {name!r:.50}.")
    datatype, shape = t["datatype"], t["shape"]
    if not isinstance(datatype, str):
        raise BadInput(f"Input {name!r}: 'datatype' must be a string, not {datatype!r:.50}.")
    if datatype not in V2_TO_NUMPY:
        raise BadInput(f"Input {name!r} has unknown datatype {datatype!r:.50}; use one of {', '.join(V2_TO_NUMPY)}.")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BadInput(f"Input {name!r}: 'shape' must be a list of non-negative integers, not {shape!r:.50}.")
    return name, datatype, shape, json_object(t.get("parameters"), f"Input {name!r}: 'parameters'")


def v2_decode(body: dict[str, Any], binary: bytes, inputs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Open Inference Protocol request tensors (JSON ``data`` or the binary extension) by name."""
    if not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise BadInput("The request needs a non-empty 'inputs' list.")
    specs = {i["name"]: i for i in inputs}
    out: dict[str, np.ndarray] = {}
    for name, arr, in_binary in _v2_tensors(body["inputs"], binary):
        if name not in specs:
            raise BadInput(f"Unknown input {name!r}; the model's inputs are {', '.join(specs)}.")
        if name in out:
            raise BadInput(f"Input {name!r} is given twice.")
        out[name] = to_tensor(arr, specs[name], finite=not in_binary)
    missing = [n for n in specs if n not in out]
    if missing:
        raise BadInput(f"Missing input(s): {', '.join(missing)}.")
    return out


def v2_recorded(message: dict[str, Any], key: str) -> dict[str, np.ndarray]:
    """A collected v2 request's tensors (``key="inputs"``) or response's (``"outputs"``) by name, in
    their shapes: JSON ``data`` as recorded, binary ones from the record's base64 binary part."""
    binary = base64.b64decode(message.get(RECORDED_BINARY, ""), validate=True)
    return {name: arr for name, arr, _ in _v2_tensors(message[key], binary)}


def _v2_tensors(tensors: list[Any], binary: bytes) -> Iterator[tuple[str, np.ndarray, bool]]:
    """Each tensor's name, values in its shape, and whether they came in binary; the binary part
    must be used up exactly."""
    offset = 0
    for t in tensors:
        name, datatype, shape, params = _v2_header(t)
        size = params.get("binary_data_size")
        if size is not None:
            arr = _binary_tensor(binary, offset, size, datatype, name)
            offset += size
        elif "data" in t:
            arr = to_array(t["data"], _v2_numpy(datatype), name, f"its datatype is {datatype}")
        else:
            raise BadInput(f"Input {name!r} has neither 'data' nor a binary_data_size parameter.")
        if arr.size != math.prod(shape):
            raise BadInput(f"Input {name!r}: {arr.size} values do not fill shape {shape}.")
        yield name, arr.reshape(shape), size is not None
    if offset != len(binary):
        raise BadInput(f"{len(binary) - offset} bytes of binary data follow the tensors that the header describes.")


def _binary_tensor(binary: bytes, offset: int, size: Any, datatype: str, name: str) -> np.ndarray:
    if type(size) is not int or size < 0:
        raise BadInput(f"Input {name!r}: binary_data_size must be a non-negative integer, not {size!r:.50}.")
    if offset + size > len(binary):
        raise BadInput(f"Input {name!r}: binary_data_size {size} runs past the end of the body "
                       f"({len(binary) - offset} bytes of binary data left).")
    if datatype == "BYTES":
        return _decode_bytes_tensor(binary[offset : offset + size], name)
    dtype = _v2_numpy(datatype)
    if size % dtype.itemsize:
        raise BadInput(f"Input {name!r}: {size} bytes are not a whole number of {datatype} values.")
    return np.frombuffer(binary, dtype=dtype, count=size // dtype.itemsize, offset=offset)


def _decode_bytes_tensor(buf: bytes, name: str) -> np.ndarray:
    """BYTES in the binary extension: each element a 4-byte little-endian length, then its bytes."""
    items, i = [], 0
    while i < len(buf):
        n = int.from_bytes(buf[i : i + 4], "little")
        if i + 4 + n > len(buf):
            raise BadInput(f"Input {name!r}: a BYTES element's length runs past its binary_data_size.")
        items.append(buf[i + 4 : i + 4 + n])
        i += 4 + n
    return np.array(items, dtype=object)


@functools.lru_cache(maxsize=64)
def _v2_numpy(datatype: str) -> np.dtype:
    return np.dtype(V2_TO_NUMPY[datatype])


@functools.lru_cache(maxsize=64)
def _v2_datatype(dtype: np.dtype) -> str:
    """The v2 datatype of an output's dtype (cached: ``str(dtype)`` costs microseconds in numpy 2)."""
    return NUMPY_TO_V2.get(str(dtype), "BYTES" if dtype.kind in "OUS" else "FP64")


def v2_encode(outputs: dict[str, np.ndarray], binary_names: set[str]) -> tuple[list[dict[str, Any]], bytes]:
    """Response tensors: flattened JSON data, or raw bytes for outputs asked for in binary."""
    tensors, chunks = [], []
    for name, arr in outputs.items():
        arr = np.asarray(arr)
        datatype = _v2_datatype(arr.dtype)
        entry: dict[str, Any] = {"name": name, "shape": list(arr.shape), "datatype": datatype}
        if name in binary_names and datatype != "BYTES":
            raw = np.ascontiguousarray(arr).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = arr.ravel().tolist()
        tensors.append(entry)
    return tensors, b"".join(chunks)


def rows(data: Any) -> int:
    """The batch size of a request's first input."""
    return int(np.shape(data)[0]) if np.ndim(data) else 1
