"""The baselines for bench/serve.py: the least a performance-minded user would write by hand.

Two HTTP stacks around the same few lines (parse with orjson, ``session.run``, encode), no auth,
no metrics, no validation:

- ``app``: Starlette on uvicorn (httptools, uvloop);
  run ``MODEL=path.onnx uvicorn bench.minimal_server:app --workers N --http httptools --loop uvloop``;
- ``rsgi_app``: Granian's RSGI interface (HTTP in Rust);
  run ``MODEL=path.onnx granian --interface rsgi bench.minimal_server:rsgi_app --workers N``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("INTRA_OP_THREADS", "1"))
session = ort.InferenceSession(os.environ["MODEL"], options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
output_names = [o.name for o in session.get_outputs()]


def predict(body: bytes) -> bytes:
    data = orjson.loads(body)["data"]
    outputs = session.run(output_names, {input_name: np.asarray(data, dtype=np.float32)})
    return orjson.dumps(dict(zip(output_names, outputs)), option=orjson.OPT_SERIALIZE_NUMPY)


async def score(request: Request) -> Response:
    return Response(predict(await request.body()), media_type="application/json")


def predict_v2(body: bytes, header_length: int) -> bytes:
    """Open Inference Protocol, binary extension: one FP32 input tensor, JSON outputs."""
    head = orjson.loads(body[:header_length])
    x = np.frombuffer(body, dtype=np.float32, offset=header_length).reshape(head["inputs"][0]["shape"])
    outputs = session.run(output_names, {input_name: x})
    tensors = [{"name": n, "datatype": str(o.dtype), "shape": list(o.shape), "data": o.ravel()}
               for n, o in zip(output_names, outputs)]
    return orjson.dumps({"model_name": "m", "outputs": tensors}, option=orjson.OPT_SERIALIZE_NUMPY)


async def infer(request: Request) -> Response:
    length = int(request.headers["inference-header-content-length"])
    return Response(predict_v2(await request.body(), length), media_type="application/json")


app = Starlette(routes=[Route("/score", score, methods=["POST"]), Route("/v2/models/m/infer", infer, methods=["POST"])])
_JSON = [("content-type", "application/json")]


async def rsgi_app(scope: Any, proto: Any) -> None:
    if scope.method != "POST":
        proto.response_empty(405, [])
    elif scope.path == "/score":
        proto.response_bytes(200, _JSON, predict(await proto()))
    elif scope.path == "/v2/models/m/infer":
        length = int(scope.headers.get("inference-header-content-length"))
        proto.response_bytes(200, _JSON, predict_v2(await proto(), length))
    else:
        proto.response_empty(404, [])
