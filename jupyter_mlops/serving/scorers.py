"""What answers a request: a no-code model (ONNX, sklearn) or a scoring script (init/run)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadInput


class ModelScorer:
    """A no-code model: tensors in, tensors out, validated against its signature."""

    name: str
    version: int
    platform: str
    signature: dict[str, Any]
    key: tuple[str, int]  # one tuple: collection caches by identity

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return list(self.signature["inputs"])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return list(self.signature["outputs"])


class OnnxScorer(ModelScorer):
    platform = "onnxruntime_onnx"

    def __init__(self, name: str, version: int, path: Path, intra_op_threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name, self.version = name, version
        self.key = (name, version)  # one tuple: collection caches by identity
        self.signature = {
            "inputs": [_ort_spec(i) for i in self.session.get_inputs()],
            "outputs": [_ort_spec(o) for o in self.session.get_outputs()],
        }
        self._output_names = [o["name"] for o in self.signature["outputs"]]
        # The session's C++ run, without the Python wrapper's checks of the input names (tensors.py
        # has checked them): 2 us of a single-row request's ~10 us. The wrapper where it is not there.
        self._run = getattr(self.session, "_sess", self.session).run
        # One RunOptions for every run, read only: given None, the binding looks for one the costly
        # way (3.1 k instructions a run, 1.6 % of a single-row request, counted under cachegrind).
        self._run_options = ort.RunOptions()

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            results = self._run(self._output_names, inputs, self._run_options)
        except Exception as exc:
            raise BadInput(f"The model rejected the input: {str(exc).splitlines()[0][:300]}") from None
        return dict(zip(self._output_names, results))


_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
    "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
    "tensor(bool)": "bool", "tensor(string)": "string", "tensor(float16)": "float16",
    "tensor(int16)": "int16", "tensor(uint16)": "uint16", "tensor(uint32)": "uint32", "tensor(uint64)": "uint64",
}


def _ort_spec(node: Any) -> dict[str, Any]:
    shape = [d if isinstance(d, int) else None for d in node.shape] if node.shape is not None else None
    return {"name": node.name, "dtype": _ORT_TYPES.get(node.type, node.type), "shape": shape}


class SklearnScorer(ModelScorer):
    platform = "sklearn"

    def __init__(self, name: str, version: int, path: Path) -> None:
        import joblib

        self.model = joblib.load(path)
        self.name, self.version = name, version
        self.key = (name, version)  # one tuple: collection caches by identity
        n = getattr(self.model, "n_features_in_", None)
        self.signature = {
            "inputs": [{"name": "input", "dtype": "float64", "shape": [None, n] if n else None}],
            "outputs": [{"name": "predictions", "dtype": "float64", "shape": [None]}],
        }

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return {"predictions": np.asarray(self.model.predict(inputs["input"]))}
        except ValueError as exc:
            raise BadInput(f"The model rejected the input: {str(exc).splitlines()[0][:300]}") from None


def load_model_scorer(entry: dict[str, Any], path: Path, intra_op_threads: int = 0) -> ModelScorer | None:
    """A no-code scorer for ONNX and sklearn models; None for custom models (they need a script)."""
    framework = entry.get("framework")
    if framework == "onnx" or path.suffix == ".onnx":
        target = path if path.is_file() else next(path.rglob("*.onnx"))
        return OnnxScorer(entry["name"], entry["version"], target, intra_op_threads)
    if framework == "sklearn":
        pickles = (p for p in path.rglob("*") if p.suffix in (".pkl", ".joblib", ".pickle"))
        target = path if path.is_file() else next(pickles)
        return SklearnScorer(entry["name"], entry["version"], target)
    return None


class ScriptScorer:
    """An Azure ML style scoring script: ``init()`` once, ``run(data[, request_headers])``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        spec = importlib.util.spec_from_file_location("score", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"Cannot load scoring script {str(path)!r}.")
        module = importlib.util.module_from_spec(spec)
        sys.modules["score"] = module
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
        if not callable(getattr(module, "run", None)):
            raise RuntimeError(f"Scoring script {path.name!r} defines no run() function.")
        self.module = module
        params = inspect.signature(module.run).parameters
        self.wants_headers = "request_headers" in params

    def init(self) -> None:
        init = getattr(self.module, "init", None)
        if callable(init):
            init()

    def run(self, body: str, headers: dict[str, str]) -> Any:
        if self.wants_headers:
            return self.module.run(body, request_headers=headers)
        return self.module.run(body)
