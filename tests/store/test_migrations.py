"""An older metadata database is moved forward when it is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from jupyter_mlops.store.metadata import MetadataStore
from jupyter_mlops.store.schema import SCHEMA_VERSION, metadata

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
    assert store.schema_version() == SCHEMA_VERSION == 2
    with store.read() as conn:
        assert "transition" in {c["name"] for c in inspect(conn).get_columns("deployments")}
    store.engine.dispose()
