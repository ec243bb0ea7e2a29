"""Spreading connections over a server's workers.

The workers accept on one listening socket (server.py). Left to uvloop, the worker that a new
connection wakes accepts every connection waiting, so a client that opens its pool at once could have
all of it on one worker while the others idle: 8 keep-alive connections to two workers landed 8 and 0
in every run of one hour (2/6, 7/1, 8/0, 4/4 in another), 64 anywhere from 49/15 to 27/37, and a proxy
in front holds a few long-lived connections, so that is how it stays. Here, with several workers, each
accepts for itself: the connections waiting, up to ``BATCH`` a turn, until another accepting worker
holds fewer open connections. Then it leaves the next one to that worker, and takes it itself if it
is still waiting ``STEP_ASIDE_S`` later while no other worker accepted or closed anything (a busy
worker is slow to accept).

:class:`Shares` is what the workers know of each other: memory the supervisor maps before it
forks them, with each worker's open connections and whether it is accepting (not while it
starts, drains, or once it died). One worker keeps uvloop's own accepting: it has nobody to share
with. Two workers, this against uvloop's accepting: 4/4 and 32/32 every time; requests/s 1.16-1.20x
at 8 kept-alive connections where uvloop kept 8/0, 0.94-1.01x at 64; a connection per request
0.91-1.01x at 8 connections and 1.03-1.13x at 64 (one a turn, it was 0.84-0.92x: accepting in
Python costs more than in uvloop's C).
"""

from __future__ import annotations

import asyncio
import logging
import mmap
import socket
import ssl as ssl_module
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

log = logging.getLogger("jupyter_mlops.serving")

STEP_ASIDE_S = 0.002  # how long a worker leaves a new connection to a worker with fewer
BATCH = 16  # connections accepted at most per turn of the loop
RETRY_S = 0.5  # after accept() failed for want of resources (file descriptors, memory)


class Shares:
    """Open connections per worker slot, and whether each slot's worker is accepting, in memory
    shared with the workers forked after it is made. Each worker writes its own slot only."""

    def __init__(self, workers: int) -> None:
        self._memory = mmap.mmap(-1, 16 * workers)  # anonymous and shared: forked workers see one copy
        table = memoryview(self._memory).cast("q")
        self.counts, self.accepting = table[:workers], table[workers:]

    def set_accepting(self, slot: int, accepting: bool) -> None:
        self.accepting[slot] = int(accepting)

    def vacate(self, slot: int) -> None:
        """The slot's worker died: it accepts nothing, and its successor starts from no connections."""
        self.accepting[slot] = 0
        self.counts[slot] = 0

    def others(self, slot: int) -> list[int]:
        """The other workers' open connections."""
        return [c for i, c in enumerate(self.counts) if i != slot]

    def fewer_elsewhere(self, slot: int) -> bool:
        """Whether another accepting worker holds fewer open connections than ``slot``'s."""
        mine = self.counts[slot]
        return any(self.accepting[i] and self.counts[i] < mine for i in range(len(self.counts)) if i != slot)


class CountedConnections(set):  # type: ignore[type-arg]
    """A worker's open connections (uvicorn's ``server_state.connections``, which the HTTP layer
    adds to and discards from), published in its slot as they change."""

    def __init__(self, shares: Shares, slot: int) -> None:
        super().__init__()
        self._counts, self._slot = shares.counts, slot

    def add(self, connection: Any) -> None:
        super().add(connection)
        self._counts[self._slot] = len(self)

    def discard(self, connection: Any) -> None:
        super().discard(connection)
        self._counts[self._slot] = len(self)


class Acceptor:
    """One worker's accepting on the shared socket, in the place of the server that
    ``loop.create_server`` makes (uvicorn closes it, and awaits ``wait_closed``)."""

    def __init__(self, sock: socket.socket, factory: Callable[[], asyncio.Protocol],
                 ssl: ssl_module.SSLContext | None, shares: Shares, slot: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock, self.factory, self.ssl = sock, factory, ssl
        self.shares, self.slot = shares, slot
        # Leaving waiting connections to the others: since when, while they held these, for how many turns
        self._left_since, self._left = 0.0, 0
        self._left_others: list[int] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._family = int(sock.family)
        sock.setblocking(False)
        self.loop.add_reader(sock.fileno(), self._ready)
        shares.set_accepting(slot, True)

    def _ready(self) -> None:
        """Connections are waiting (the socket stays readable, and this is called on each turn of
        the loop, until some worker accepts them): take up to ``BATCH`` while none elsewhere has fewer."""
        if self.shares.fewer_elsewhere(self.slot) and not self._waited_enough():
            return
        self._left_others = None
        for _ in range(BATCH):
            try:
                fd, _ = self.sock._accept()  # type: ignore[attr-defined]  # the fd: socket.accept's enum lookups cost more
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # another worker took it, or the client gave up
            except OSError as exc:  # out of file descriptors or memory: the others accept meanwhile
                log.warning("accept() failed (%s); this worker accepts again in %g s", exc, RETRY_S)
                self.loop.remove_reader(self.sock.fileno())
                self._timer = self.loop.call_later(RETRY_S, self._watch)
                return
            self.shares.counts[self.slot] += 1  # until the connection starts and is counted
            conn = socket.socket(self._family, socket.SOCK_STREAM, 0, fd)  # (the loop makes it non-blocking)
            self._serve(self.loop.connect_accepted_socket(self.factory, conn, ssl=self.ssl), conn)
            if self.shares.fewer_elsewhere(self.slot):
                return

    def _waited_enough(self) -> bool:
        """Whether the others have left a waiting connection alone for long enough that they must
        be busy: for ``STEP_ASIDE_S``, or when this worker's own turns are that long, for a thousand
        of them, while none of them accepted or closed a connection."""
        now, others = self.loop.time(), self.shares.others(self.slot)
        if others != self._left_others:  # they are at it: wait for them afresh
            self._left_since, self._left_others, self._left = now, others, 0
        self._left += 1
        return now - self._left_since >= STEP_ASIDE_S or self._left > 1000

    def _serve(self, coro: Coroutine[Any, Any, Any], conn: socket.socket | None, *_: Any) -> None:
        """Run ``loop.connect_accepted_socket``'s coroutine by hand, as a task would but without one:
        its first step makes the transport, which then owns ``conn`` (given for that step only: the
        transport closes it); the next awaits the connection's start (and a TLS handshake)."""
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        except (OSError, asyncio.TimeoutError) as exc:  # a TLS handshake that failed or timed out
            log.debug("connection dropped before it began: %s", exc)
            if conn is not None:
                conn.close()
            return
        waiting.add_done_callback(partial(self._serve, coro, None))

    def _watch(self) -> None:
        self._timer = None
        if not self._closed:
            self.loop.add_reader(self.sock.fileno(), self._ready)

    def close(self) -> None:
        """Stop accepting (draining, or shutting down); the socket stays open in the other workers."""
        if self._closed:
            return
        self._closed = True
        self.shares.set_accepting(self.slot, False)
        if self._timer is not None:
            self._timer.cancel()
        else:
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()

    async def wait_closed(self) -> None:
        return None
