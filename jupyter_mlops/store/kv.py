"""Tags and properties: key/value rows shared by models, images and deployments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, select

from ..errors import ImmutableError
from ..names import KeyFilter
from .schema import properties, tags


def filter_clause(kind: str, id_column: ColumnElement, filters: Iterable[KeyFilter], table=tags) -> list:
    """EXISTS clauses, one per filter, answered from the (kind, key, value, obj_id) index."""
    clauses = []
    for f in filters:
        cond = [table.c.kind == kind, table.c.obj_id == id_column, table.c.key == f.key]
        if f.value is not None:
            cond.append(table.c.value == f.value)
        clauses.append(exists(select(1).where(and_(*cond))))
    return clauses


def load(conn: Connection, kind: str, ids: list[int], table=tags) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = defaultdict(dict)
    if not ids:
        return out
    # No ORDER BY: sorting by key makes SQLite pick the (kind, key, value) index and scan every
    # row of the kind; the primary key (kind, obj_id, key) answers this and is already key-sorted.
    rows = conn.execute(
        select(table.c.obj_id, table.c.key, table.c.value).where(table.c.kind == kind, table.c.obj_id.in_(ids))
    )
    for obj_id, key, value in sorted(rows):
        out[obj_id][key] = value
    return out


def insert(conn: Connection, kind: str, obj_id: int, values: dict[str, str], table=tags) -> None:
    if values:
        conn.execute(
            table.insert(),
            [{"kind": kind, "obj_id": obj_id, "key": k, "value": v} for k, v in values.items()],
        )


def set_tags(conn: Connection, kind: str, obj_id: int, values: dict[str, str], remove: Iterable[str] = ()) -> None:
    """Tags are mutable: add, change, remove."""
    keys = set(values) | set(remove)
    if keys:
        conn.execute(delete(tags).where(tags.c.kind == kind, tags.c.obj_id == obj_id, tags.c.key.in_(keys)))
    insert(conn, kind, obj_id, values)


def add_properties(conn: Connection, kind: str, obj_id: int, values: dict[str, str], label: str) -> None:
    """Properties are add-only: a new key is added, the same value is a no-op, a change is refused."""
    current = load(conn, kind, [obj_id], properties).get(obj_id, {})
    for key, value in values.items():
        if key in current and current[key] != value:
            raise ImmutableError(
                f"Property {key!r} of {label} is {current[key]!r} and cannot change to {value!r}: "
                "properties are add-only (use a tag for mutable values)."
            )
    insert(conn, kind, obj_id, {k: v for k, v in values.items() if k not in current}, properties)


def drop_all(conn: Connection, kind: str, obj_id: int) -> None:
    for table in (tags, properties):
        conn.execute(delete(table).where(table.c.kind == kind, table.c.obj_id == obj_id))
