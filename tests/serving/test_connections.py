"""Connection limits against hostile clients: header size, header and body read timeouts, idle
keep-alive connections, and a cap on open connections per worker that never starves a new client."""

from __future__ import annotations

import json
import re
import select
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jupyter_mlops.appdir import resolve_models, write_app_dir
from jupyter_mlops.registry.models import ModelRegistry

from ..services import free_port
from .conftest import RunningServer

BUSY = b"POST /score HTTP/1.1\r\nHost: x\r\n"  # half a header: this connection is mid-request


def _connect(server: RunningServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _read_until_closed(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed (monotonic)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return data, time.monotonic()
        data += chunk


def _status_and_json(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def closer() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def test_a_header_over_the_limit_gets_431(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], env={"MLOPS_SERVER_SETTINGS": '{"header_max_bytes": 8192}'})  # as a container is told
    with _connect(server) as s:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        reply, _ = _read_until_closed(s)
    assert _status_and_json(reply) == (431, {"error": "The request's header is over the limit of 8192 bytes."})
    with _connect(server) as s:  # just under the limit is fine
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        assert _read_until_closed(s)[0].startswith(b"HTTP/1.1 200 ")


def test_the_next_request_on_a_kept_alive_connection_has_the_same_limits(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], header_max_bytes=8192, header_timeout_s=0.5)
    ok = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(server) as s:
        s.sendall(ok + ok)  # pipelined: both answered
        time.sleep(0.2)
        assert s.recv(65536).count(b"HTTP/1.1 200 ") == 2
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        assert _read_until_closed(s)[0].startswith(b"HTTP/1.1 431 ")
    with _connect(server) as s:
        s.sendall(ok)
        time.sleep(0.2)
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
        start = time.monotonic()
        s.sendall(BUSY)
        reply, closed = _read_until_closed(s)
        assert reply.startswith(b"HTTP/1.1 408 ") and 0.4 < closed - start < 2.0


def test_a_limit_that_is_not_a_positive_number_stops_the_server_with_one_line(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    write_app_dir(registry.ws, resolve_models(registry.ws, ["lr"]), app, port=free_port(), workers=1)
    server = RunningServer(app, {"MLOPS_SERVER_SETTINGS": '{"header_timeout_s": "10"}'})
    assert server.proc.wait(30) == 2
    assert "Server setting 'header_timeout_s' has value '10'; it must be a positive number." in server.log
    assert "Traceback" not in server.log


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def _push_endless_header(server: RunningServer) -> int:
    """Send a header line that never ends, as fast as the server takes it; the bytes sent when it closed."""
    sent = 0
    with _connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            while sent < 64 * 1024 * 1024:
                s.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            return sent
    return sent


def test_endless_headers_are_cut_off_and_not_buffered(server_default: RunningServer) -> None:
    """Four unfinished 64 MiB headers used to grow a worker by 265 MB; a 1 MB header line was accepted."""
    pid = server_default.proc.pid
    worker = int((Path(f"/proc/{pid}/task/{pid}/children").read_text().split() or [pid])[0])
    before = _rss_kib(worker)
    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(lambda _: _push_endless_header(server_default), range(4)))
    assert all(n < 64 * 1024 * 1024 for n in sent), sent  # each was cut off
    assert _rss_kib(worker) - before < 16 * 1024
    with _connect(server_default) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1024 * 1024 + b"\r\n\r\n")
        assert _read_until_closed(s)[0].startswith(b"HTTP/1.1 431 ")


@pytest.fixture
def server_default(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server(["lr"])


def test_half_a_header_then_silence_is_closed_within_the_header_timeout(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], header_timeout_s=0.5)
    with _connect(server) as s:
        start = time.monotonic()
        s.sendall(BUSY)
        reply, closed = _read_until_closed(s)
    assert 0.4 < closed - start < 2.0
    assert _status_and_json(reply) == (408, {"message": "The request's header did not arrive within 0.5 s."})


def test_a_header_sent_one_byte_at_a_time_is_cut_off_at_the_header_timeout(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], header_timeout_s=0.5)
    with _connect(server) as s:
        start = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\n")
        while time.monotonic() - start < 5 and not select.select([s], [], [], 0.05)[0]:
            s.sendall(b"X")  # slowloris: always a byte more, never the end of the header
        reply, closed = _read_until_closed(s)
    assert closed - start < 2.0 and reply.startswith(b"HTTP/1.1 408 ")


def test_a_stalled_body_is_answered_408_within_the_body_timeout(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], body_timeout_s=0.5)
    with _connect(server) as s:
        s.sendall(b"POST /v2/models/lr/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"inputs\": [")
        start = time.monotonic()
        reply, closed = _read_until_closed(s)
    assert 0.4 < closed - start < 2.0
    assert _status_and_json(reply) == (408, {"error": "The request's body stalled for 0.5 s."})
    assert "Traceback" not in server.log


def test_idle_connections_are_closed_after_the_keep_alive_timeout(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(["lr"], keep_alive_timeout_s=0.5)
    with _connect(server) as silent, _connect(server) as after_a_reply:
        start = time.monotonic()
        after_a_reply.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply, closed = _read_until_closed(after_a_reply)
        assert reply.startswith(b"HTTP/1.1 200 ") and 0.4 < closed - start < 2.0
        reply, closed = _read_until_closed(silent)
        assert reply == b"" and closed - start < 2.0


def test_at_the_connection_cap_the_oldest_idle_connection_makes_room(
    start_server: Callable[..., RunningServer], closer: list[socket.socket]
) -> None:
    server = start_server(["lr"], max_connections=10)
    idle = [_connect(server) for _ in range(30)]
    closer.extend(idle)
    assert httpx.get(f"{server.url}/v2/health/live", timeout=5).json() == {"live": True}
    time.sleep(0.2)
    closed = [s for s in idle if select.select([s], [], [], 0)[0] and s.recv(1) == b""]
    assert len(closed) >= 20  # 10 at most stay open, counting the one that was just answered
    assert idle[-1] not in closed  # the newest idle ones stay


def test_at_the_cap_with_every_connection_mid_request_a_new_one_gets_503(
    start_server: Callable[..., RunningServer], closer: list[socket.socket]
) -> None:
    server = start_server(["lr"], max_connections=5)
    for _ in range(5):
        closer.append(s := _connect(server))
        s.sendall(BUSY)
    time.sleep(0.2)
    r = httpx.get(f"{server.url}/v2/health/live", timeout=5)
    assert (r.status_code, r.json()) == (503, {"message": "The server is at its limit of 5 open connections per worker; retry."})
    assert r.headers["connection"] == "close" and r.headers["retry-after"] == "1"


def test_a_thousand_idle_connections_do_not_delay_a_new_client(
    server_default: RunningServer, closer: list[socket.socket]
) -> None:
    for i in range(1000):
        closer.append(s := _connect(server_default))
        if i % 2:
            s.sendall(BUSY)
    time.sleep(0.3)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        with _connect(server_default) as s:  # a new connection each time: the accept path is measured too
            s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply, _ = _read_until_closed(s)
        times.append(time.perf_counter() - start)
        assert reply.startswith(b"HTTP/1.1 200 ")
    assert statistics.median(times) < 0.05, times
    assert max(times) < 1.0, times
