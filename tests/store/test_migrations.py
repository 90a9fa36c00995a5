"""Migrations on empty SQLite and PostgreSQL databases: up, check, down to base, up again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.pg import fresh_database
from tradewarden.store import migrate
from tradewarden.store.db import normalize_url
from tradewarden.store.tables import Base

EXPECTED_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _tables(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(url: str) -> None:
    migrate.upgrade(url)
    assert _tables(url) == EXPECTED_TABLES
    migrate.check(url)  # raises when tables.py and the migrations disagree
    migrate.downgrade(url, "base")
    assert _tables(url) == set()
    migrate.upgrade(url)
    assert _tables(url) == EXPECTED_TABLES
    migrate.check(url)


def test_sqlite_round_trip(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.postgres
def test_postgres_round_trip() -> None:
    with fresh_database() as url:
        _round_trip(url)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradewarden", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.postgres
def test_db_upgrade_command_on_both_databases(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'cli.db'}"
    with fresh_database() as pg_url:
        for url in (sqlite_url, pg_url):
            for args in (("upgrade",), ("check",), ("downgrade", "base"), ("upgrade",)):
                result = _cli("db", *args, "--database-url", url)
                assert result.returncode == 0, result.stderr
            assert _tables(url) == EXPECTED_TABLES


def test_db_upgrade_reports_an_unreachable_database(tmp_path: Path) -> None:
    result = _cli("db", "upgrade", "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    assert result.stderr.startswith("error: db upgrade failed")
    assert "Traceback" not in result.stderr
