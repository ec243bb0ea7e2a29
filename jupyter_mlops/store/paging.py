"""Newest-first pages of a query, with a look-ahead row to tell whether more exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_

from ..errors import UsageError


def fetch_page(
    conn: Connection, query: Select[Any], id_column: ColumnElement[Any], conditions: list[Any], limit: int, offset: int
) -> tuple[list[Any], bool]:
    if limit < 1 or offset < 0:
        raise UsageError(f"Invalid page: limit={limit}, offset={offset}; limit >= 1, offset >= 0.")
    if conditions:
        query = query.where(and_(*conditions))
    rows = conn.execute(query.order_by(id_column.desc()).limit(limit + 1).offset(offset)).all()
    return rows[:limit], len(rows) > limit
