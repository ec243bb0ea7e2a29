"""How one worker treats client connections: limits against hostile or broken clients, and TCP_NODELAY.

The seam between the server and its HTTP layer: :class:`ConnectionLimits` says what is allowed, in
terms of no particular library; :func:`uvicorn_protocol` enforces it on uvicorn's httptools protocol
(the HTTP layer today). Another layer (Granian, say) would map the same limits onto its own options
here and nowhere else.

- A request header (request line included) over ``header_max_bytes``: 431, closed.
- A header not whole ``header_timeout_s`` after its first byte (slowloris, or half a header and
  silence): 408, closed. A request body that sends nothing for ``body_timeout_s``: 408, closed.
- A connection idle (before its first request, or between requests) for ``keep_alive_timeout_s``: closed.
- Over ``max_connections`` open connections: the oldest idle one is closed to make room; if none is
  idle, the new connection gets 503 (``Retry-After: 1``) and is closed.

The timeouts are checked by one sweep per worker over its connections, a few times per timeout,
rather than by a timer per request: the request path only notes the time when a header begins and
when it ends (after that, uvicorn's request cycle says whether the body is still coming).
Accepted connections get TCP_NODELAY: without it a reply on a kept-alive connection can wait ~40 ms
for the client's delayed ACK (Nagle).
"""

from __future__ import annotations

import resource
import socket
from dataclasses import dataclass, fields
from typing import Any

from . import encoding
from .errors import error_body

IDLE, HEAD, BODY, CLOSING = range(4)  # a connection's phase: before its first request, in a header, after it
LINGER_S = 1.0  # after a refusal: time for the reply to reach the client before the socket closes
_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class ConnectionLimits:
    header_max_bytes: int = 32 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_timeout_s: float = 30.0
    max_connections: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Server setting {f.name!r} has value {value!r}; it must be a positive number.")

    @classmethod
    def from_config(cls, config: Any) -> ConnectionLimits:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    @property
    def sweep_s(self) -> float:
        """How often the sweep looks: a few times per shortest timeout, between 50 ms and 1 s."""
        return min(1.0, max(0.05, min(self.header_timeout_s, self.body_timeout_s, self.keep_alive_timeout_s) / 4))


def raise_open_files_limit(limits: ConnectionLimits) -> None:
    """Let this process hold ``max_connections`` sockets and its own files, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def _reply(status: int, message: dict[str, Any], extra: bytes = b"") -> bytes:
    body = encoding.dumps(message)
    return (f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n").encode() + extra + b"\r\n" + body


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was just refused."""


def uvicorn_protocol(limits: ConnectionLimits) -> type:
    """uvicorn's httptools protocol, enforcing ``limits``; one class per worker process."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    sweeping: list[Any] = []  # the worker's sweep timer, once the first connection starts it
    serials = iter(range(1 << 62))  # connection order: the loop's clock is the same for a batch of accepts

    def sweep(loop: Any, connections: set[Any]) -> None:
        now = loop.time()
        for conn in list(connections):
            if isinstance(conn, GuardedProtocol):
                conn.check(now)
        sweeping[0] = loop.call_later(limits.sweep_s, sweep, loop, connections)

    class GuardedProtocol(HttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            self._phase, self._since, self._head_bytes, self._serial = IDLE, self.loop.time(), 0, next(serials)
            super().connection_made(transport)
            if not sweeping:
                sweeping.append(self.loop.call_later(limits.sweep_s, sweep, self.loop, self.connections))
            if len(self.connections) > limits.max_connections:
                self._make_room()

        def _make_room(self) -> None:
            idle: list[Any] = [c for c in self.connections if c is not self and getattr(c, "idle", False)]
            if idle:
                min(idle, key=lambda c: (c._since, c._serial)).transport.close()
            else:
                message = f"The server is at its limit of {limits.max_connections} open connections per worker; retry."
                self._refuse(503, message, b"retry-after: 1\r\n")

        @property
        def idle(self) -> bool:
            """No request yet, or the last one answered and no next one begun."""
            return self._phase == IDLE or (self._phase == BODY and self.cycle.response_complete)

        # --- phases, noted on the parser's callbacks. After the header, uvicorn's cycle says the
        # rest: ``more_body`` while the body arrives, ``response_complete`` once answered (then
        # uvicorn's own keep-alive timer runs). So the request path pays for two clock reads.
        def on_message_begin(self) -> None:
            self._phase, self._since = HEAD, self.loop.time()
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            if self._head_bytes > limits.header_max_bytes and self._header_size() > limits.header_max_bytes:
                self._refuse(431, f"The request's header is over the limit of {limits.header_max_bytes} bytes.")
                raise _Refused
            self._phase, self._since, self._head_bytes = BODY, self.loop.time(), 0
            super().on_headers_complete()

        def _header_size(self) -> int:
            """The header's size as parsed (the bytes read so far may hold some of the body too)."""
            return len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)

        # --- reading ------------------------------------------------------------------------------
        def data_received(self, data: bytes) -> None:
            phase = self._phase
            if phase == BODY and self.cycle.more_body:
                self._since = self.loop.time()  # the body timeout counts from its last progress
            elif phase != CLOSING:
                self._head_bytes += len(data)  # before (or at the start of) a header
            else:
                return
            try:
                super().data_received(data)
            except _Refused:
                return
            except Exception as exc:  # noqa: BLE001 - a callback choked on the request (a URL it cannot decode)
                self._refuse(400, f"Invalid HTTP request: {type(exc).__name__}.")
                return
            if self._phase <= HEAD and self._head_bytes > limits.header_max_bytes:
                self._refuse(431, f"The request's header is over the limit of {limits.header_max_bytes} bytes.")

        def send_400_response(self, msg: str) -> None:
            """What the parser rejects (uvicorn's is plain text): JSON, saying what the parser said."""
            self._refuse(400, "Invalid HTTP request: the request line or header is malformed.")

        # --- the sweep ----------------------------------------------------------------------------
        def check(self, now: float) -> None:
            phase, waited = self._phase, now - self._since
            if phase == HEAD and waited > limits.header_timeout_s:
                self._refuse(408, f"The request's header did not arrive within {limits.header_timeout_s:g} s.")
            elif phase == BODY and waited > limits.body_timeout_s and self.cycle.more_body and not self.cycle.response_complete:
                self._refuse(408, f"The request's body stalled for {limits.body_timeout_s:g} s.")
            elif (phase == IDLE and waited > limits.keep_alive_timeout_s) or (phase == CLOSING and waited > LINGER_S):
                self.transport.close()

        def _refuse(self, status: int, message: str, extra: bytes = b"") -> None:
            """Answer ``status`` in JSON and close: stop reading, send the reply and a FIN, and close
            the socket once the client has had a moment to read it (closing with unread input at once
            would send a RST that can destroy the reply)."""
            if self._phase == CLOSING or self.transport.is_closing():
                return
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                if cycle.response_started:  # half a reply is out: nothing sensible to add
                    self.transport.close()
                    return
                cycle.disconnected = True  # the app's receive() now says so; its reply goes nowhere
                cycle.message_event.set()
            path = getattr(self, "url", b"").decode("latin-1")
            self.flow.pause_reading()
            self.transport.write(_reply(status, error_body(path, message), extra))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self._phase, self._since = CLOSING, self.loop.time()

    return GuardedProtocol


def uvicorn_settings(limits: ConnectionLimits) -> dict[str, Any]:
    """uvicorn.Config options that go with :func:`uvicorn_protocol`."""
    return {"http": uvicorn_protocol(limits), "timeout_keep_alive": limits.keep_alive_timeout_s,
            "ws": "none"}  # no websockets: an Upgrade is answered as plain HTTP
