"""Mutation fuzz of the three scoring protocols against a real server: valid requests with one part
replaced by arbitrary JSON, dropped, or its bytes cut or garbled. No 5xx (but the documented 500 for
a model output JSON cannot carry), no hang, every reply as /swagger.json documents it, no traceback in
the log, and the server answers afterwards."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import RunningServer
from .openapi_check import Documented

ROW = [0.5] * 20
COLUMNS = [f"x{i}" for i in range(20)]
SETTINGS = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
NON_FINITE_OUTPUT = "The model's output holds NaN or infinity"

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=6) | st.sampled_from(["input", "FP32", "INT64", "BYTES", "label", "1", "²", "-1"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                           max_leaves=12)
replacements = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70) | json_values


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any, drop: bool) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    if drop and len(path) == 1:
        del copy[path[0]]
    else:
        copy[path[0]] = _replace(copy[path[0]], path[1:], new, drop)
    return copy


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """``template`` with one to three of its parts replaced by arbitrary JSON or dropped."""
    value = template
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(value)))
        value = _replace(value, path, draw(replacements), drop=bool(path) and draw(st.booleans()))
    return value


@st.composite
def raw_bodies(draw: st.DrawFn, template: Any) -> bytes:
    """The template's JSON text, cut short or with a few bytes garbled."""
    raw = bytearray(json.dumps(template).encode())
    if draw(st.booleans()):
        return bytes(raw[: draw(st.integers(0, len(raw)))])
    for _ in range(draw(st.integers(1, 4))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    return bytes(raw)


HEADER_CHARS = st.characters(codec="latin-1", categories=["L", "N", "P", "S"])  # what a header value may hold
V2_TEMPLATE = {
    "id": "r1", "parameters": {"binary_data_output": False},
    "inputs": [{"name": "input", "shape": [1, 20], "datatype": "FP32", "data": ROW, "parameters": {}}],
    "outputs": [{"name": "label", "parameters": {"binary_data": False}}, {"name": "probabilities"}],
}
V2_BINARY_HEAD = {"inputs": [{"name": "input", "shape": [1, 20], "datatype": "FP32", "parameters": {"binary_data_size": 80}}],
                  "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}
MLFLOW_TEMPLATES = [
    {"dataframe_split": {"columns": COLUMNS, "data": [ROW]}},
    {"dataframe_records": [dict(zip(COLUMNS, ROW))]},
    {"instances": [ROW]},
    {"inputs": [ROW]},
]


def _fuzz(server: RunningServer, path: str, requests: st.SearchStrategy[dict[str, Any]]) -> None:
    check = Documented(httpx.get(f"{server.url}/swagger.json").json())
    url = server.url + path.replace("{name}", "lr")
    statuses: dict[int, int] = {}

    with httpx.Client(timeout=10) as client:
        @SETTINGS
        @given(requests)
        def one(request: dict[str, Any]) -> None:
            reply = client.post(url, **request)
            statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1
            assert reply.status_code < 500 or reply.json().get("error", reply.json().get("message", "")).startswith(
                NON_FINITE_OUTPUT), (request, reply.status_code, reply.text)
            check.check_reply(path, "post", reply)
            if reply.status_code == 200 and reply.headers["content-type"] == "application/json":
                assert not _has_null(reply.json()), (request, reply.text)  # no NaN or inf passed off as null

        one()
    assert statuses.get(400, 0) > 50 and statuses.get(200, 0) > 5, statuses  # the fuzz reached both sides
    assert httpx.post(f"{server.url}/score", json={"data": [ROW]}).status_code == 200
    assert "Traceback" not in server.log, server.log[-4000:]


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_null(v) for k, v in value.items() if k != "id")  # v2 echoes the request's id as sent
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return value is None


def _json(body: Any) -> dict[str, Any]:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def test_fuzz_azure_score(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    template = {"data": [ROW, ROW]}
    _fuzz(server, "/score", st.one_of(mutated(template).map(_json), raw_bodies(template).map(lambda b: {"content": b})))


def test_fuzz_v2_infer_json_and_binary(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])

    @st.composite
    def binary(draw: st.DrawFn) -> dict[str, Any]:
        head = json.dumps(draw(mutated(V2_BINARY_HEAD))).encode()
        tail = draw(st.sampled_from([struct.pack("<20f", *ROW), b""]) | st.binary(max_size=120))
        length = draw(st.sampled_from([str(len(head)), str(len(head) + 3), "0", "²", "-1", "x"]) | st.text(HEADER_CHARS, max_size=4))
        return {"content": head + tail, "headers": {"inference-header-content-length": length.encode("latin-1")}}

    requests = st.one_of(mutated(V2_TEMPLATE).map(_json), binary(), raw_bodies(V2_TEMPLATE).map(lambda b: {"content": b}))
    _fuzz(server, "/v2/models/{name}/infer", requests)


def test_fuzz_mlflow_invocations(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])

    @st.composite
    def csv(draw: st.DrawFn) -> dict[str, Any]:
        text = ",".join(COLUMNS) + "\n" + ",".join(map(str, ROW)) + "\n"
        raw = bytearray(text.encode())
        for _ in range(draw(st.integers(0, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        return {"content": bytes(raw), "headers": {"content-type": "text/csv"}}

    requests = st.one_of(st.sampled_from(MLFLOW_TEMPLATES).flatmap(mutated).map(_json), csv(),
                         st.sampled_from(MLFLOW_TEMPLATES).flatmap(raw_bodies).map(
                             lambda b: {"content": b, "headers": {"content-type": "application/json"}}))
    _fuzz(server, "/invocations", requests)
