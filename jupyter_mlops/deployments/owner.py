"""Who is changing a deployment: this host and process, and whether that process still runs.

A process start time beside the pid tells a reused pid from the process that wrote the record.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from ..local_server import pid_alive


def _started(pid: int) -> str | None:
    try:  # field 22 of /proc/<pid>/stat, after the parenthesised command name
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def current() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": _started(os.getpid())}


def gone(owner: dict[str, Any] | None) -> bool:
    """True when the owner is known to be dead: a process of this host that no longer runs (or a
    record from before owners were kept). A process on another host is taken to be alive."""
    if not owner:
        return True
    if owner.get("host") != socket.gethostname():
        return False
    pid = int(owner["pid"])
    return not pid_alive(pid) or _started(pid) != owner.get("started")


def describe(owner: dict[str, Any] | None) -> str:
    return f"pid {owner['pid']} on {owner['host']}" if owner else "a process from before owners were recorded"
