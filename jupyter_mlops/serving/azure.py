"""Azure ML style routes: ``GET /``, ``GET /ready``, ``POST /score``, ``GET /swagger.json``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from . import encoding
from .errors import BadInput, HTTPError
from .request import Request, Response
from .runtime import Runtime
from .tensors import inputs_from_data

log = logging.getLogger("jupyter_mlops.serving")


async def live(rt: Runtime, req: Request) -> Response:
    return Response.text("Healthy")


async def ready(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    return Response.json({"status": "ready"})


async def score(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    if rt.script is not None:
        body = await req.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("The request body is not valid UTF-8.") from None
        try:
            result = await rt.run_script(text, req)
        except HTTPError:
            raise
        except Exception as exc:
            log.exception("request %s: run() raised", req.request_id)
            message = f"run() raised {type(exc).__name__}: {exc}".splitlines()[0][:500]
            raise HTTPError(500, f"{message} (request id {req.request_id}).") from None
        return _script_result(result)
    req.require_json()
    scorer = rt.float_rows_model
    rows = await req.fast_rows(_data_rows) if scorer is not None else None
    data: Any
    if scorer is not None and rows is not None:
        data = rows
    else:
        payload = await req.json()
        if not isinstance(payload, dict) or "data" not in payload:
            raise BadInput('The body needs a "data" field: {"data": [[...], ...]}.')
        scorer = rt.only_model()
        data = payload["data"]
    req.model = scorer.key
    outputs = await rt.predict(scorer, inputs_from_data(data, scorer.inputs), req.alone)
    if len(outputs) == 1:
        return Response.json(next(iter(outputs.values())))
    return Response.json(outputs)


def _data_rows(body: bytes) -> np.ndarray | None:
    return encoding.number_rows(body, "data")


def _script_result(result: object) -> Response:
    try:
        return Response.json(result)
    except TypeError as exc:
        raise HTTPError(500, f"run() returned a value that is not JSON serializable: {exc}.") from None


async def swagger(rt: Runtime, req: Request) -> Response:
    from .openapi import document

    return Response.json(document(rt))
