"""Schema migrations: ``MIGRATIONS[n]`` moves a database from version n-1 to n."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


def migrate(conn: Connection, found: int, target: int) -> None:
    for version in range(found + 1, target + 1):
        MIGRATIONS[version](conn)
