"""Detect a model's framework and, for ONNX, read its input/output signature from the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FRAMEWORKS = ("onnx", "sklearn", "custom")
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib"}
_SNIFF_BYTES = 1 << 20


def detect_framework(path: Path) -> str:
    """onnx for ``.onnx`` files (or a folder with exactly one), sklearn for pickles that name
    sklearn classes (found by reading bytes, never by unpickling), custom otherwise."""
    main = main_file(path)
    if main is None:
        return "custom"
    if main.suffix == ".onnx":
        return "onnx"
    if main.suffix in _PICKLE_SUFFIXES:
        with main.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
        if b"sklearn." in head:
            return "sklearn"
    return "custom"


def main_file(path: Path) -> Path | None:
    """The file that is the model: the path itself, or the single model file in a folder."""
    if path.is_file():
        return path
    candidates = [p for p in path.rglob("*") if p.is_file() and (p.suffix == ".onnx" or p.suffix in _PICKLE_SUFFIXES)]
    return candidates[0] if len(candidates) == 1 else None


_ONNX_DTYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
    8: "string", 9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64",
}


def onnx_signature(path: Path) -> dict[str, Any]:
    """``{"inputs": [{"name", "dtype", "shape"}], "outputs": [...]}``; dynamic dims are None."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}

    def describe(value: Any) -> dict[str, Any] | None:
        t = value.type
        if t.HasField("tensor_type"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.tensor_type.shape.dim]
            return {"name": value.name, "dtype": _ONNX_DTYPES.get(t.tensor_type.elem_type, "unknown"), "shape": dims}
        if t.HasField("sequence_type") or t.HasField("map_type"):
            return {"name": value.name, "dtype": "sequence" if t.HasField("sequence_type") else "map", "shape": None}
        return None

    inputs = [describe(v) for v in model.graph.input if v.name not in initializers]
    outputs = [describe(v) for v in model.graph.output]
    return {"inputs": [i for i in inputs if i], "outputs": [o for o in outputs if o]}


def read_signature(path: Path, framework: str) -> dict[str, Any] | None:
    if framework != "onnx":
        return None
    main = main_file(path)
    return onnx_signature(main) if main is not None else None
