"""Shared fixtures: migrated SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.pg import fresh_database
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.tables import Base


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database per test worker and run."""
    with fresh_database() as url:
        migrate.upgrade(url)
        yield url


def _truncate_all(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tw.db'}"
        migrate.upgrade(url)
        database = Database(url, pool_size=4)
    else:
        url = request.getfixturevalue("pg_session_url")
        database = Database(url, pool_size=4)
        _truncate_all(database)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    migrate.upgrade(url)
    database = Database(url, pool_size=4)
    try:
        yield database
    finally:
        database.close()
