"""The baseline for bench/serve.py: the least a Starlette + uvicorn + orjson server can do.

One route, no auth, no metrics, no validation: parse, ``session.run``, encode.
Run: MODEL=path.onnx uvicorn bench.minimal_server:app --workers N
"""

from __future__ import annotations

import os

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


async def score(request: Request) -> Response:
    data = orjson.loads(await request.body())["data"]
    outputs = session.run(output_names, {input_name: np.asarray(data, dtype=np.float32)})
    body = orjson.dumps(dict(zip(output_names, outputs)), option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/score", score, methods=["POST"])])
