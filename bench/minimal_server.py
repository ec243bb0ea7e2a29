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


app = Starlette(routes=[Route("/score", score, methods=["POST"])])

_JSON = [("content-type", "application/json")]


async def rsgi_app(scope: Any, proto: Any) -> None:
    if scope.path == "/score" and scope.method == "POST":
        proto.response_bytes(200, _JSON, predict(await proto()))
    else:
        proto.response_empty(404, [])
