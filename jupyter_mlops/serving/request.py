"""A small request/response pair: what the HTTP layer (protocol.py) or the ASGI adapter hands the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import encoding
from .errors import HTTPError


class Request:
    """One request. ``headers`` have lower-case names (the last of repeated ones wins). The HTTP layer
    passes the whole ``body``; the ASGI adapter passes ``receive``, and :meth:`body` reads it."""

    __slots__ = ("receive", "method", "path", "headers", "params", "request_id", "_body", "max_body", "model",
                 "json_valid", "record_body", "alone")

    def __init__(self, method: str, path: str, headers: dict[str, str], max_body: int, body: bytes | None = None,
                 receive: Any = None) -> None:
        self.receive = receive
        self.method = method
        self.path = path
        self.headers = headers
        self.params: dict[str, str] = {}
        self.request_id = ""
        self._body = body
        self.max_body = max_body
        self.model: tuple[str, int] | None = None  # which model answered, for collection
        self.json_valid = False  # the body parsed as JSON (collection then stores it as it is)
        self.record_body: bytes | None = None  # what collection stores for a body that is not JSON
        self.alone = False  # its connection is the worker's only one: no other request can come in its turn

    @classmethod
    def from_asgi(cls, scope: dict[str, Any], receive: Any, max_body: int) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        return cls(scope["method"], scope["path"], headers, max_body, receive=receive)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def body(self) -> bytes:
        if self._body is not None:
            return self._body
        length = parse_length(self.headers.get("content-length"))
        if length is not None and length > self.max_body:
            raise HTTPError(413, f"Request body of {length} bytes is over the limit of {self.max_body} bytes.")
        chunks, size = [], 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":  # the ASGI server says the client is gone
                raise HTTPError(408, "The request's body did not arrive whole.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise HTTPError(413, f"Request body is over the limit of {self.max_body} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        value = encoding.loads(await self.body())
        self.json_valid = True
        return value

    async def fast_rows(self, read: Callable[[bytes], np.ndarray | None]) -> np.ndarray | None:
        """The body's rows of numbers as ``read`` (one of encoding's fast parses) finds them, else
        None: the fast path for models of one float input."""
        rows = read(await self.body())
        if rows is not None:
            self.json_valid = True  # simdjson read it all: valid JSON
        return rows

    def require_json(self) -> None:
        if self.content_type not in ("application/json", ""):
            raise HTTPError(415, f"Content-Type {self.content_type!r} is not supported; send application/json.")


def parse_length(value: str | None) -> int | None:
    """A length header's value as a number; None when absent or not plain ASCII digits (``"²"`` is a
    digit to ``str.isdigit`` but not to ``int``)."""
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    record_body: bytes | None = None  # what collection stores for a body that is not JSON
    elapsed: float = 0.0  # seconds the app took, sent as x-ms-run-fn-exec-ms

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, encoding.dumps(obj), "application/json", headers or {})

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8")
