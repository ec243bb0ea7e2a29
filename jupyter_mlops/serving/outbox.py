"""The answers of a large coalesced run are sent together, once the last of them is ready.

A coalesced run (coalescing.py) settles many requests at once, and the HTTP layer (protocol.py)
finishes each in turn: its output encoded, its record collected, its answer written. Written one by
one, every answer's send (on loopback: the kernel's TCP path for both ends and the client's wake-up)
falls between two requests' Python work and leaves their caches cold, and the client wakes once per
answer. Held until the run's last answer is ready, then sent back to back, the Python work runs
warm and the sends do too: Netty's flush consolidation, for the same reason.

Only in turns of the loop with :data:`HOLD_FROM` requests or more for the model (run in one go, or
in several runs of up to ``MAX_ROWS`` rows, each sent once it is answered). Those come when many
connections have a request waiting, so the worker is busy and a held answer waits for a fraction of
what the request queued. Holding every run's answers cost 8-12 % of requests/s at 8 connections
(runs of up to 8: the client sat idle while the server finished the run), hence the threshold.
Measured (bench/serve.py's logistic regression, one worker, 64 connections, runs of 33-64 requests):
0.99x to 1.41x the requests/s without it in eight pooled runs, median 1.12x.

The records that collection (collector.py) would spool between the held answers wait with them, and
are spooled together just before the answers go (``before_send``): still before the client hears back.

Answers of one connection leave in the order they were written (a request pipelined behind a held
answer is held behind it), and a connection that closes after its answer closes once it is sent.
Each worker has one outbox, used on its event loop's thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("jupyter_mlops.serving")

HOLD_FROM = 16  # requests for a model in one turn of the loop from which its runs' answers are held


class Outbox:
    __slots__ = ("held", "before_send")

    def __init__(self) -> None:
        self.held: list[tuple[asyncio.Transport, bytes, bool]] | None = None  # while holding
        self.before_send: Callable[[], None] | None = None  # run on release, before the held answers go

    def write(self, transport: asyncio.Transport, data: bytes, close: bool = False) -> None:
        """Send ``data`` (then close the connection, if ``close``), or hold it while holding."""
        if self.held is not None:
            self.held.append((transport, data, close))
            return
        transport.write(data)
        if close:
            transport.close()  # once what is written has gone

    def hold(self) -> None:
        self.held = []

    def release(self) -> None:
        """Send what was held, in the order it was written, and stop holding."""
        held, self.held = self.held or [], None
        if self.before_send is not None:
            try:
                self.before_send()
            except Exception:  # the answers go all the same: collection failing does not fail serving
                log.exception("spooling the records of held answers failed; the answers go without them")
        for transport, data, close in held:
            if not transport.is_closing():  # not if the connection was lost or refused meanwhile
                transport.write(data)
                if close:
                    transport.close()


OUTBOX = Outbox()
