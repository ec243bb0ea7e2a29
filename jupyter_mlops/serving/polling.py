"""Busy polling: after answering a client alone on the worker, its loop polls for a moment instead of sleeping.

A client alone on a worker (one open connection: a notebook's loop, a job scoring row after row, a
service calling in series) sends its next request as soon as it has read the answer. If the
worker's loop has gone to sleep in ``epoll_wait`` by then, the request waits for the kernel to wake
the worker and then runs on caches gone cold: on this 2-vCPU VM a lone client's request cost the
worker ~150 us of CPU, against ~35 us under load.

So for ``busy_poll_us`` (250 by default) after answering on the worker's only connection, the loop
goes round with a zero poll timeout (a callback that re-schedules itself keeps it from sleeping),
and a request arriving meanwhile is read at once, on a warm core. The worker has nothing else to
do then: it has one connection. While a client's requests come later than the window (a client
elsewhere, or one that thinks between requests), polling would only spend CPU, so after three such
requests in a row it polls after every 8th answer only, to notice when the client speeds up (an
unpolled gap reads longer by the wake-up, so only a polled one can tell). It backs off only after
three: backing off after one late request (a hiccup of the client's) would leave the next seven
unpolled.

Measured here against polling off, one connection, logistic regression:

- wrk (its next request comes tens of us after the answer), ``bench/serve.py --only polling``:
  1.30x requests/s (1.38x with a 100 us window), at 0.97-1.04x the server's CPU per request:
  waking cost about what polling does;
- a Python client on loopback sending each request after the answer plus a sleep of 0 / 0.05 /
  0.2 / 0.5 ms: p50 latency 124 against 204 us, 126 against 154, 175 against 179, 175 against 181;
  CPU per request 213 against 161 us, 265 against 139 (the poll spans the client's pause), 188
  against 164 and 191 against 166 (the every-8th polls).

A fixed window without that rule cost latency where a client's next request came just after the
window (177 against 126 us p50 at a 0.05 ms pause with 100 us), and polling after every answer at
any concurrency measured no faster at 8 connections and up to 0.91x at 64 (the loop is seldom idle
there; each extra round costs a callback and a system call). No polling after an answer that closes
its connection (a probe's). Linux's busy polling (``SO_BUSY_POLL``, ``net.core.busy_poll``) does this
in the kernel only for network devices with NAPI, which loopback and many virtual NICs lack, and
needs a system setting. 0 turns it off (a worker on a machine whose CPUs are billed or shared).
"""

from __future__ import annotations

import asyncio
from time import perf_counter

BACK_OFF_AFTER = 3  # late requests in a row before polling backs off (one late request, a hiccup, is not a pattern)
PROBE_EVERY = 8  # backed off, poll after every 8th answer only


class BusyPoll:
    """One worker's polling: :meth:`arrived` when a request on a lone connection has been read,
    :meth:`answered` after each answer on one."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.until = 0.0  # perf_counter() at which polling stops (the loop's clock counts milliseconds)
        self.polling: asyncio.AbstractEventLoop | None = None  # the loop being kept awake
        self.last_answer = 0.0
        self.late = 0  # requests in a row that came later than the window after the answer before

    def arrived(self) -> None:
        """A lone client's request is in: did it come within the window of the last answer?"""
        self.late = 0 if perf_counter() - self.last_answer <= self.window_s else self.late + 1

    def answered(self, loop: asyncio.AbstractEventLoop) -> None:
        """Keep ``loop`` polling for the window from now: unless the client's last ``BACK_OFF_AFTER``
        requests or more came later than the window, and then after every ``PROBE_EVERY``-th answer
        (unpolled, a gap reads longer by the wake-up, so only a polled one tells whether the client
        has sped up)."""
        self.last_answer = now = perf_counter()
        if self.window_s <= 0 or (self.late >= BACK_OFF_AFTER and self.late % PROBE_EVERY):
            return
        self.until = now + self.window_s
        if self.polling is not loop:
            self.polling = loop
            loop.call_soon(self._poll, loop)

    def _poll(self, loop: asyncio.AbstractEventLoop) -> None:
        if perf_counter() < self.until:
            loop.call_soon(self._poll, loop)  # a ready callback: the loop's next poll does not wait
        else:
            self.polling = None
