"""Schema migrations: ``MIGRATIONS[n]`` moves a database from version n-1 to n."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text


def _deployment_transition(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE deployments ADD COLUMN transition JSON"))


def _endpoints(conn: Connection) -> None:
    from .schema import endpoint_events, endpoints

    for table in (endpoints, endpoint_events):  # new tables: created as the schema defines them
        table.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _deployment_transition, 3: _endpoints}


def migrate(conn: Connection, found: int, target: int) -> None:
    for version in range(found + 1, target + 1):
        MIGRATIONS[version](conn)
