"""An older metadata database is moved forward when it is opened."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from jupyter_mlops.store.metadata import MetadataStore
from jupyter_mlops.store.schema import SCHEMA_VERSION, endpoint_events, endpoints, metadata, models

from ..services import Postgres

# What each version added, undone (newest first) to make a database as that version left it.
ADDED_IN = {
    4: ("DROP TABLE endpoint_events", "DROP TABLE endpoints"),
    3: ("ALTER TABLE models DROP COLUMN provenance", "ALTER TABLE deployments DROP COLUMN model_ref",
        "DROP TABLE model_aliases", "DROP TABLE image_pushes"),
    2: ("ALTER TABLE deployments DROP COLUMN transition",),
}


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
        for added in sorted(ADDED_IN, reverse=True):
            if added > version:
                for statement in ADDED_IN[added]:
                    conn.execute(text(statement))
        conn.execute(text(f"INSERT INTO meta (key, value) VALUES ('schema_version', '{version}')"))
        conn.execute(models.insert().values(name="lr", version=1, framework="onnx", created_at=time.time(), size=1,
                                            sha256="0" * 64, files=[]))
    engine.dispose()


def _columns(conn: object, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


def test_the_schema_version_is_the_newest_migration() -> None:
    assert SCHEMA_VERSION == 4 == max(ADDED_IN)


def test_a_version_1_database_gains_the_deployment_transition_column(url: str) -> None:
    _old_database(url, 1)
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION
    with store.read() as conn:
        assert "transition" in _columns(conn, "deployments")
    store.engine.dispose()


def test_a_version_2_database_gains_aliases_provenance_pushes_and_keeps_its_models(url: str) -> None:
    _old_database(url, 2)
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION
    with store.read() as conn:
        assert "provenance" in _columns(conn, "models") and "model_ref" in _columns(conn, "deployments")
        assert {"model_aliases", "image_pushes"} <= set(inspect(conn).get_table_names())
        assert conn.execute(select(models.c.name, models.c.version, models.c.provenance)).all() == [("lr", 1, None)]
    store.engine.dispose()


def test_a_version_3_database_gains_the_endpoint_tables_and_takes_an_endpoint(url: str) -> None:
    _old_database(url, 3)
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION
    with store.begin() as conn:
        assert {"endpoints", "endpoint_events"} <= set(inspect(conn).get_table_names())
        endpoint_id = conn.execute(endpoints.insert().values(
            name="churn", target="process", auth="key", config={}, traffic={"blue": 100}, mirror={}, state="healthy",
            created_at=0.0, updated_at=0.0)).inserted_primary_key[0]
        conn.execute(endpoint_events.insert().values(endpoint_id=endpoint_id, time=0.0, kind="traffic", message="m",
                                                     data={"blue": 100}))
    with store.read() as conn:
        assert conn.execute(select(endpoints.c.traffic)).scalar_one() == {"blue": 100}
    store.engine.dispose()
