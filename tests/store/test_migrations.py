"""An older metadata database is moved forward when it is opened."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from jupyter_mlops.store.metadata import MetadataStore
from jupyter_mlops.store.schema import SCHEMA_VERSION, metadata, models

from ..services import Postgres

# What each version added, undone to make a database as that version left it.
ADDED_IN_3 = ("ALTER TABLE models DROP COLUMN provenance", "ALTER TABLE deployments DROP COLUMN model_ref",
              "DROP TABLE model_aliases", "DROP TABLE image_pushes")
ADDED_IN_2 = ("ALTER TABLE deployments DROP COLUMN transition",)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.new_database()


def _old_database(url: str, version: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        metadata.create_all(conn)
        for statement in (*ADDED_IN_3, *(ADDED_IN_2 if version < 2 else ())):
            conn.execute(text(statement))
        conn.execute(text(f"INSERT INTO meta (key, value) VALUES ('schema_version', '{version}')"))
        conn.execute(models.insert().values(name="lr", version=1, framework="onnx", created_at=time.time(), size=1,
                                            sha256="0" * 64, files=[]))
    engine.dispose()


def _columns(conn: object, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def test_a_version_1_database_gains_the_deployment_transition_column(url: str) -> None:
    _old_database(url, 1)
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION == 3
    with store.read() as conn:
        assert "transition" in _columns(conn, "deployments")
    store.engine.dispose()


def test_a_version_2_database_gains_aliases_provenance_pushes_and_keeps_its_models(url: str) -> None:
    _old_database(url, 2)
    store = MetadataStore(url)
    assert store.schema_version() == 3
    with store.read() as conn:
        assert "provenance" in _columns(conn, "models") and "model_ref" in _columns(conn, "deployments")
        assert {"model_aliases", "image_pushes"} <= set(inspect(conn).get_table_names())
        assert conn.execute(select(models.c.name, models.c.version, models.c.provenance)).all() == [("lr", 1, None)]
    store.engine.dispose()
