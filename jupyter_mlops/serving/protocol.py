"""The server's HTTP/1.1 layer: httptools parses, the scoring app answers, nothing in between.

uvicorn still runs the worker (sockets, TLS, signals, lifespan, graceful shutdown), but each
connection is this protocol rather than uvicorn's, because uvicorn's ASGI request cycle cost more
per request than the scoring did: a scope dict, an ``asyncio.Event``, a task, message dicts through
``receive``/``send`` and a keep-alive timer re-armed on every request (bench/serve.py).

Here a request's header fields go into the dict the app reads, its body is buffered to
``max_body_bytes`` (the app needs it whole), and once it is complete the app's coroutine is run
at once, in the parser's callback: a request whose answer needs no waiting (health, metrics, a
model with coalescing off, or any request on the worker's only open connection, which has no one
to share a run with) is answered before ``data_received`` returns, with no task. One whose
model run is coalesced with the other requests of this turn of the loop (coalescing.py) waits on a
:class:`~.coalescing.TurnFuture`, and is resumed in place when the run is done, still with no task.
One that awaits anything else (adaptive batching, a scoring script on a thread) goes on as a task
from where it stopped. Pipelined requests behind an answer in progress wait, and reading pauses,
until it has answered. Answers are written through the worker's outbox (outbox.py), which holds
those of a large coalesced run until the last is ready and then sends them together. After an
answer on the worker's only connection, the loop polls for the next request for a moment rather
than sleeping (polling.py).

The limits of :class:`~.connections.ConnectionLimits` are enforced here:

- a request header (request line included) over ``header_max_bytes``: 431, closed; a body over
  ``max_body_bytes`` (by its Content-Length, or as it arrives): 413, closed;
- a header not whole ``header_timeout_s`` after its first byte (slowloris, or half a header and
  silence): 408, closed; a body that sends nothing for ``body_timeout_s``: 408, closed;
- a connection idle (before its first request, or between requests) for ``keep_alive_timeout_s``: closed;
- over ``max_connections`` open connections: the oldest idle one is closed to make room; if none is
  idle, the new connection gets 503 (``Retry-After: 1``) and is closed.

The timeouts are checked by one sweep per worker over its connections, a few times per timeout,
rather than by a timer per request: the request path only notes the time when a phase begins.
Accepted connections get TCP_NODELAY: without it a reply on a kept-alive connection can wait ~40 ms
for the client's delayed ACK (Nagle).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Coroutine
from functools import partial
from http import HTTPStatus
from itertools import count
from typing import Any
from urllib.parse import unquote

import httptools

from . import encoding
from .app import ScoringApp, response_head
from .coalescing import TurnFuture
from .connections import ConnectionLimits
from .errors import error_body
from .outbox import OUTBOX
from .polling import BusyPoll
from .request import Request, Response, parse_length

IDLE, HEAD, BODY, ANSWER, CLOSING = range(5)  # a connection's phase
LINGER_S = 1.0  # after a refusal: time for the reply to reach the client before the socket closes
_STATUS = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Header names as they came (any case) -> lower-case str: a dict look-up costs under half of a decode
# and lower() per header (measured in instructions). Bounded (MAX_NAMES names of up to 64 bytes): others are
# decoded each time.
_NAMES: dict[bytes, str] = {}
MAX_NAMES = 512


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was just refused."""


def _reply(status: int, message: dict[str, Any], extra: str = "") -> bytes:
    body = encoding.dumps(message)
    return (f"{_STATUS[status]}content-type: application/json\r\ncontent-length: {len(body)}\r\n"
            f"connection: close\r\n{extra}\r\n").encode() + body


def protocol_class(app: ScoringApp, limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The protocol for one worker's connections, answering with ``app`` within ``limits``; give it
    to uvicorn as ``http=``."""
    max_body = app.rt.config.max_body_bytes
    poll = BusyPoll(app.rt.config.busy_poll_us / 1e6)  # after answering a lone client (polling.py)
    sweeping: list[asyncio.TimerHandle] = []  # the worker's sweep timer, once the first connection starts it
    serials = count()  # connection order: the loop's clock is the same for a batch of accepts

    def sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        now = loop.time()
        for conn in list(connections):
            if isinstance(conn, HttpProtocol):
                conn.check(now)
        sweeping[0] = loop.call_later(limits.sweep_s, sweep, loop, connections)

    class HttpProtocol(asyncio.Protocol):
        def __init__(self, config: Any = None, server_state: Any = None, **_: Any) -> None:
            # uvicorn's signature: it makes one per connection, with the worker's shared state
            self.loop = asyncio.get_running_loop()
            self.connections: set[Any] = server_state.connections
            self.tasks: set[asyncio.Task[None]] = server_state.tasks
            self.parser = httptools.HttpRequestParser(self)
            self.transport: asyncio.Transport = None  # type: ignore[assignment]
            self.phase, self.since, self.head_bytes, self.serial = IDLE, self.loop.time(), 0, next(serials)
            self.url = b""
            self.headers: dict[str, str] = {}
            self.chunks: list[bytes] = []
            self.size = 0
            self.waiting: deque[tuple[Request, bool]] = deque()  # pipelined behind an answer in progress
            self.busy = False  # an answer is in progress as a task
            self.closing = False  # close once the answer in progress is sent (uvicorn's shutdown)
            self.write_paused = False

        # --- connection ---------------------------------------------------------------------------
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            self.connections.add(self)
            if not sweeping:
                sweeping.append(self.loop.call_later(limits.sweep_s, sweep, self.loop, self.connections))
            if len(self.connections) > limits.max_connections:
                self._make_room()

        def connection_lost(self, exc: Exception | None) -> None:
            self.connections.discard(self)
            self.phase = CLOSING  # an answer in progress goes nowhere
            self.waiting.clear()

        def _make_room(self) -> None:
            idle = [c for c in self.connections if c is not self and c.phase == IDLE and not c.busy]
            if idle:
                min(idle, key=lambda c: (c.since, c.serial)).transport.close()
            else:
                message = f"The server is at its limit of {limits.max_connections} open connections per worker; retry."
                self.refuse(503, message, "retry-after: 1\r\n")

        def shutdown(self) -> None:
            """uvicorn's graceful shutdown: close when idle, else after the answer in progress."""
            if self.phase in (IDLE, HEAD) and not self.busy:
                self.transport.close()
            else:
                self.closing = True

        def pause_writing(self) -> None:  # the client is not reading its answers: stop reading its requests
            self.write_paused = True
            self.transport.pause_reading()

        def resume_writing(self) -> None:
            self.write_paused = False
            if not self.busy and self.phase != CLOSING:
                self.transport.resume_reading()

        # --- reading ------------------------------------------------------------------------------
        def data_received(self, data: bytes) -> None:
            phase = self.phase
            if phase == BODY:
                self.since = self.loop.time()  # the body timeout counts from its last progress
            elif phase == CLOSING:
                return
            else:
                self.head_bytes += len(data)  # before (or at the start of) a header
            try:
                self.parser.feed_data(data)
            except _Refused:
                return
            except httptools.HttpParserUpgrade:  # no upgrades here: the request is answered as plain HTTP, then closed
                self.closing = True
                if not self.busy and self.phase == IDLE:
                    self.transport.close()
                return
            except httptools.HttpParserError:
                self.refuse(400, "Invalid HTTP request: the request line or header is malformed.")
                return
            if self.phase <= HEAD and self.head_bytes > limits.header_max_bytes:
                self.refuse(431, f"The request's header is over the limit of {limits.header_max_bytes} bytes.")

        def on_message_begin(self) -> None:
            self.phase, self.since = HEAD, self.loop.time()
            self.url, self.headers, self.chunks, self.size = b"", {}, [], 0

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            key = _NAMES.get(name)
            if key is None:
                key = name.decode("latin-1").lower()
                if len(_NAMES) < MAX_NAMES and len(name) <= 64:
                    _NAMES[name] = key
            self.headers[key] = value.decode("latin-1")

        def on_headers_complete(self) -> None:
            if self.head_bytes > limits.header_max_bytes and self._header_size() > limits.header_max_bytes:
                self.refuse(431, f"The request's header is over the limit of {limits.header_max_bytes} bytes.")
                raise _Refused
            self.phase, self.since, self.head_bytes = BODY, self.loop.time(), 0
            length = parse_length(self.headers.get("content-length"))
            if length is not None and length > max_body:
                self.refuse(413, f"Request body of {length} bytes is over the limit of {max_body} bytes.")
                raise _Refused
            if self.headers.get("expect", "").lower() == "100-continue":
                self.transport.write(_CONTINUE)

        def _header_size(self) -> int:
            """The header's size as parsed (the bytes read so far may hold some of the body too)."""
            return len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())

        def on_body(self, body: bytes) -> None:
            self.size += len(body)
            if self.size > max_body:
                self.refuse(413, f"Request body is over the limit of {max_body} bytes.")
                raise _Refused
            self.chunks.append(body)

        def on_message_complete(self) -> None:
            path = self.url.partition(b"?")[0].decode("latin-1")
            if "%" in path:
                path = unquote(path)
            chunks = self.chunks
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            req = Request(self.parser.get_method().decode("latin-1"), path, self.headers, max_body, body)
            req.alone = len(self.connections) == 1  # (pipelined requests on it wait for its answers in turn)
            if req.alone:
                poll.arrived()
            keep_alive = self.parser.should_keep_alive()
            self.phase = ANSWER
            if self.busy:
                self.waiting.append((req, keep_alive))
                self.transport.pause_reading()
            else:
                self._answer(req, keep_alive)

        # --- answering ----------------------------------------------------------------------------
        def _answer(self, req: Request, keep_alive: bool) -> None:
            """Run the app's coroutine now. If it waits on a :class:`TurnFuture` (its model run is
            coalesced with this turn's other requests), it carries on in place once that is settled;
            if it waits on anything else, a task carries on from there."""
            self._step(app.handle(req), req, keep_alive)

        def _step(self, coro: Coroutine[Any, Any, Response], req: Request, keep_alive: bool) -> None:
            try:
                awaited = coro.send(None)
            except StopIteration as done:
                if self.busy:  # resumed: the requests behind this one go on
                    self.busy = False
                    self._send(req, done.value, keep_alive)
                    self._next()
                else:
                    self._send(req, done.value, keep_alive)
                return
            self.busy = True
            if type(awaited) is TurnFuture:
                awaited.resume = partial(self._step, coro, req, keep_alive)
                return
            task = self.loop.create_task(self._finish(coro, awaited, req, keep_alive))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        async def _finish(self, coro: Coroutine[Any, Any, Response], awaited: Any, req: Request,
                          keep_alive: bool) -> None:
            try:
                while True:
                    if awaited is None:  # a bare yield (asyncio.sleep(0)): let the loop go round
                        await asyncio.sleep(0)
                    else:  # a future: the coroutine reads its outcome when resumed
                        try:
                            await asyncio.wait([awaited])
                        except asyncio.CancelledError:
                            awaited.cancel()
                            raise
                    try:
                        awaited = coro.send(None)
                    except StopIteration as done:
                        response = done.value
                        break
            except BaseException:  # cancelled (shutdown): no answer will come, so do not leave the client waiting
                self.phase = CLOSING
                self.transport.close()
                raise
            finally:
                self.busy = False
            self._send(req, response, keep_alive)
            self._next()

        def _next(self) -> None:
            """After an answer that waited: answer the requests pipelined behind it, then read on."""
            while self.waiting and not self.busy and self.phase != CLOSING:
                self._answer(*self.waiting.popleft())
            if not self.busy and not self.write_paused and self.phase != CLOSING:
                self.transport.resume_reading()

        def _send(self, req: Request, response: Response, keep_alive: bool) -> None:
            if self.phase == CLOSING:  # refused, or gone, meanwhile
                return
            close = not keep_alive or self.closing or response.headers.get("connection") == "close"
            if close:
                response.headers["connection"] = "close"
            head = f"{_STATUS[response.status]}{response_head(req, response)}\r\n".encode("latin-1")
            OUTBOX.write(self.transport, head if req.method == "HEAD" else head + response.body, close)
            if close:
                self.phase = CLOSING
            elif self.phase == ANSWER and not self.waiting:  # (not when the next request's header has begun)
                self.phase, self.since = IDLE, self.loop.time()
            if req.alone and not close:  # its client's next request may come at once (polling.py)
                poll.answered(self.loop)

        # --- the sweep, and refusals ------------------------------------------------------------
        def check(self, now: float) -> None:
            phase, waited = self.phase, now - self.since
            if phase == HEAD and waited > limits.header_timeout_s:
                self.refuse(408, f"The request's header did not arrive within {limits.header_timeout_s:g} s.")
            elif phase == BODY and waited > limits.body_timeout_s:
                self.refuse(408, f"The request's body stalled for {limits.body_timeout_s:g} s.")
            elif ((phase == IDLE and not self.busy and waited > limits.keep_alive_timeout_s)
                  or (phase == CLOSING and waited > LINGER_S)):
                self.transport.close()

        def refuse(self, status: int, message: str, extra: str = "") -> None:
            """Answer ``status`` in JSON and close: stop reading, send the reply and a FIN, and close
            the socket once the client has had a moment to read it (closing with unread input at once
            would send a RST that can destroy the reply). An answer in progress goes nowhere."""
            if self.phase == CLOSING or self.transport.is_closing():
                return
            path = self.url.split(b"?", 1)[0].decode("latin-1")
            self.transport.pause_reading()
            self.transport.write(_reply(status, error_body(path, message), extra))
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.phase, self.since = CLOSING, self.loop.time()
            self.waiting.clear()

    return HttpProtocol
