"""The OpenAPI 3 document of a running server, with input and output schemas where known."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from .runtime import Runtime

_JSON_TYPES = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}


def _tensor_schema(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    dtype = spec.get("dtype", "float32")
    kind = "O" if dtype == "string" else np.dtype(dtype).kind
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(kind, "string"), "format": dtype}
    for dim in reversed(spec.get("shape") or []):
        schema = {"type": "array", "items": schema}
        if dim is not None:
            schema["minItems"] = schema["maxItems"] = dim
    return schema


def _io_schema(specs: list[dict[str, Any]], wrap_single: bool) -> dict[str, Any]:
    if len(specs) == 1 and wrap_single:
        return _tensor_schema(specs[0])
    return {"type": "object", "properties": {s["name"]: _tensor_schema(s) for s in specs}, "required": [s["name"] for s in specs]}


def document(rt: Runtime) -> dict[str, Any]:
    error = {"type": "object", "properties": {"message": {"type": "string"}}}
    if rt.script is None and sum(len(v) for v in rt.scorers.values()) == 1:
        scorer = next(iter(next(iter(rt.scorers.values())).values()))
        request = {"type": "object", "properties": {"data": _io_schema(scorer.inputs, True)}, "required": ["data"]}
        response = _io_schema(scorer.outputs, True)
    else:
        request, response = {"description": "whatever the scoring script's run() accepts"}, {}
    responses = {
        "200": {"description": "Predictions", "content": {"application/json": {"schema": response}}},
        **{code: {"description": text, "content": {"application/json": {"schema": error}}}
           for code, text in (("400", "Bad input"), ("401", "Missing or wrong key"), ("413", "Body too large"),
                              ("500", "run() raised"), ("503", "Not ready"), ("504", "Scoring timed out"))},
    }
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": rt.config.deployment or "jupyter-mlops scoring service", "version": __version__},
        "paths": {
            "/score": {"post": {
                "summary": "Score (Azure ML style)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                "responses": responses,
            }},
            "/": {"get": {"summary": "Liveness", "responses": {"200": {"description": "Healthy"}}}},
            "/ready": {"get": {"summary": "Readiness", "responses": {"200": {"description": "Ready"}, "503": {"description": "Not ready"}}}},
        },
    }
    if rt.config.auth:
        doc["components"] = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
        doc["paths"]["/score"]["post"]["security"] = [{"bearer": []}]
    return doc
