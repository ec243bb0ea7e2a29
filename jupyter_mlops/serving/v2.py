"""The Open Inference Protocol v2 (KServe, Triton, Seldon clients), with Triton's binary extension."""

from __future__ import annotations

from typing import Any

from pybase64 import b64encode

from .._version import __version__ as VERSION
from . import encoding
from .errors import BadInput
from .records import one_line
from .request import Request, Response, parse_length
from .runtime import Runtime
from .scorers import ModelScorer
from .tensors import NUMPY_TO_V2, RECORDED_BINARY, json_object, v2_decode, v2_encode

HEADER_LENGTH = "inference-header-content-length"


async def server_metadata(rt: Runtime, req: Request) -> Response:
    return Response.json({"name": "jupyter-mlops", "version": VERSION, "extensions": ["binary_tensor_data"]})


async def live(rt: Runtime, req: Request) -> Response:
    return Response.json({"live": True})


async def ready(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    return Response.json({"ready": True})


def _tensor_meta(spec: dict[str, Any]) -> dict[str, Any]:
    shape = [-1 if d is None else d for d in (spec.get("shape") or [])]
    return {"name": spec["name"], "datatype": NUMPY_TO_V2.get(spec["dtype"], "BYTES"), "shape": shape}


async def model_metadata(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    scorer = rt.find(req.params["name"], req.params.get("version"))
    return Response.json({
        "name": scorer.name,
        "versions": [str(v) for v in sorted(rt.scorers[scorer.name])],
        "platform": scorer.platform,
        "inputs": [_tensor_meta(s) for s in scorer.inputs],
        "outputs": [_tensor_meta(s) for s in scorer.outputs],
    })


async def model_ready(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    scorer = rt.find(req.params["name"], req.params.get("version"))
    return Response.json({"name": scorer.name, "ready": True})


async def infer(rt: Runtime, req: Request) -> Response:
    rt.require_ready()
    scorer: ModelScorer = rt.find(req.params["name"], req.params.get("version"))
    req.model = scorer.key
    raw = await req.body()
    header_value = req.headers.get(HEADER_LENGTH)
    if header_value is not None:
        header_length = parse_length(header_value)
        if header_length is None or header_length > len(raw):
            raise BadInput(f"Invalid {HEADER_LENGTH} {header_value!r:.50}: the JSON header's length in bytes, "
                           f"at most the body's {len(raw)}.")
        header, binary = raw[:header_length], raw[header_length:]
        body = encoding.loads(header)
    else:
        req.require_json()
        header, body, binary = b"", await req.json(), b""
    if not isinstance(body, dict):
        raise BadInput("The request body must be a JSON object with an 'inputs' list.")
    wanted, binary_names = _requested_outputs(body, [o["name"] for o in scorer.outputs])
    inputs = v2_decode(body, binary, scorer.inputs)
    if binary and rt.collector is not None:  # collection stores the request as it came (see RECORDED_BINARY)
        req.record_body = _recorded(header, binary)
    outputs = await rt.predict(scorer, inputs, req.alone)
    chosen = {k: outputs[k] for k in wanted}
    tensors, chunks = v2_encode(chosen, binary_names)
    reply: dict[str, Any] = {"model_name": scorer.name, "model_version": str(scorer.version), "outputs": tensors}
    if "id" in body:
        reply["id"] = body["id"]
    if not chunks:
        return Response.json(reply)
    head = encoding.dumps(reply)
    response = Response(200, head + chunks, "application/octet-stream", {HEADER_LENGTH: str(len(head))})
    if rt.collector is not None:
        response.record_body = _recorded(head, chunks)
    return response


_RECORDED_KEY = b',"' + RECORDED_BINARY.encode() + b'":"'
_join = b"".join


def _recorded(header: bytes, binary: bytes) -> bytes:
    """A JSON object's ``header`` as it came (one line: a line break in JSON is whitespace, so a
    space) with the binary part added: spliced, as the base64 of a 32-row tensor is 3 KiB that a
    dumps would copy and scan twice more. pybase64's SIMD encoder: the standard library's costs ~17
    instructions a byte, 45 k for 32 rows of 20 FP32."""
    header = one_line(header.rstrip())  # it parsed as an object with a tensor: ends with "}" after any whitespace
    return _join((header[:-1], _RECORDED_KEY, b64encode(binary), b'"}'))


def _requested_outputs(body: dict[str, Any], names: list[str]) -> tuple[list[str], set[str]]:
    """Which outputs to answer with (all by default), and which of them in binary."""
    all_binary = bool(json_object(body.get("parameters"), "'parameters'").get("binary_data_output", False))
    requested = body.get("outputs")
    if requested is None or requested == []:
        return names, set(names) if all_binary else set()
    if not isinstance(requested, list):
        raise BadInput(f"'outputs' must be a list of {{\"name\": ...}} objects, not {requested!r:.50}.")
    wanted, binary = [], set()
    for out in requested:
        if not isinstance(out, dict) or not isinstance(out.get("name"), str):
            raise BadInput(f"Each of 'outputs' must be an object with a 'name' string, not {out!r:.50}.")
        name = out["name"]
        if name not in names:
            raise BadInput(f"Unknown output {name!r:.50}; the model's outputs are {', '.join(names)}.")
        wanted.append(name)
        if all_binary or json_object(out.get("parameters"), f"Output {name!r}: 'parameters'").get("binary_data", False):
            binary.add(name)
    return wanted, binary
