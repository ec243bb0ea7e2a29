"""The OpenAPI 3 document of a running server: every route of the routing table, with request and
response schemas that say what the server accepts and answers (tests check real traffic against it).

Input schemas follow :mod:`.tensors`' rules: a batch of at least one row (or one row without its
batch dimension), numbers within the dtype's range, integers for integer inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._version import __version__
from .runtime import Runtime
from .tensors import V2_TO_NUMPY, model_dtype

REF = "#/components/schemas/"
_JSON_TYPES = {"f": "number", "i": "integer", "u": "integer", "b": "boolean", "O": "string"}
_ERRORS = {"400": "Bad input: malformed JSON, or a shape, dtype or value the model does not take",
           "401": "Missing or wrong key", "404": "No such model or version",
           "408": "The request's body stalled or did not arrive whole", "413": "Body over the size limit",
           "415": "Unsupported Content-Type", "500": "run() raised, or the model's output holds NaN or infinity",
           "503": "Not ready: init() still runs or failed", "504": "Scoring timed out"}
_DESCRIPTION = ("Errors are JSON: {\"message\": ...}, or {\"error\": ...} on /v2 routes. Any request may also get "
                "400 (malformed HTTP), 408 (header not whole in time), 431 (header too large) or 503 (the "
                "worker is at its connection limit; Retry-After: 1), each followed by the connection's close.")


# --- tensors ---------------------------------------------------------------------------------------

def _scalar(dtype: np.dtype) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(dtype.kind, "string")}
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        schema.update(minimum=int(info.min), maximum=int(info.max), format=str(dtype))
    elif dtype.kind == "f":
        limit = float(np.finfo(dtype).max)
        schema.update(minimum=-limit, maximum=limit, format=str(dtype))
    return schema


def _tensor(spec: dict[str, Any], output: bool = False) -> dict[str, Any]:
    """Nested arrays of the spec's shape; an unknown dimension is at least 1 long in an input."""
    shape = spec.get("shape")
    if shape is None or spec.get("dtype") not in ("string", *V2_TO_NUMPY.values()):
        return {"description": f"a tensor of {spec.get('dtype')}, shape {shape}"}
    schema = _scalar(model_dtype(spec))
    for dim in reversed(shape):
        schema = {"type": "array", "items": schema}
        if dim is not None:
            schema["minItems"] = schema["maxItems"] = dim
        elif not output:
            schema["minItems"] = 1
    return schema


def _input(spec: dict[str, Any]) -> dict[str, Any]:
    """One input as a request may send it: a batch, or one row without its batch dimension."""
    batch = _tensor(spec)
    shape = spec.get("shape")
    if shape and shape[0] is None:
        return {"anyOf": [batch, _tensor({**spec, "shape": shape[1:]})]}
    return batch


def _by_name(specs: list[dict[str, Any]], each: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {s["name"]: each(s) for s in specs},
            "required": [s["name"] for s in specs], "additionalProperties": False}


def _data(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The value of ``{"data": ...}``: one input's tensor itself, or an object keyed by input name."""
    keyed = _by_name(inputs, _input)
    return {"anyOf": [_input(inputs[0]), keyed]} if len(inputs) == 1 else keyed


def _outputs(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    if len(outputs) == 1:
        return _tensor(outputs[0], output=True)
    return _by_name(outputs, lambda s: _tensor(s, output=True))


# --- bodies per protocol --------------------------------------------------------------------------

def _mlflow_request(inputs: list[dict[str, Any]] | None) -> dict[str, Any]:
    """MLflow's four JSON forms: exactly one of them in an object."""
    split_data: dict[str, Any] = {"type": "array"}
    records: dict[str, Any] = {"type": "object"}
    tensors: dict[str, Any] = {}
    if inputs is not None and len(inputs) == 1:
        split_data, tensors = _input(inputs[0]), _input(inputs[0])
        shape = inputs[0].get("shape") or []
        records = {"type": "object", "additionalProperties": _scalar(model_dtype(inputs[0]))}
        if len(shape) == 2 and shape[1] is not None:
            records["minProperties"] = records["maxProperties"] = shape[1]
    forms = {
        "dataframe_split": {"type": "object", "required": ["data"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}}, "data": split_data}},
        "dataframe_records": {"type": "array", "minItems": 1, "items": records},
        "instances": tensors,
        "inputs": tensors,
    }
    return {"oneOf": [{"type": "object", "required": [k], "properties": {k: v}} for k, v in forms.items()]}


def _components() -> dict[str, Any]:
    def error(key: str) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: {"type": "string"}}, "additionalProperties": False}

    datatype = {"type": "string", "enum": list(V2_TO_NUMPY)}
    shape = {"type": "array", "items": {"type": "integer", "minimum": 0}}
    meta = {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
        "name": {"type": "string"}, "datatype": datatype, "shape": {"type": "array", "items": {"type": "integer"}}}}
    return {"schemas": {
        "Error": error("message"),
        "V2Error": error("error"),
        "V2TensorMetadata": meta,
        "V2InferRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": {"description": "echoed in the reply"},
            "parameters": {"type": "object", "properties": {"binary_data_output": {"type": "boolean"}}},
            "inputs": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "shape", "datatype"], "properties": {
                    "name": {"type": "string"}, "shape": shape, "datatype": datatype,
                    "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer", "minimum": 0}}},
                    "data": {"description": "the values, flat or nested, in row-major order"}}}},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}}}}}}},
        "V2InferResponse": {"type": "object", "required": ["model_name", "model_version", "outputs"], "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape", "datatype"], "properties": {
                "name": {"type": "string"}, "shape": shape, "datatype": datatype, "data": {"type": "array"},
                "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer"}}}}}}}},
    }}


# --- operations ------------------------------------------------------------------------------------

def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF + name}


def _op(summary: str, ok: dict[str, Any], errors: str = "", request: dict[str, Any] | None = None,
        v2: bool = False) -> dict[str, Any]:
    error = _ref("V2Error" if v2 else "Error")
    op: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **{
        code: _json(error, _ERRORS[code]) for code in errors.split()}}}
    if request is not None:
        op["requestBody"] = {"required": True, "content": request}
    return op


def _operations(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Each route label of the routing table (app.py) and its operation."""
    models = [s for versions in rt.scorers.values() for s in versions.values()]
    only = models[0] if rt.script is None and len(models) == 1 else None
    if only is not None:
        score_req = {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": _data(only.inputs)}}}}
        score_ok, predictions = _json(_outputs(only.outputs), "Predictions"), _outputs(only.outputs)
    else:
        what = "whatever the scoring script's run() accepts" if rt.script else "send to /v2/models/{name}/infer instead"
        score_req = {"*/*": {"schema": {"description": what}}}
        score_ok, predictions = _json({"description": "what run() returns"}, "Predictions"), {}
    mlflow_inputs = only.inputs if only is not None else None
    return {
        "live": _op("Liveness (Azure ML)", _text("Healthy")),
        "ready": _op("Readiness (Azure ML)", _json({"type": "object", "properties": {"status": {"type": "string", "enum": ["ready"]}}}), "503"),
        "score": _op("Score (Azure ML): {\"data\": ...}", score_ok, "400 401 408 413 415 500 503 504", score_req),
        "swagger": _op("This document", _json({"type": "object"})),
        "metrics": _op("Prometheus metrics", _text("Metrics in Prometheus' text format"), "401"),
        "v2_server": _op("Server metadata (v2)", _json({"type": "object", "required": ["name", "version", "extensions"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"}, "extensions": {"type": "array", "items": {"type": "string"}}}}), v2=True),
        "v2_live": _op("Liveness (v2)", _json({"type": "object", "properties": {"live": {"type": "boolean"}}})),
        "v2_ready": _op("Readiness (v2)", _json({"type": "object", "properties": {"ready": {"type": "boolean"}}}), "503", v2=True),
        "invocations": _op("Score (MLflow)", _json({"type": "object", "required": ["predictions"], "properties": {"predictions": predictions}}),
                           "400 401 408 413 415 500 503 504", {"application/json": {"schema": _mlflow_request(mlflow_inputs)},
                                                                "text/csv": {"schema": {"type": "string"}}}),
        "ping": _op("Readiness (MLflow)", {"description": "Ready"}, "503"),
        "v2_model": _op("Model metadata (v2)", _json({"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"], "properties": {
            "name": {"type": "string"}, "versions": {"type": "array", "items": {"type": "string"}}, "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _ref("V2TensorMetadata")}, "outputs": {"type": "array", "items": _ref("V2TensorMetadata")}}}),
            "401 404 503", v2=True),
        "v2_model_ready": _op("Model readiness (v2)", _json({"type": "object", "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}}),
                              "404 503", v2=True),
        "v2_infer": _op("Infer (v2, JSON or Triton's binary tensor extension)", {
            "description": "Outputs", "content": {"application/json": {"schema": _ref("V2InferResponse")},
                                                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "400 401 404 408 413 415 500 503", {"application/json": {"schema": _ref("V2InferRequest")},
                                                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, v2=True),
    }


def _path_params(path: str) -> list[dict[str, Any]]:
    return [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in ("name", "version") if "{" + p + "}" in path]


def document(rt: Runtime) -> dict[str, Any]:
    from .app import (  # the routing table: what is documented is what is routed
        STATIC,
        V2_MODEL,
    )

    routes = list(STATIC.items())
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [(f"{prefix}/{suffix}".rstrip("/"), entry) for suffix, entry in V2_MODEL.items()]
    operations = _operations(rt)
    paths: dict[str, Any] = {}
    for path, (label, methods, open_) in routes:
        item = paths.setdefault(path, {})
        if _path_params(path):
            item["parameters"] = _path_params(path)
        for method in methods:
            op = dict(operations[label])
            if rt.config.auth and not open_:
                op["security"] = [{"bearer": []}]
            else:
                op["responses"] = {k: v for k, v in op["responses"].items() if k != "401"}
            item[method.lower()] = op
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": rt.config.deployment or "jupyter-mlops scoring service", "version": __version__,
                 "description": _DESCRIPTION},
        "paths": paths,
        "components": _components(),
    }
    if rt.config.auth:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
