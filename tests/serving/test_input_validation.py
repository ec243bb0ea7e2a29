"""Malformed input and values the model's dtype cannot hold: a 4xx that says what was wrong, on every
protocol, and never a traceback in the log. Outputs JSON cannot carry (NaN, inf) are not turned into null."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mlops.registry.models import ModelRegistry

from .conftest import RunningServer
from .onnx_models import onnx_log, onnx_two_int_inputs

ROW = [0.5] * 20
V2 = "/v2/models/lr/infer"


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server(["lr"])


@pytest.fixture
def edge_models(registry: ModelRegistry, tmp_path: Path) -> ModelRegistry:
    registry.register(onnx_two_int_inputs(tmp_path / "ints.onnx"), "ints")
    registry.register(onnx_log(tmp_path / "logm.onnx"), "logm")
    return registry


def _v2_input(**changes: Any) -> dict[str, Any]:
    return {"name": "input", "shape": [1, 20], "datatype": "FP32", "data": ROW, **changes}


def _rejected(r: httpx.Response, status: int = 400, case: Any = None) -> str:
    """The reply is ``status`` with a JSON body of one message; return the message."""
    assert r.status_code == status, (case, r.text)
    body = r.json()
    assert list(body) in (["message"], ["error"]) and isinstance(next(iter(body.values())), str), body
    return next(iter(body.values()))


def _no_traceback(server: RunningServer) -> None:
    assert "Traceback" not in server.log and "Internal error" not in server.log, server.log[-3000:]


V2_MALFORMED = [
    ({"inputs": [_v2_input(data="x")]}, "Input 'input' has dtype string"),
    ({"inputs": [_v2_input(data=[[1, 2], [3]])]}, "ragged"),
    ({"inputs": [_v2_input(data={"a": 1})]}, "Input 'input'"),
    ({"inputs": [_v2_input(name=["input"])]}, "'name' must be a string"),
    ({"inputs": [_v2_input(datatype=["FP32"])]}, "'datatype' must be a string"),
    ({"inputs": [_v2_input(shape="1,20")]}, "'shape' must be a list of non-negative integers"),
    ({"inputs": [_v2_input(parameters=[1])]}, "Input 'input': 'parameters' must be an object"),
    ({"inputs": [_v2_input()], "parameters": [1]}, "'parameters' must be an object"),
    ({"inputs": [_v2_input()], "outputs": 5}, "'outputs' must be a list"),
    ({"inputs": [_v2_input()], "outputs": [{"name": "label", "parameters": 3}]}, "'parameters' must be an object"),
    ({"inputs": [_v2_input(), _v2_input()]}, "Input 'input' is given twice"),
    ({"inputs": [_v2_input(datatype="INT64", data=[2**70] * 20)]}, "out of range for int64"),
    ({"inputs": [_v2_input(data=[None] * 20)]}, "null"),
    ({"inputs": [_v2_input(data=["1.5"] * 20)]}, "has dtype string"),
    ({"inputs": [_v2_input(data=[1e39] * 20)]}, "out of range for float32"),
]


def test_v2_malformed_json_requests_get_400(server: RunningServer) -> None:
    for body, says in V2_MALFORMED:
        message = _rejected(httpx.post(f"{server.url}{V2}", json=body), case=body)
        assert says in message, (body, message)
    _no_traceback(server)


def _binary_request(head: dict[str, Any], tail: bytes, length: bytes | None = None) -> dict[str, Any]:
    raw = json.dumps(head).encode()
    return {"content": raw + tail, "headers": {"inference-header-content-length": length or str(len(raw)).encode()}}


V2_BINARY_MALFORMED = [
    (80, b"", "binary_data_size 80 runs past the end of the body"),
    (-4, b"", "binary_data_size must be a non-negative integer"),
    ("80", struct.pack("<20f", *ROW), "binary_data_size must be a non-negative integer"),
    (78, struct.pack("<20f", *ROW), "78 bytes are not a whole number of FP32 values"),
    (80, struct.pack("<21f", *ROW, 1.0), "4 bytes of binary data follow the tensors that the header describes"),
]


def test_v2_malformed_binary_requests_get_400(server: RunningServer) -> None:
    for size, tail, says in V2_BINARY_MALFORMED:
        head = {"inputs": [{"name": "input", "shape": [1, 20], "datatype": "FP32", "parameters": {"binary_data_size": size}}]}
        message = _rejected(httpx.post(f"{server.url}{V2}", **_binary_request(head, tail)), case=size)
        assert says in message, (size, message)
    _no_traceback(server)


def test_v2_header_length_that_is_a_digit_but_not_a_number_gets_400(server: RunningServer) -> None:
    request = _binary_request({"inputs": [_v2_input()]}, b"", length="²".encode("latin-1"))
    assert "Invalid inference-header-content-length" in _rejected(httpx.post(f"{server.url}{V2}", **request))
    _no_traceback(server)


SCORE_UNFIT = [
    ([[1e39, -1e39] + ROW[2:]], "out of range for float32"),  # (2**70, about 1.18e21, is a float32)
    ([[None] + ROW[1:]], "null"),
    ([], "is empty"),
    ("x", "has dtype string"),
]


def test_azure_score_rejects_values_the_dtype_cannot_hold(server: RunningServer) -> None:
    for data, says in SCORE_UNFIT:
        message = _rejected(httpx.post(f"{server.url}/score", json={"data": data}), case=data)
        assert says in message, (data, message)
    _no_traceback(server)


def test_integer_inputs_are_range_checked_against_their_own_dtype(
    start_server: Callable[..., RunningServer], edge_models: ModelRegistry
) -> None:
    server = start_server(["ints"])
    ok = httpx.post(f"{server.url}/score", json={"data": {"a": [[2**62, -1]], "b": [[0, 255]]}})
    assert ok.json() == {"a_out": [[2**62, -1]], "b_out": [[0, 255]]}
    for data, says in (({"a": [[1, 2]], "b": [[256, 0]]}, "Input 'b' holds values out of range for uint8"),
                       ({"a": [[1, 2]], "b": [[-1, 0]]}, "Input 'b' holds values out of range for uint8"),
                       ({"a": [[2**63, 0]], "b": [[1, 2]]}, "Input 'a' holds values out of range for int64"),
                       ({"a": [[1.5, 2]], "b": [[1, 2]]}, "Input 'a' has dtype float64; the model expects int64")):
        assert says in _rejected(httpx.post(f"{server.url}/score", json={"data": data}))
    v2 = {"inputs": [{"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]},
                     {"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [300, 2]}]}
    assert "Input 'b' holds values out of range for uint8" in _rejected(httpx.post(f"{server.url}/v2/models/ints/infer", json=v2))
    _no_traceback(server)


MLFLOW_MALFORMED = [
    ({"dataframe_split": {"columns": ["a", "b"], "data": [5]}}, "dataframe_split 'data' must be a list of rows"),
    ({"dataframe_split": {"columns": "ab", "data": [[1, 2]]}}, "'columns' must be a list of strings"),
    ({"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, "row 0 has 1 values for 2 columns"),
    ({"instances": [{"a": [1, 2], "b": [1, 2]}, 5]}, "instances must all be objects"),
    ({"dataframe_records": [{"a": [1, 2]}]}, "Input 'b'"),
]


def test_mlflow_malformed_requests_get_400(start_server: Callable[..., RunningServer], edge_models: ModelRegistry) -> None:
    server = start_server(["ints"])
    for body, says in MLFLOW_MALFORMED:
        message = _rejected(httpx.post(f"{server.url}/invocations", json=body), case=body)
        assert says in message, (body, message)
    _no_traceback(server)


def test_mlflow_csv_with_nan_or_a_nul_byte_gets_400(server: RunningServer) -> None:
    header = ",".join(f"x{i}" for i in range(20))
    for line, says in ((",".join(["nan"] * 20), "not finite"), ("1,\x00" + ",1" * 18, "CSV")):
        r = httpx.post(f"{server.url}/invocations", content=f"{header}\n{line}\n", headers={"content-type": "text/csv"})
        assert says in _rejected(r)
    _no_traceback(server)


def test_nan_and_inf_outputs_are_a_500_that_says_so_not_null(
    start_server: Callable[..., RunningServer], edge_models: ModelRegistry
) -> None:
    server = start_server(["logm"])
    assert httpx.post(f"{server.url}/score", json={"data": [[1.0, 1.0]]}).json() == [[0.0, 0.0]]
    for r in (httpx.post(f"{server.url}/score", json={"data": [[-1.0, 0.0]]}),
              httpx.post(f"{server.url}/invocations", json={"inputs": [[-1.0, 0.0]]}),
              httpx.post(f"{server.url}/v2/models/logm/infer",
                         json={"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [-1.0, 0.0]}]})):
        message = _rejected(r, 500)
        rid = r.headers["x-request-id"]
        assert message == f"The model's output holds NaN or infinity, which JSON cannot carry (request id {rid}).", message
        assert f"request {rid}: the model's output holds NaN or infinity" in server.log
    # In the binary tensor extension the values travel as they are.
    body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [-1.0, 0.0]}],
            "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}
    r = httpx.post(f"{server.url}/v2/models/logm/infer", json=body)
    assert r.status_code == 200
    head = int(r.headers["inference-header-content-length"])
    y = struct.unpack("<2f", r.content[head:])
    assert y[0] != y[0] and y[1] == float("-inf")
    _no_traceback(server)


def test_script_results_with_nan_are_a_500_not_null(start_server: Callable[..., RunningServer], tmp_path: Path) -> None:
    script = tmp_path / "nan.py"
    script.write_text("def run(data):\n    return {'score': float('nan'), 'ok': None}\n")
    server = start_server(["lr"], script=script)
    message = _rejected(httpx.post(f"{server.url}/score", content="x"), 500)
    assert message.startswith("The model's output holds NaN or infinity"), message


def test_a_version_that_is_a_digit_but_not_a_number_gets_404(server: RunningServer) -> None:
    r = httpx.get(f"{server.url}/v2/models/lr/versions/%C2%B2")  # "²": a digit to str.isdigit, not to int
    assert _rejected(r, 404) == "Model 'lr' has no version '²' in this server."
    _no_traceback(server)


def test_a_request_the_http_parser_rejects_gets_a_json_400(server: RunningServer) -> None:
    r = httpx.post(f"{server.url}/score", json={"data": [ROW]}, headers={"x-request-id": "a\x7fb"})
    assert _rejected(r).startswith("Invalid HTTP request")
    _no_traceback(server)
