"""What a model reference names: ``NAME`` (every version; its newest when one is wanted),
``NAME:VERSION``, ``NAME@ALIAS`` (the version the alias points at) and ``NAME@latest`` (built in).

Every look-up of a model by reference goes through :func:`version_ids`, so an alias means the same
thing to ``get_model``, image builds, deployments and list filters.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import InUseError, NotFoundError, UsageError
from ..names import LATEST, Ref, validate_alias
from ..store.schema import model_aliases, models


def version_ids(ref: Ref) -> Select[Any]:
    """Ids of the versions ``ref`` names."""
    if ref.alias is not None and ref.alias != LATEST:
        return select(model_aliases.c.model_id).where(model_aliases.c.name == ref.name,
                                                      model_aliases.c.alias == ref.alias)
    ids = select(models.c.id).where(models.c.name == ref.name)
    if ref.version is not None:
        return ids.where(models.c.version == ref.version)
    if ref.alias == LATEST:
        newest = select(func.max(models.c.version)).where(models.c.name == ref.name).scalar_subquery()
        return ids.where(models.c.version == newest)
    return ids


def find(conn: Connection, ref: Ref) -> Any:
    """The row ``ref`` names: its newest version when it names several."""
    row = conn.execute(select(models).where(models.c.id.in_(version_ids(ref)))
                       .order_by(models.c.version.desc()).limit(1)).first()
    if row is None:
        raise NotFoundError(_missing(conn, ref))
    return row


def _missing(conn: Connection, ref: Ref) -> str:
    if ref.version is not None:
        return f"Model {ref} not found."
    if ref.alias is None or ref.alias == LATEST or not _exists(conn, ref.name):
        return f"Model {ref.name!r} not found."
    known = ", ".join(f"@{a}" for a in aliases_of_name(conn, ref.name)) or "none"
    return f"Model {ref.name} has no alias {ref.alias!r} (its aliases: {known})."


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(models.c.id).where(models.c.name == name).limit(1)).first() is not None


def aliases_of_name(conn: Connection, name: str) -> list[str]:
    return list(conn.execute(select(model_aliases.c.alias).where(model_aliases.c.name == name)
                             .order_by(model_aliases.c.alias)).scalars())


def load(conn: Connection, ids: Iterable[int]) -> dict[int, list[str]]:
    """The aliases pointing at each of ``ids``, sorted."""
    out: dict[int, list[str]] = {}
    ids = list(ids)
    if ids:
        for model_id, alias in conn.execute(select(model_aliases.c.model_id, model_aliases.c.alias)
                                            .where(model_aliases.c.model_id.in_(ids)).order_by(model_aliases.c.alias)):
            out.setdefault(model_id, []).append(alias)
    return out


def put(conn: Connection, dialect: str, name: str, alias: str, model_id: int, user: str | None) -> None:
    """Point ``NAME@alias`` at ``model_id``, wherever it pointed before."""
    if validate_alias(alias) == LATEST:
        raise UsageError(f"The alias {LATEST!r} is built in: it always names the newest version.")
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"model_id": model_id, "updated_at": time.time(), "updated_by": user}
    conn.execute(insert(model_aliases).values(name=name, alias=alias, **values)
                 .on_conflict_do_update(index_elements=[model_aliases.c.name, model_aliases.c.alias], set_=values))


def remove(conn: Connection, name: str, alias: str) -> None:
    validate_alias(alias)
    gone = conn.execute(delete(model_aliases).where(model_aliases.c.name == name,
                                                    model_aliases.c.alias == alias)).rowcount
    if not gone:
        raise NotFoundError(_missing(conn, Ref(name, alias=alias)))


def refuse_if_aliased(conn: Connection, row: Any) -> None:
    """A version an alias names stays until the alias moves: deleting it would leave the alias dangling."""
    held = load(conn, [row.id]).get(row.id)
    if held:
        names = ", ".join(f"{row.name}@{a}" for a in held)
        raise InUseError(f"Model {row.name}:{row.version} is {names}; move or delete the alias first.")
