"""Several workers share their connections evenly: a pool a client opens at once is spread over them,
a worker leaves a new connection to one with fewer, and takes it itself when that one is busy."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_mlops.serving.accepting import STEP_ASIDE_S, Acceptor, CountedConnections, Shares

from .conftest import RunningServer

REQUEST = (b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")


def _workers(server: RunningServer) -> list[int]:
    pid = server.proc.pid
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _owners(server_port: int, client_ports: set[int], pids: list[int]) -> dict[int, int]:
    """How many of the connections from ``client_ports`` each worker holds (the server side's socket
    inode, from /proc/net/tcp, among the worker's open files)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, remote, inode = (line.split()[i] for i in (1, 2, 9))
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) in client_ports:
            inodes.add(f"socket:[{inode}]")
    return {pid: sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if _link(fd) in inodes) for pid in pids}


def _link(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


@pytest.mark.parametrize("pool", [8, 64])
def test_a_pool_opened_at_once_is_spread_evenly_over_the_workers(
    start_server: Callable[..., RunningServer], pool: int
) -> None:
    server = start_server(["lr"], workers=2, auth=False)
    deadline = time.monotonic() + 30
    while not all(status == b"200" for status in _pool_answers(server.port, pool)):
        assert time.monotonic() < deadline, "the workers did not both load their model"
        time.sleep(0.2)  # one worker still loading answers 503
    time.sleep(0.2)  # the workers see those connections closed
    conns = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(pool)]  # as a client's pool opens
    try:
        assert _answers(conns) == [b"200"] * pool
        held = _owners(server.port, {c.getsockname()[1] for c in conns}, _workers(server))
        assert sum(held.values()) == pool, held
        assert max(held.values()) - min(held.values()) <= 2, held  # uvloop alone: all 8 on one, 64 as 49/15
    finally:
        for c in conns:
            c.close()


def _answers(conns: list[socket.socket]) -> list[bytes]:
    """Each connection's answer's status to one scoring request, sent on all of them first."""
    body = b'{"data": [[' + b", ".join([b"0.5"] * 20) + b"]]}"
    for c in conns:
        c.sendall(REQUEST % (len(body), body))
    return [c.recv(65536).split(b" ", 2)[1] for c in conns]


def _pool_answers(port: int, pool: int) -> list[bytes]:
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(pool)]
    try:
        return _answers(conns)
    finally:
        for c in conns:
            c.close()


class _Recorder(asyncio.Protocol):
    def __init__(self, who: str, seen: list[str]) -> None:
        self.who, self.seen = who, seen

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.seen.append(self.who)
        transport.close()


async def _two_workers(shares: Shares, seen: list[str], watching: tuple[str, ...] = ("a", "b")) -> tuple[
        socket.socket, dict[str, Acceptor]]:
    """A listening socket and an acceptor per worker slot on a copy of it, as forked workers have."""
    sock = socket.create_server(("127.0.0.1", 0))
    acceptors = {who: Acceptor(sock.dup(), lambda who=who: _Recorder(who, seen), None, shares, slot)  # type: ignore[misc]
                 for slot, who in enumerate(("a", "b")) if who in watching}
    return sock, acceptors


async def _connect(port: int, seen: list[str], timeout: float = 2.0) -> float:
    """Connect, and wait until some worker has the connection: the seconds that took."""
    before, start = len(seen), time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while len(seen) == before:
        assert time.monotonic() - start < timeout, "no worker accepted the connection"
        await asyncio.sleep(0.0002)
    writer.close()
    return time.monotonic() - start


def test_a_worker_leaves_a_new_connection_to_the_one_with_fewer() -> None:
    async def main() -> None:
        shares, seen = Shares(2), []
        sock, acceptors = await _two_workers(shares, seen)
        shares.counts[0], shares.counts[1] = 10, 1
        for _ in range(5):
            await _connect(sock.getsockname()[1], seen)
        assert seen == ["b"] * 5
        assert shares.counts[1] == 6  # counted as it accepts (the connection set recounts when they start)
        acceptors["b"].close()  # b drains: it takes no more, and a does not wait for it
        assert shares.accepting[1] == 0
        for _ in range(3):
            assert await _connect(sock.getsockname()[1], seen) < STEP_ASIDE_S * 5
        assert seen[-3:] == ["a"] * 3
        acceptors["a"].close()
        sock.close()

    asyncio.run(main())


def test_a_worker_takes_the_connection_itself_when_the_one_with_fewer_does_not() -> None:
    async def main() -> None:
        shares, seen = Shares(2), []
        sock, acceptors = await _two_workers(shares, seen, watching=("a",))
        shares.counts[0] = 3
        shares.set_accepting(1, True)  # b says it accepts, holds fewer, but is busy and does not
        waited = await _connect(sock.getsockname()[1], seen)
        assert seen == ["a"] and waited >= STEP_ASIDE_S
        acceptors["a"].close()
        sock.close()

    asyncio.run(main())


def test_a_workers_open_connections_are_published_in_its_slot_and_a_dead_ones_are_cleared() -> None:
    shares = Shares(3)
    conns = CountedConnections(shares, 1)
    first, second = object(), object()
    conns.add(first)
    conns.add(second)
    assert list(shares.counts) == [0, 2, 0]
    conns.discard(first)
    assert list(shares.counts) == [0, 1, 0]
    shares.set_accepting(1, True)
    shares.vacate(1)  # the supervisor, when the worker died
    assert (shares.counts[1], shares.accepting[1]) == (0, 0)
