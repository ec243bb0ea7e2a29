"""Handing the listening socket to the next version of a deployment, so that an update refuses no connection.

A new version that binds a socket of its own on the same port (SO_REUSEPORT) shares the port, but
the kernel hashes each new connection to one of the two sockets; when the old version stops, the
connections queued on its socket that it had not accepted yet are reset (with several workers,
those that arrived while all of them were closing their copies). Under steady traffic an update
failed a request now and then that way. So, as HAProxy does for its reloads (``expose-fd
listeners``), a running server offers its listening socket on a Unix socket in its version's folder,
and the next version takes that very socket (``SCM_RIGHTS``) instead of binding one: until the old
workers stop accepting, both versions accept from one queue, and then the new one alone does;
nothing queued is lost, whenever the old one stops. The process and docker targets do this
(a container on the host's network gets the socket through its status folder's mount).

Linux's ``net.ipv4.tcp_migrate_req`` moves such queued connections to another socket of the port
instead, but it is a system setting (off by default). A server whose predecessor offers nothing
(none, one that has exited, one from before this module) binds its own socket, as before. Only a
process of the server's own user (or root) is handed the socket: the Unix socket's mode is ``0600``,
and the asker's uid is checked (``SO_PEERCRED``) whatever the mode was when it connected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import struct
from pathlib import Path

log = logging.getLogger("jupyter_mlops.serving")

TAKE_TIMEOUT_S = 5.0  # the old supervisor answers within its next 0.1 s turn; this is for a stalled one


def _short(path: Path) -> tuple[str, int]:
    """A name for ``path`` that fits in a Unix socket's 108 bytes however deep the folder lies: the
    folder through ``/proc/self/fd`` (close the returned fd after use)."""
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{folder}/{path.name}", folder


def take(path: str, host: str, port: int) -> socket.socket | None:
    """The listening socket offered at ``path``, when one is offered there and it listens on ``host``
    and ``port`` (0: any); None otherwise (the caller binds its own)."""
    try:
        name, folder = _short(Path(path))
    except OSError:
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as asker:
            asker.settimeout(TAKE_TIMEOUT_S)
            asker.connect(name)
            _, fds, _, _ = socket.recv_fds(asker, 16, 1)
    except OSError as exc:
        log.info("no listening socket to take over at %s (%s); binding one", path, exc)
        return None
    finally:
        os.close(folder)
    if not fds:
        return None
    sock = socket.socket(fileno=fds[0])
    address = sock.getsockname()
    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    if sock.type != socket.SOCK_STREAM or not listening or address[0] != host or port not in (0, address[1]):
        log.warning("the socket offered at %s listens on %s, not %s:%s; binding one", path, address, host, port)
        sock.close()
        return None
    sock.set_inheritable(True)
    return sock


class Offer:
    """Offers ``listening`` at ``path`` to whoever connects there, while :meth:`serve` is called."""

    def __init__(self, path: str, listening: socket.socket) -> None:
        self.path, self.listening = Path(path), listening
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        name, folder = _short(self.path)
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.server.bind(name)
        finally:
            os.close(folder)
        os.chmod(self.path, 0o600)
        self.server.listen(8)
        self.server.setblocking(False)

    def serve(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds; hand the listening socket to each asker meanwhile."""
        if not select.select([self.server], [], [], timeout)[0]:
            return
        try:
            conn, _ = self.server.accept()
        except BlockingIOError:
            return
        with conn:
            conn.setblocking(True)
            if self.listening.fileno() < 0:  # stopping: closed already; the asker binds its own
                return
            _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid not in (os.getuid(), 0):  # whatever the file's mode said when it connected
                log.warning("refused the listening socket to uid %d", uid)
                return
            try:
                socket.send_fds(conn, [b"listening"], [self.listening.fileno()])
                log.info("handed the listening socket to the next version")
            except OSError as exc:
                log.warning("could not hand the listening socket over: %s", exc)

    def close(self) -> None:
        self.server.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
