"""Run the server: a supervisor and one worker process per core.

The supervisor binds and listens; forked workers accept on that one socket, so one accept queue
feeds every worker (no per-worker hashing of connections), and several workers take turns so
that their open connections stay even (accepting.py). The socket has SO_REUSEPORT,
so a new version of a deployment can listen on the same port while the old one drains. One worker
is supervised too, so a worker that dies is restarted whatever the count. A deployment's next version
takes over this socket rather than binding its own, when this one offers it (handoff.py). What a worker allows its
connections is in connections.py; its HTTP layer, which enforces that, in protocol.py.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from typing import Any

from .accepting import Acceptor, CountedConnections, Shares
from .config import ServerConfig
from .handoff import Offer, take

log = logging.getLogger("jupyter_mlops.serving")


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


INIT_FAILED = 3  # a worker's exit code when init() failed: deterministic, so not restarted


def _draining_server_class() -> type:
    import asyncio
    import threading

    import uvicorn

    class DrainingServer(uvicorn.Server):
        """On SIGTERM with a drain period: stop accepting at once, answer requests on open
        connections with ``Connection: close`` (clients reconnect to the new version), and shut
        down gracefully when the period ends. Other signals, or no drain period: uvicorn's way."""

        def __init__(self, config: Any, runtime: Any, drain_s: float, shares: Shares | None = None,
                     slot: int = 0) -> None:
            super().__init__(config)
            self.runtime, self.drain_s = runtime, drain_s
            self.shares, self.slot = shares, slot
            if shares is not None:
                self.server_state.connections = CountedConnections(shares, slot)
            self._loop: Any = None

        async def startup(self, sockets: Any = None) -> None:
            self._loop = asyncio.get_running_loop()
            if self.shares is None or not sockets:
                await super().startup(sockets=sockets)
            else:  # several workers: this one accepts for itself, taking turns with the others
                await super().startup(sockets=[])
                if self.started:
                    self.servers = [Acceptor(sockets[0], self._protocol, self.config.ssl,  # type: ignore[list-item]
                                             self.shares, self.slot)]
            if self.started and self.runtime.ready:
                self.runtime.write_status("ready")

        def _protocol(self) -> asyncio.Protocol:
            return self.config.http_protocol_class(  # type: ignore[call-arg]
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state)

        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig == signal.SIGTERM and self.runtime.draining:
                return  # already draining (a process group's SIGTERM, then the supervisor's): the timer ends it
            if sig != signal.SIGTERM or self.drain_s <= 0 or self._loop is None:
                return super().handle_exit(sig, frame)
            self.runtime.draining = True
            self._loop.call_soon_threadsafe(lambda: [s.close() for s in getattr(self, "servers", [])])
            threading.Timer(self.drain_s, lambda: setattr(self, "should_exit", True)).start()

    return DrainingServer


def run_worker(config: ServerConfig, sock: socket.socket, shares: Shares | None = None, slot: int = 0) -> None:
    """Serve on this process until SIGTERM/SIGINT (uvicorn drains in-flight requests); with
    ``shares``, as the worker in ``slot`` of several."""
    import uvicorn

    from .app import ScoringApp
    from .connections import ConnectionLimits, raise_open_files_limit
    from .protocol import protocol_class
    from .runtime import Runtime, configure_logging

    configure_logging(config.log_level)
    limits = ConnectionLimits.from_config(config)
    raise_open_files_limit(limits)
    runtime = Runtime(config, freeze_after_load=True)
    if config.listen_when_ready and not runtime.load():
        runtime.write_status("failed")
        sys.exit(INIT_FAILED)
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    app = ScoringApp(runtime)
    uv = uvicorn.Config(
        app, loop=loop, lifespan="on", http=protocol_class(app, limits), ws="none",
        timeout_keep_alive=int(limits.keep_alive_timeout_s), access_log=False, log_level=config.log_level,
        server_header=False, date_header=False,
        ssl_certfile=config.tls_cert, ssl_keyfile=config.tls_key,
        backlog=2048, proxy_headers=False,  # no proxy in front by default; saves a middleware hop
    )
    _draining_server_class()(uv, runtime, config.drain_s, shares, slot).run(sockets=[sock])


def _worker_main(config: ServerConfig, sock: socket.socket, supervisor: int, shares: Shares | None, slot: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; SIGTERM drains
    _die_with(supervisor)
    run_worker(config, sock, shares, slot)


def _die_with(supervisor: int) -> None:
    """Have the kernel kill this worker when the supervisor dies, even by SIGKILL (Linux): an orphan
    would keep answering on the port and hold its collection spool, which a new server adopts only
    from a dead worker. A killed server is then killed whole, as a container's processes are."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != supervisor:  # it died before the line above
        os._exit(1)


class Supervisor:
    """Starts the workers, restarts one that dies (whatever the worker count), stops them all on
    SIGTERM/SIGINT. Crashes in a row (each within ``CALM_S`` of the one before) past
    ``config.max_worker_restarts`` stop the server with exit status 1: a worker that dies at once
    every time would otherwise be restarted forever."""

    CALM_S = 60.0

    def __init__(self, config: ServerConfig, sock: socket.socket) -> None:
        self.config = config
        self.sock = sock
        # The next version of the deployment takes this very socket (handoff.py)
        self.offer = Offer(config.listener_offer, sock) if config.listener_offer else None
        self.procs: list[Any] = []
        self.stopping = False
        self.ctx = mp.get_context("fork")  # the supervisor holds no threads or native state yet
        workers = config.resolved_workers()
        self.shares = Shares(workers) if workers > 1 else None

    def _start_one(self, slot: int) -> Any:
        if self.shares is not None:
            self.shares.vacate(slot)
        proc = self.ctx.Process(target=_worker_main, args=(self.config, self.sock, os.getpid(), self.shares, slot),
                                daemon=False)
        proc.start()
        return proc

    def run(self) -> int:
        from .metrics import DIR_ENV

        made = None if os.environ.get(DIR_ENV) else tempfile.mkdtemp(prefix="mlops-metrics-")
        if made:
            os.environ[DIR_ENV] = made
        try:
            return self._supervise()
        finally:
            if made:
                shutil.rmtree(made, ignore_errors=True)  # the workers' metrics snapshots

    def _supervise(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.procs = [self._start_one(slot) for slot in range(self.config.resolved_workers())]
        crashes, last_crash = 0, float("-inf")
        while not self.stopping:
            if self.offer is not None:
                self.offer.serve(0.1)
            else:
                time.sleep(0.1)
            for i, proc in enumerate(self.procs):
                if proc.is_alive() or self.stopping:
                    continue
                if proc.exitcode == INIT_FAILED:
                    log.error("worker pid %s: init() failed; stopping", proc.pid)
                    self._stop()
                    return INIT_FAILED
                now = time.monotonic()
                crashes, last_crash = (crashes + 1 if now - last_crash < self.CALM_S else 1), now
                if crashes > self.config.max_worker_restarts:
                    log.error("worker pid %s exited with %s: %d crashes in a row; giving up "
                              "(max_worker_restarts is %d).",
                              proc.pid, proc.exitcode, crashes, self.config.max_worker_restarts)
                    self._stop()
                    return 1
                log.warning("worker pid %s exited with %s; restarting", proc.pid, proc.exitcode)
                self.procs[i] = self._start_one(i)
        if self.offer is not None:
            self.offer.close()
        for proc in self.procs:
            proc.join(30 + self.config.drain_s)
            if proc.is_alive():
                proc.kill()
        return 0

    def _stop(self, *_: Any) -> None:
        self.stopping = True
        self.sock.close()  # our copy: once the workers close theirs, the port is free
        for proc in self.procs:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)


def serve(config: ServerConfig) -> int:
    """Run in the foreground: a supervisor and its workers. With port 0, one port is picked and
    shared by all workers."""
    from .connections import ConnectionLimits
    from .runtime import configure_logging

    configure_logging(config.log_level)
    try:
        ConnectionLimits.from_config(config)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    taken = take(config.listener_from, config.host, config.port) if config.listener_from else None
    sock = taken or bind_socket(config.host, config.port)
    config.port = sock.getsockname()[1]
    scheme = "https" if config.tls_cert else "http"
    print(f"jupyter-mlops serving on {scheme}://{config.host}:{config.port} "
          f"({config.resolved_workers()} worker(s){', on the socket of the version before' if taken else ''})",
          flush=True)
    sock.listen(2048)
    return Supervisor(config, sock).run()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.serving")
    parser.add_argument("--config", help="server.json (default: $MLOPS_SERVER_CONFIG)")
    args = parser.parse_args(argv)
    return serve(ServerConfig.load(args.config))


if __name__ == "__main__":
    sys.exit(main())
