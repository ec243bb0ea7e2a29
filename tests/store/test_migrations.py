"""An older metadata database is moved forward when it is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from jupyter_mlops.store.metadata import MetadataStore
from jupyter_mlops.store.schema import SCHEMA_VERSION, endpoint_events, endpoints, metadata

from ..services import Postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.new_database()


def test_a_version_1_database_gains_the_deployment_transition_column(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:  # the schema as version 1 left it
        metadata.create_all(conn)
        conn.execute(text("ALTER TABLE deployments DROP COLUMN transition"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '1')"))
    engine.dispose()
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION
    with store.read() as conn:
        assert "transition" in {c["name"] for c in inspect(conn).get_columns("deployments")}
    store.engine.dispose()


def test_a_version_2_database_gains_the_endpoint_tables_and_takes_an_endpoint(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:  # the schema as version 2 left it: no endpoints
        metadata.create_all(conn)
        conn.execute(text("DROP TABLE endpoint_events"))
        conn.execute(text("DROP TABLE endpoints"))
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '2')"))
    engine.dispose()
    store = MetadataStore(url)
    assert store.schema_version() == SCHEMA_VERSION == 3
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
