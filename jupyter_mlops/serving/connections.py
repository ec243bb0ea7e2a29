"""What one worker allows its client connections, in terms of no particular HTTP library.

:class:`ConnectionLimits` is read from the server's config; the HTTP layer (protocol.py) enforces it,
and its docstring says how each limit is answered.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ConnectionLimits:
    header_max_bytes: int = 32 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_timeout_s: float = 30.0
    max_connections: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"Server setting {f.name!r} has value {value!r}; it must be a positive number.")

    @classmethod
    def from_config(cls, config: Any) -> ConnectionLimits:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    @property
    def sweep_s(self) -> float:
        """How often the sweep looks: a few times per shortest timeout, between 50 ms and 1 s."""
        return min(1.0, max(0.05, min(self.header_timeout_s, self.body_timeout_s, self.keep_alive_timeout_s) / 4))


def raise_open_files_limit(limits: ConnectionLimits) -> None:
    """Let this process hold ``max_connections`` sockets and its own files, within the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
