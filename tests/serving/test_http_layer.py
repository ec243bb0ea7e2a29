"""The server's own HTTP/1.1 layer (serving/protocol.py), spoken to byte by byte: pipelining (with
answers that come at once and answers that wait), 100-continue, HEAD, HTTP/1.0, chunked bodies and
early 413s; and the same app in-process over ASGI."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.serving.app import ScoringApp
from jupyter_mlops.serving.config import ServerConfig
from jupyter_mlops.serving.runtime import Runtime

from .conftest import RunningServer
from .test_connections import _read_until_closed

ROWS = [[0.1 * i] * 20 for i in range(3)]


def _score(row: list[float], extra: str = "") -> bytes:
    body = json.dumps({"data": [row]}).encode()
    return (f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` responses (status, headers, body) off a kept-alive connection."""
    sock.settimeout(10)
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(out)} responses"
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(buf) < length:
            buf += sock.recv(65536)
        out.append((int(lines[0].split()[1]), headers, buf[:length]))
        buf = buf[length:]
    return out


def _expected(server: RunningServer) -> list[bytes]:
    return [httpx.post(f"{server.url}/score", json={"data": [row]}).content for row in ROWS]


@pytest.mark.parametrize("settings", [{"coalesce": False}, {}, {"max_batch_size": 8}],
                         ids=["answered-at-once", "coalesced", "answers-that-wait"])
def test_pipelined_requests_are_answered_in_order(start_server: Callable[..., RunningServer],
                                                  settings: dict[str, object]) -> None:
    # Coalesced (the default), a /score answer waits for the end of its turn of the loop and the
    # protocol resumes it in place; with batching on, it waits on the batcher's future and the
    # protocol carries on as a task. Either way the requests pipelined behind it wait their turn.
    server = start_server(["lr"], **settings)
    expected = _expected(server)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"".join(_score(row) for row in ROWS) + b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" + _score(ROWS[0]))
        answers = _responses(sock, 5)
    assert [a[0] for a in answers] == [200] * 5
    assert [a[2] for a in answers[:3]] == expected
    assert json.loads(answers[3][2]) == {"status": "ready"}
    assert answers[4][2] == expected[0]


def test_header_names_in_any_case_whatever_names_came_before(start_server: Callable[..., RunningServer]) -> None:
    # The HTTP layer keeps the names it has seen (bytes as they came -> lower case), up to a bound:
    # every spelling of a name is the same header, before the bound and past it (600 other names)
    server = start_server(["lr"])
    spellings = ["X-Request-Id", "X-REQUEST-ID", "x-request-id"]
    requests = [(f"{name}: id-{i}\r\n", f"id-{i}") for i, name in enumerate(spellings)]
    requests += [(f"X-Junk-{i}: 1\r\nX-Request-ID: junk-{i}\r\n", f"junk-{i}") for i in range(600)]
    requests += [("x-rEqUeSt-iD: last\r\n", "last")]
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        for start in range(0, len(requests), 50):
            batch = requests[start:start + 50]
            sock.sendall(b"".join(_score(ROWS[0], extra) for extra, _ in batch))
            answers = _responses(sock, len(batch))
            assert [(status, headers["x-request-id"]) for status, headers, _ in answers] == [(200, want) for _, want in batch]


def test_expect_100_continue_then_the_answer(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    request = _score(ROWS[1], "Expect: 100-continue\r\n")
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + b"\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        [(status, _, answer)] = _responses(sock, 1)
    assert (status, answer) == (200, _expected(server)[1])


def test_head_gets_headers_without_a_body_and_the_connection_stays_usable(
        start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"Healthy"):
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ") and b"content-length: " in head
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # no body between the two heads


def test_http_1_0_is_answered_and_closed(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_score(ROWS[2]).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
        data, _ = _read_until_closed(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in head
    assert body == _expected(server)[2]


def test_a_chunked_body_is_read_whole(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"])
    body = json.dumps({"data": [ROWS[1]]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
        [(status, _, answer)] = _responses(sock, 1)
    assert (status, answer) == (200, _expected(server)[1])


def test_a_body_declared_over_the_limit_gets_413_before_it_is_sent(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], max_body_bytes=4096)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 5000\r\n\r\n")  # and no body: the answer must not wait for it
        data, _ = _read_until_closed(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"connection: close" in head
    assert json.loads(body)["message"] == "Request body of 5000 bytes is over the limit of 4096 bytes."


def test_the_app_answers_in_process_over_asgi(registry: ModelRegistry, tmp_path: Path,
                                              start_server: Callable[..., RunningServer]) -> None:
    """The same app without a server (ASGI, as any ASGI server or test client runs it) answers as the
    server does, headers included."""
    app_dir = tmp_path / "inprocess"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app_dir, None, port=0)
    runtime = Runtime(ServerConfig.load(str(app_dir / "server.json")))
    assert runtime.load()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=ScoringApp(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.post("/score", json={"data": [ROWS[0]]}, headers={"x-ms-client-request-id": "c-1"})

    r = asyncio.run(call())
    server = start_server(["lr"])
    assert r.status_code == 200 and r.content == _expected(server)[0]
    assert r.headers["x-ms-client-request-id"] == "c-1" and len(r.headers["x-request-id"]) == 32
    assert float(r.headers["x-ms-run-fn-exec-ms"]) > 0


def test_a_record_that_cannot_be_collected_does_not_cost_the_answer(registry: ModelRegistry, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A failure in collection's record once left handle() with the answer lost: the client waited."""
    app_dir = tmp_path / "inprocess"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app_dir, None, port=0, collect=True,
                  collect_store=str(tmp_path / "store"), collect_spool_dir=str(tmp_path / "spool"))
    runtime = Runtime(ServerConfig.load(str(app_dir / "server.json")))
    assert runtime.load()

    async def call() -> httpx.Response:
        runtime.start_collecting(asyncio.get_running_loop())
        assert runtime.collector is not None
        runtime.collector._write = _broken  # its spool segment: mmap.write raising what is not "full"
        transport = httpx.ASGITransport(app=ScoringApp(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.post("/score", json={"data": [ROWS[0]]})

    try:
        r = asyncio.run(call())
    finally:
        if runtime.collector is not None:
            runtime.collector.close()
    assert r.status_code == 200 and set(r.json()) == {"label", "probabilities"}
    assert "its record could not be collected; answered without it" in caplog.text and "spool gone" in caplog.text


def _broken(line: bytes) -> None:
    raise OSError("spool gone")
