"""Shared fixtures: migrated SQLite and PostgreSQL databases; the suite's wall clock.

``TRADEWARDEN_TEST_WALL_CLOCK=2027-03-15T23:50:00+05:30 make test`` runs every test as if the
machine's clock read that moment (it keeps ticking), so tests that only pass before some date or
at some hour show up; ``+400d@23:50`` means 400 days from today at 23:50 IST. The processes the
tests start see the same moved clock (``tests/wallclock/sitecustomize.py``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import text

from tests.pg import fresh_database
from tradewarden.clock import IST
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.tables import Base

WALL_CLOCK_VARIABLE = "TRADEWARDEN_TEST_WALL_CLOCK"
OFFSET_VARIABLE = "TRADEWARDEN_TEST_WALL_CLOCK_OFFSET_S"  # read by tests/wallclock/


def wall_clock_moment(text: str) -> datetime:
    """``2027-03-15T23:50:00+05:30``, or ``+400d@23:50`` (days from today, IST time of day)."""
    relative = re.fullmatch(r"\+(\d+)d(?:@(\d{1,2}):(\d{2}))?", text.strip())
    if relative is None:
        return datetime.fromisoformat(text)
    days, hour, minute = relative.groups()
    day = datetime.now(IST).date() + timedelta(days=int(days))
    return datetime.combine(day, time(int(hour or 12), int(minute or 0)), IST)


def pytest_configure(config: pytest.Config) -> None:
    moment = os.environ.get(WALL_CLOCK_VARIABLE)
    if not moment:
        return
    if OFFSET_VARIABLE not in os.environ:  # the controller; xdist workers inherit its offset
        offset = wall_clock_moment(moment) - datetime.now(UTC)
        os.environ[OFFSET_VARIABLE] = str(offset.total_seconds())
        folder = str(Path(__file__).parent / "wallclock")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (folder, os.environ.get("PYTHONPATH")) if p)
    if time_machine.escape_hatch.is_travelling():  # an xdist worker: moved by sitecustomize
        return
    destination = datetime.now(UTC) + timedelta(seconds=float(os.environ[OFFSET_VARIABLE]))
    traveller = time_machine.travel(destination, tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    moment = os.environ.get(WALL_CLOCK_VARIABLE)
    return f"wall clock moved to {moment} ({WALL_CLOCK_VARIABLE})" if moment else None


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
