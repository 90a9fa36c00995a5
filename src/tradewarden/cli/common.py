"""Options and helpers shared by CLI commands."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from tradewarden.cli import CliError
from tradewarden.config import Settings, load_settings
from tradewarden.store import migrate
from tradewarden.store.db import Database


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="state directory (default ./.tradewarden; env TRADEWARDEN_DATA_DIR)")
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default sqlite in the data dir; "
                             "env TRADEWARDEN_DATABASE_URL)")


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings with the command's flags on top of file and environment."""
    try:
        return load_settings(data_dir=getattr(args, "data_dir", None),
                             database_url=getattr(args, "database_url", None), **extra)
    except ValidationError as exc:
        raise CliError(f"invalid configuration: {exc}") from exc


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """Migrate the database to head (idempotent) and open it."""
    url = settings.resolved_database_url
    try:
        migrate.upgrade(url)
    except Exception as exc:  # connection refused, bad URL, permissions…
        raise CliError(f"cannot open database: {exc}") from exc
    db = Database(url, pool_size=2)
    try:
        yield db
    finally:
        db.close()
