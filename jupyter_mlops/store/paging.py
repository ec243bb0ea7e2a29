"""Queries shared by the versioned registries: newest-first pages, and NAME[:VERSION] look-ups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, select

from ..errors import NotFoundError, UsageError
from ..names import parse_version, validate_name


def fetch_page(
    conn: Connection, query: Select[Any], id_column: ColumnElement[Any], conditions: list[Any], limit: int, offset: int
) -> tuple[list[Any], bool]:
    if limit < 1 or offset < 0:
        raise UsageError(f"Invalid page: limit={limit}, offset={offset}; limit >= 1, offset >= 0.")
    if conditions:
        query = query.where(and_(*conditions))
    rows = conn.execute(query.order_by(id_column.desc()).limit(limit + 1).offset(offset)).all()
    return list(rows[:limit]), len(rows) > limit


def find_version(conn: Connection, table: Table, name: str, version: int | str | None, kind: str) -> Any:
    """The row of ``name`` at ``version``, or its latest version when ``version`` is None."""
    validate_name(name, kind)
    query = select(table).where(table.c.name == name)
    if version is None:
        row = conn.execute(query.order_by(table.c.version.desc()).limit(1)).first()
        if row is None:
            raise NotFoundError(f"{kind.capitalize()} {name!r} not found.")
        return row
    v = parse_version(version)
    row = conn.execute(query.where(table.c.version == v)).first()
    if row is None:
        raise NotFoundError(f"{kind.capitalize()} {name}:{v} not found.")
    return row
