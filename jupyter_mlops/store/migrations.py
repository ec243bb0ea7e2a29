"""Schema migrations: ``MIGRATIONS[n]`` moves a database from version n-1 to n."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, text

from .schema import image_pushes, model_aliases


def _deployment_transition(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE deployments ADD COLUMN transition JSON"))


def _aliases_provenance_pushes(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE models ADD COLUMN provenance JSON"))
    conn.execute(text("ALTER TABLE deployments ADD COLUMN model_ref VARCHAR(512)"))
    for table in (model_aliases, image_pushes):  # new tables: opening a store creates them; said here all the same
        table.create(conn, checkfirst=True)



def _endpoints(conn: Connection) -> None:
    from .schema import endpoint_events, endpoints

    for table in (endpoints, endpoint_events):  # new tables: created as the schema defines them
        table.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _deployment_transition, 3: _aliases_provenance_pushes, 4: _endpoints,
}


def migrate(conn: Connection, found: int, target: int) -> None:
    for version in range(found + 1, target + 1):
        MIGRATIONS[version](conn)
