"""Tensors at the HTTP boundary: signatures, validation, and the Open Inference Protocol's forms."""

from __future__ import annotations

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

# Which input kinds may be cast, losslessly enough, to which target kinds.
_ACCEPTS = {"f": "fiub", "i": "iub", "u": "iub", "b": "b", "O": "UOS", "U": "UOS", "S": "UOS"}


def to_tensor(value: Any, spec: dict[str, Any]) -> np.ndarray:
    """Validate ``value`` against one signature entry ``{"name", "dtype", "shape"}`` and convert it."""
    name, dtype, shape = spec["name"], spec["dtype"], spec.get("shape")
    target = np.dtype("object" if dtype == "string" else dtype)
    try:
        arr = np.asarray(value)
    except ValueError:
        raise BadInput(f"Input {name!r} is ragged: every row must have the same length.") from None
    if arr.dtype.kind == "O" and target.kind != "O":
        raise BadInput(f"Input {name!r} is ragged or mixed: every row must have the same length and type.")
    if arr.dtype.kind not in _ACCEPTS.get(target.kind, target.kind):
        raise BadInput(f"Input {name!r} has dtype {_kind_name(arr)}; the model expects {dtype}.")
    if shape is not None:
        if len(shape) == arr.ndim + 1 and shape[0] is None:
            arr = arr[None, ...]  # a single row sent without its batch dimension
        if arr.ndim != len(shape) or any(d is not None and d != a for d, a in zip(shape, arr.shape)):
            raise BadInput(
                f"Input {name!r} has shape {list(arr.shape)}; the model expects {_fmt_shape(shape)}."
            )
    return arr.astype(target, copy=False)


def _kind_name(arr: np.ndarray) -> str:
    return {"U": "string", "S": "bytes", "O": "object", "b": "bool"}.get(arr.dtype.kind, str(arr.dtype))


def _fmt_shape(shape: list[int | None]) -> str:
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


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


def v2_decode(body: dict[str, Any], binary: bytes, inputs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Open Inference Protocol request tensors (JSON ``data`` or the binary extension) by name."""
    if not isinstance(body.get("inputs"), list) or not body["inputs"]:
        raise BadInput("The request needs a non-empty 'inputs' list.")
    specs = {i["name"]: i for i in inputs}
    out, offset = {}, 0
    for t in body["inputs"]:
        if not isinstance(t, dict) or not {"name", "shape", "datatype"} <= set(t):
            raise BadInput("Each input needs 'name', 'shape' and 'datatype'.")
        name, dtype = t["name"], V2_TO_NUMPY.get(t["datatype"])
        if name not in specs:
            raise BadInput(f"Unknown input {name!r}; the model's inputs are {', '.join(specs)}.")
        if dtype is None:
            raise BadInput(f"Input {name!r} has unknown datatype {t['datatype']!r}.")
        size = (t.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if dtype == "object":
                arr = _decode_bytes_tensor(binary[offset : offset + size])
            else:
                arr = np.frombuffer(binary, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
            offset += size
        else:
            arr = np.asarray(t.get("data"), dtype=dtype)
        try:
            arr = arr.reshape(t["shape"])
        except (ValueError, TypeError):
            raise BadInput(f"Input {name!r}: {arr.size} values do not fill shape {t['shape']}.") from None
        out[name] = to_tensor(arr, specs[name])
    missing = [n for n in specs if n not in out]
    if missing:
        raise BadInput(f"Missing input(s): {', '.join(missing)}.")
    return out


def _decode_bytes_tensor(buf: bytes) -> np.ndarray:
    items, i = [], 0
    while i < len(buf):
        n = int.from_bytes(buf[i : i + 4], "little")
        items.append(buf[i + 4 : i + 4 + n])
        i += 4 + n
    return np.array(items, dtype=object)


def v2_encode(outputs: dict[str, np.ndarray], binary_names: set[str]) -> tuple[list[dict[str, Any]], bytes]:
    """Response tensors: flattened JSON data, or raw bytes for outputs asked for in binary."""
    tensors, chunks = [], []
    for name, arr in outputs.items():
        arr = np.asarray(arr)
        datatype = NUMPY_TO_V2.get(str(arr.dtype), "BYTES" if arr.dtype.kind in "OUS" else "FP64")
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
