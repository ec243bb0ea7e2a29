"""The metadata store: an SQLAlchemy engine, the schema created or migrated on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..artifacts.urls import redact_url
from ..errors import StoreError
from .schema import SCHEMA_VERSION, counters, meta, metadata


def _sqlite_engine(url: str) -> Engine:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Writes BEGIN IMMEDIATE: they take the write lock at once, so concurrent writers queue
        # on busy_timeout instead of failing with "database is locked" when a read lock cannot
        # be upgraded. Reads BEGIN DEFERRED and, in WAL mode, never wait for a writer.
        read = conn.get_execution_options().get("mlops_read", False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    return engine


class MetadataStore:
    """Owns the engine; ``begin()`` yields a connection inside one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine = _sqlite_engine(url)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise StoreError(f"Cannot open metadata store {redact_url(url)!r}: {exc}") from None
        self.dialect = self.engine.dialect.name
        self._read_engine = self.engine.execution_options(mlops_read=True)
        self._ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MetadataStore({redact_url(self.url)!r})"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A read-write transaction."""
        with self._transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (never waits behind a writer on SQLite)."""
        with self._transaction(self._read_engine) as conn:
            yield conn

    @contextmanager
    def _transaction(self, engine: Engine) -> Iterator[Connection]:
        self._ensure_schema()
        try:
            with engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreError(
                f"Metadata store {redact_url(self.url)!r} failed: {exc.orig}"
            ) from None

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                with self.engine.begin() as conn:
                    if self.dialect == "postgresql":
                        # Several processes may open a fresh database at once.
                        conn.execute(text("SELECT pg_advisory_xact_lock(7315)"))
                    metadata.create_all(conn, checkfirst=True)
                    self._check_version(conn)
            except OperationalError as exc:
                raise StoreError(
                    f"Cannot open metadata store {redact_url(self.url)!r}: {exc.orig}"
                ) from None
            self._ready = True

    def _check_version(self, conn: Connection) -> None:
        from .migrations import migrate

        row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
        if row is None:
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        found = int(row[0])
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"Metadata store schema version {found} is newer than this jupyter-mlops "
                f"understands ({SCHEMA_VERSION}); upgrade jupyter-mlops."
            )
        if found < SCHEMA_VERSION:
            migrate(conn, found, SCHEMA_VERSION)
            conn.execute(
                meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
            )

    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one())

    def allocate_version(self, conn: Connection, kind: str, name: str) -> int:
        """Atomically take the next version number for ``(kind, name)`` inside ``conn``'s transaction."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(counters)
            .values(kind=kind, name=name, last=1)
            .on_conflict_do_update(
                index_elements=[counters.c.kind, counters.c.name],
                set_={"last": counters.c.last + 1},
            )
            .returning(counters.c.last)
        )
        return int(conn.execute(stmt).scalar_one())


def insert_id(conn: Connection, statement: Any) -> int:
    """Run an INSERT and return the new row's primary key."""
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])
