"""Handing a listening socket to the next version over a Unix socket (handoff.py), with real sockets."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops.serving.handoff import Offer, take


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _offered(path: Path, sock: socket.socket) -> tuple[Offer, threading.Thread]:
    offer = Offer(str(path), sock)
    server = threading.Thread(target=offer.serve, args=(10,))
    server.start()
    return offer, server


def test_the_next_version_takes_the_very_socket_from_a_folder_too_deep_for_a_unix_socket_name(
        tmp_path: Path, listening: socket.socket) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = deep / "listener.sock"
    assert len(str(path)) > 108  # sun_path's size
    offer, server = _offered(path, listening)
    host, port = listening.getsockname()
    taken = take(str(path), host, port)
    server.join()
    assert taken is not None
    assert os.fstat(taken.fileno()).st_ino == os.fstat(listening.fileno()).st_ino
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # only its owner may ask for it
    client = socket.create_connection((host, port))  # queued on the one socket: accepted through either
    conn, _ = taken.accept()
    for s in (conn, client, taken):
        s.close()
    offer.close()
    assert not path.exists()


def test_nothing_offered_means_none_taken(tmp_path: Path) -> None:
    assert take(str(tmp_path / "listener.sock"), "127.0.0.1", 5001) is None  # no file
    assert take(str(tmp_path / "gone" / "listener.sock"), "127.0.0.1", 5001) is None  # no folder
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()  # a version that exited: its file is left, nobody answers
    assert take(str(tmp_path / "stale.sock"), "127.0.0.1", 5001) is None


def test_a_socket_on_another_address_is_not_taken(tmp_path: Path, listening: socket.socket) -> None:
    offer, server = _offered(tmp_path / "listener.sock", listening)
    host, port = listening.getsockname()
    assert take(str(tmp_path / "listener.sock"), host, port + 1) is None
    server.join()
    offer.close()


def test_a_stopping_version_hands_over_nothing(tmp_path: Path, listening: socket.socket) -> None:
    host, port = listening.getsockname()
    offer = Offer(str(tmp_path / "listener.sock"), listening)
    listening.close()  # SIGTERM closed it before the next version asked
    server = threading.Thread(target=offer.serve, args=(10,))
    server.start()
    assert take(str(tmp_path / "listener.sock"), host, port) is None
    server.join()
    offer.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="asking as another user needs root to switch users")
def test_another_user_is_not_handed_the_socket(listening: socket.socket) -> None:
    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))  # a folder the other user can reach (tmp_path is root's)
    folder.chmod(0o777)
    path = folder / "listener.sock"
    offer, server = _offered(path, listening)
    path.chmod(0o777)  # as if it had connected before the mode was set
    host, port = listening.getsockname()
    child = os.fork()
    if child == 0:  # nobody: asks; exits 0 when refused, 1 when handed the socket, 2 when it could not ask
        os.setuid(65534)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as asker:
            try:
                asker.connect(str(path))
                _, fds, _, _ = socket.recv_fds(asker, 16, 1)
            except OSError:
                os._exit(2)
        os._exit(1 if fds else 0)
    _, status = os.waitpid(child, 0)
    server.join()
    offer.close()
    shutil.rmtree(folder)
    assert os.waitstatus_to_exitcode(status) == 0
