"""The scoring server as a raw ASGI app: routing, auth, request ids, errors and metrics.

Raw ASGI rather than a framework's middleware stack: the scoring path is where users feel
latency, and each layer of middleware costs microseconds on every request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import azure, mlflow, v2
from .encoding import NonFinite
from .errors import HTTPError, error_body
from .request import Request, Response
from .runtime import Runtime

log = logging.getLogger("jupyter_mlops.serving")
Handler = Callable[[Runtime, Request], Awaitable[Response]]


async def _metrics(rt: Runtime, req: Request) -> Response:
    body, ctype = rt.metrics.render()
    return Response(200, body, ctype)


# path -> (route label, {method: handler}, open without a key)
STATIC: dict[str, tuple[str, dict[str, Handler], bool]] = {
    "/": ("live", {"GET": azure.live}, True),
    "/ready": ("ready", {"GET": azure.ready}, True),
    "/score": ("score", {"POST": azure.score}, False),
    "/swagger.json": ("swagger", {"GET": azure.swagger}, True),
    "/metrics": ("metrics", {"GET": _metrics}, False),
    "/v2": ("v2_server", {"GET": v2.server_metadata}, True),
    "/v2/health/live": ("v2_live", {"GET": v2.live}, True),
    "/v2/health/ready": ("v2_ready", {"GET": v2.ready}, True),
    "/invocations": ("invocations", {"POST": mlflow.invocations}, False),
    "/ping": ("ping", {"GET": mlflow.ping}, True),
}
V2_MODEL: dict[str, tuple[str, dict[str, Handler], bool]] = {
    "": ("v2_model", {"GET": v2.model_metadata}, False),
    "ready": ("v2_model_ready", {"GET": v2.model_ready}, True),
    "infer": ("v2_infer", {"POST": v2.infer}, False),
}


COLLECTED = frozenset({"score", "v2_infer", "invocations"})


def _route(path: str) -> tuple[tuple[str, dict[str, Handler], bool] | None, dict[str, str]]:
    found = STATIC.get(path)
    if found is not None or not path.startswith("/v2/models/"):
        return found, {}
    parts = path[len("/v2/models/") :].rstrip("/").split("/")
    params = {"name": parts[0]}
    if len(parts) >= 3 and parts[1] == "versions":
        params["version"] = parts[2]
        parts = [parts[0], *parts[3:]]
    if len(parts) > 2 or not params["name"]:
        return None, {}
    return V2_MODEL.get(parts[1] if len(parts) == 2 else ""), params


_id_base = 0
_ids = itertools.count()


def _fresh_ids() -> None:
    global _id_base, _ids
    _id_base, _ids = (secrets.randbits(63) | 1 << 63) << 64, itertools.count()  # (the top bit set: 32 digits)


_fresh_ids()
os.register_at_fork(after_in_child=_fresh_ids)  # each worker draws its own prefix


def _new_request_id() -> str:
    # A random prefix per worker process (63 bits) and a counter: unique across workers and restarts,
    # 32 hex digits like a uuid's, and a third of the cost of 128 fresh random bits per request.
    # (``hex``: a format spec (``:016x``) cost 900 instructions more, 0.5 % of a request.)
    return hex(_id_base + next(_ids))[2:]


class ScoringApp:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.rt.start_collecting(asyncio.get_running_loop())
                self.rt.start_loading()
                self._publisher = asyncio.get_running_loop().create_task(self.rt.metrics.publish_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for batcher in self.rt.batchers.values():
                    await batcher.close()
                if self.rt.collector is not None:
                    await asyncio.to_thread(self.rt.collector.close)  # flush what is spooled
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI adapter (the app in-process, under any ASGI server); the server itself runs
        :meth:`handle` from its own HTTP layer (protocol.py)."""
        req = Request.from_asgi(scope, receive, self.rt.config.max_body_bytes)
        response = await self.handle(req)
        lines = response_head(req, response).encode("latin-1").split(b"\r\n")[:-1]
        headers = [tuple(line.split(b": ", 1)) for line in lines]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def handle(self, req: Request) -> Response:
        """Answer one request: routing, auth, errors, collection and metrics."""
        start = time.perf_counter()
        rt = self.rt
        req.request_id = req.headers.get("x-request-id") or _new_request_id()
        route, req.params = _route(req.path)
        label = route[0] if route else "unknown"
        rt.metrics.in_flight += 1
        try:
            if route is None:
                raise HTTPError(404, f"Not found: {req.path}.")
            handler = route[1].get(req.method)
            if handler is None:
                allow = {"allow": ", ".join(route[1])}
                raise HTTPError(405, f"Method {req.method} is not allowed on {req.path}.", allow)
            if rt.keys is not None and not route[2] and not rt.keys.allows(req.headers.get("authorization")):
                raise HTTPError(401, "Unauthorized.", {"www-authenticate": "Bearer"})
            response = await handler(rt, req)
        except HTTPError as exc:
            response = Response.json(error_body(req.path, exc.message), exc.status, exc.headers)
        except NonFinite:  # the model's answer, not our bug: one line in the log, no traceback
            log.warning("request %s: the model's output holds NaN or infinity; answered 500", req.request_id)
            message = (f"The model's output holds NaN or infinity, which JSON cannot carry "
                       f"(request id {req.request_id}).")
            response = Response.json(error_body(req.path, message), 500)
        except Exception as exc:
            log.exception("request %s: %s %s failed", req.request_id, req.method, req.path)
            message = f"Internal error {type(exc).__name__} (request id {req.request_id})."
            response = Response.json(error_body(req.path, message), 500)
        elapsed = response.elapsed = time.perf_counter() - start
        if rt.draining:  # a newer version has the port: let the client reconnect to it
            response.headers["connection"] = "close"
        collector = rt.collector
        if collector is not None and label in COLLECTED and (collector.sample_all or collector.sampled()):
            try:
                collector.record_request(req, label, response, elapsed)  # spooled before the client hears back
            except Exception:  # collection failing does not fail serving
                log.exception("request %s: its record could not be collected; answered without it", req.request_id)
        rt.metrics.in_flight -= 1
        rt.metrics.observe(label, response.status, elapsed)
        return response


def response_head(req: Request, response: Response) -> str:
    """The response's header fields, one ``name: value\r\n`` line each, for either HTTP layer."""
    head = (f"content-type: {response.content_type}\r\ncontent-length: {len(response.body)}\r\n"
            f"x-request-id: {req.request_id}\r\nx-ms-run-fn-exec-ms: {response.elapsed * 1000:.3f}\r\n")
    client_id = req.headers.get("x-ms-client-request-id")
    if client_id is not None:
        head += f"x-ms-client-request-id: {client_id}\r\n"
    if response.headers:
        head += "".join([f"{k}: {v}\r\n" for k, v in response.headers.items()])
    return head
