"""Where this host listens on a TCP port and with which sockets, read from /proc/net (what ``ss -ltne`` shows)."""

from __future__ import annotations

import socket
from pathlib import Path

LISTEN = "0A"


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))  # four host-order 32-bit words
    return socket.inet_ntop(socket.AF_INET6, words)


def _listening(port: int) -> list[list[str]]:
    """The rows of the sockets listening on ``port``."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            row = line.split()
            if row[3] == LISTEN and int(row[1].split(":")[1], 16) == port:
                rows.append(row)
    return rows


def listening_addresses(port: int) -> set[str]:
    return {_address(row[1].split(":")[0]) for row in _listening(port)}


def listening_inodes(port: int) -> set[int]:
    """Which sockets listen on ``port`` (their inodes): one socket shared by processes is one inode."""
    return {int(row[9]) for row in _listening(port)}
