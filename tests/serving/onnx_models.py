"""Tiny ONNX graphs for the server's edge cases: integer inputs of two widths, and an output that
turns NaN and -inf for inputs a client may well send."""

from __future__ import annotations

from pathlib import Path


def _save(path: Path, nodes: list, inputs: list, outputs: list) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(helper.make_graph(nodes, path.stem, inputs, outputs),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def onnx_two_int_inputs(path: Path) -> Path:
    """Inputs 'a' int64 [None, 2] and 'b' uint8 [None, 2]; outputs 'a_out' and 'b_out' echo them."""
    from onnx import TensorProto, helper

    info = helper.make_tensor_value_info
    return _save(
        path,
        [helper.make_node("Identity", ["a"], ["a_out"]), helper.make_node("Identity", ["b"], ["b_out"])],
        [info("a", TensorProto.INT64, [None, 2]), info("b", TensorProto.UINT8, [None, 2])],
        [info("a_out", TensorProto.INT64, [None, 2]), info("b_out", TensorProto.UINT8, [None, 2])],
    )


def onnx_log(path: Path) -> Path:
    """Input 'x' float32 [None, 2]; output 'y' = log(x): NaN for x < 0, -inf for x = 0."""
    from onnx import TensorProto, helper

    info = helper.make_tensor_value_info
    return _save(path, [helper.make_node("Log", ["x"], ["y"])],
                 [info("x", TensorProto.FLOAT, [None, 2])], [info("y", TensorProto.FLOAT, [None, 2])])
