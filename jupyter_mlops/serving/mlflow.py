"""MLflow's scoring protocol: ``POST /invocations`` answering ``{"predictions": ...}``, ``GET /ping``."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from . import encoding
from .errors import BadInput, HTTPError
from .request import Request, Response
from .runtime import Runtime
from .scorers import ModelScorer
from .tensors import inputs_from_data

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


async def ping(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    return Response(200, b"\n", "application/json")


async def invocations(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    ctype = req.content_type
    if ctype == "text/csv":
        columns, data = _read_csv(await req.body())
        payload: dict[str, Any] = {"dataframe_split": {"columns": columns, "data": data}}
    elif ctype == "application/json":
        scorer = rt.float_rows_model
        rows = await req.fast_rows(_number_rows) if scorer is not None else None
        if scorer is not None and rows is not None:
            return await _predict(rt, req, scorer, rows)
        payload = await req.json()
    else:
        raise HTTPError(415, f"Content-Type {ctype!r} is not supported; send application/json or text/csv.")
    if not isinstance(payload, dict) or len([k for k in FORMATS if k in payload]) != 1:
        raise BadInput(f"The body needs exactly one of {', '.join(FORMATS)}.")
    if rt.script is not None:
        text = encoding.dumps({"data": _as_data(payload, None)}).decode()
        return Response.json({"predictions": await rt.run_script(text, req)})
    scorer = rt.only_model()
    return await _predict(rt, req, scorer, _as_data(payload, scorer))


async def _predict(rt: Runtime, req: Request, scorer: ModelScorer, data: Any) -> Response:
    req.model = scorer.key
    outputs = await rt.predict(scorer, inputs_from_data(data, scorer.inputs), req.alone)
    predictions = next(iter(outputs.values())) if len(outputs) == 1 else outputs
    return Response.json({"predictions": predictions})


def _number_rows(body: bytes) -> np.ndarray | None:
    """Rows of plain numbers in any of MLflow's forms but dataframe_records, read by simdjson; None
    for the general path."""
    if body.find(b'"dataframe_split"') != -1:  # (not ``in``: see encoding.dumps)
        return encoding.split_rows(body)
    return encoding.number_rows(body, "instances" if body.find(b'"instances"') != -1 else "inputs", alone=True)


def _as_data(payload: dict[str, Any], scorer: ModelScorer | None) -> Any:
    """MLflow's four input forms, as the value of ``{"data": ...}``."""
    names = [i["name"] for i in scorer.inputs] if scorer is not None else []
    if "dataframe_split" in payload:
        return _split_as_data(payload["dataframe_split"], names)
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BadInput("dataframe_records must be a list of objects.")
        if len(names) > 1:
            return {n: [r.get(n) for r in records] for n in names}
        columns = list(records[0]) if records else []
        return [[r.get(c) for c in columns] for r in records]
    key = "instances" if "instances" in payload else "inputs"
    value = payload[key]
    if isinstance(value, list) and value and isinstance(value[0], dict) and len(names) > 1:
        if not all(isinstance(row, dict) for row in value):
            raise BadInput(f"{key} must all be objects when the first is one.")
        return {n: [row.get(n) for row in value] for n in names}
    return value


def _split_as_data(split: Any, names: list[str]) -> Any:
    """``dataframe_split``: the rows; for a model of several inputs, a column per input."""
    if not isinstance(split, dict) or "data" not in split:
        raise BadInput("dataframe_split needs 'data' (and usually 'columns').")
    rows, columns = split["data"], split.get("columns")
    if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        raise BadInput("dataframe_split 'columns' must be a list of strings.")
    if not (columns and len(names) > 1 and set(names) <= set(columns)):
        return rows
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise BadInput("dataframe_split 'data' must be a list of rows, each a list of values.")
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise BadInput(f"dataframe_split row {i} has {len(row)} values for {len(columns)} columns.")
    return {n: [row[columns.index(n)] for row in rows] for n in names}


def _read_csv(body: bytes) -> tuple[list[str], list[list[float]]]:
    try:
        rows = list(csv.reader(io.StringIO(body.decode("utf-8", "replace"))))
    except csv.Error as exc:
        raise BadInput(f"The CSV body is malformed: {exc}.") from None
    if not rows:
        raise BadInput("The CSV body is empty.")
    try:
        data = [[float(v) for v in row] for row in rows[1:] if row]
    except ValueError as exc:
        raise BadInput(f"The CSV body has a value that is not a number: {exc}.") from None
    if not all(math.isfinite(v) for row in data for v in row):
        raise BadInput("The CSV body has a value that is not finite (nan or inf).")
    return rows[0], data
