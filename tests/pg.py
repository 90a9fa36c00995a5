"""Fresh PostgreSQL databases for tests, on the server named by TRADEWARDEN_TEST_PG_URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("TRADEWARDEN_TEST_PG_URL", DEFAULT_PG_URL)


def _driver_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when the PostgreSQL server is unreachable."""
    try:
        engine = create_engine(_driver_url(admin_url()))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        message = f"PostgreSQL not reachable at {make_url(admin_url()).host}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create an empty database for one test (or session) and drop it afterwards."""
    require_postgres()
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_driver_url(admin_url()), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
