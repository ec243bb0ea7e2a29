"""Background refresh for panels: a daemon thread per panel that never blocks the kernel.

A poller stops when its panel closes, when the front end closes the panel's comm, and when the
kernel shuts down (``atexit``); it pauses while a panel that was on screen has no view left (the
notebook tab was closed), and resumes, refreshing at once, when a view comes back.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable

_running: weakref.WeakSet[Poller] = weakref.WeakSet()


class Poller:
    def __init__(self, interval: float, tick: Callable[[], None], active: Callable[[], bool]) -> None:
        self.interval = interval
        self.ticks = 0
        self._tick, self._active = tick, active
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-panel-poll", daemon=True)

    def start(self) -> Poller:
        _running.add(self)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Poll now rather than at the end of the interval."""
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._active():
                self.ticks += 1
                self._tick()


@atexit.register
def stop_all() -> None:
    """The kernel is shutting down: no poll starts after this."""
    for poller in list(_running):
        poller.stop()
