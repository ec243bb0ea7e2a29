"""Small real models made on the spot: no downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def training_data(n_features: int = 20, rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n_features)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).astype(np.int64)
    return x, y


def sklearn_logreg(n_features: int = 20, seed: int = 0):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    x, y = training_data(n_features, seed=seed)
    return LogisticRegression(max_iter=200).fit(x, y)


def onnx_logreg(path: Path, n_features: int = 20, seed: int = 0) -> Path:
    """A scikit-learn logistic regression exported to ONNX: input 'input' float32 [None, n]."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    clf = sklearn_logreg(n_features, seed)
    onx = to_onnx(
        clf, initial_types=[("input", FloatTensorType([None, n_features]))],
        options={id(clf): {"zipmap": False}}, target_opset=17,
    )
    path.write_bytes(onx.SerializeToString())
    return path


def onnx_mlp(path: Path, n_in: int = 20, hidden: int = 1024, n_out: int = 2, seed: int = 0) -> Path:
    """An MLP n_in -> hidden -> hidden -> n_out built from ONNX ops (single-row run >= ~100 us)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    dims = [n_in, hidden, hidden, n_out]
    inits, nodes, prev = [], [], "input"
    for i in range(3):
        w = (rng.normal(size=(dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        b = np.zeros(dims[i + 1], dtype=np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = f"h{i}" if i < 2 else "logits"
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"g{i}" if i < 2 else out]))
        if i < 2:
            nodes.append(helper.make_node("Relu", [f"g{i}"], [out]))
        prev = out
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, n_out])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def sklearn_joblib(path: Path, n_features: int = 20) -> Path:
    import joblib

    joblib.dump(sklearn_logreg(n_features), path)
    return path
