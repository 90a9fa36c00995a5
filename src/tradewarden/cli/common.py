"""Options and helpers shared by CLI commands."""

from __future__ import annotations

import argparse
import logging
import os
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr, ValidationError

from tradewarden.cli import CliError
from tradewarden.config import CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, Settings, load_settings
from tradewarden.store import migrate
from tradewarden.store.db import Database

#: Which flag sets a setting, where it has one (for error messages).
FLAGS = {"data_dir": "--data-dir", "database_url": "--database-url", "host": "--host",
         "port": "--port", "paper_url": "--paper-url"}


def add_database_options(parser: argparse.ArgumentParser, *, data_dir_help: str | None = None,
                         database_url_help: str | None = None) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help=data_dir_help or
                        "state directory (default ./.tradewarden; env TRADEWARDEN_DATA_DIR)")
    parser.add_argument("--database-url", default=None, help=database_url_help or
                        "SQLAlchemy URL (default sqlite in the data dir; "
                        "env TRADEWARDEN_DATABASE_URL)")


def add_listen_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None,
                        help="listen address (default 127.0.0.1; env TRADEWARDEN_HOST)")
    parser.add_argument("--port", type=port_number, default=None,
                        help="listen port, 1-65535 (default 8000; env TRADEWARDEN_PORT)")


def port_number(text: str) -> int:
    """argparse type of a listen port."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to 65535, not {text!r}")
    return int(text)


#: The settings ``run`` and ``demo`` name in their ``--help`` (they honour every setting).
SERVICE_ENVIRONMENT = ("host", "port", "data_dir", "database_url", "paper_url", "paper_clock",
                       "admin_api_key", "log_level")


def environment_help(settings: Sequence[str]) -> str:
    """The ``--help`` epilog naming the environment variables a command honours."""
    names = ", ".join(f"TRADEWARDEN_{name.upper()}" for name in settings)
    return (f"Environment: {names}, and TRADEWARDEN_<NAME> for every other setting in "
            f"docs/configuration.md; {CONFIG_FILE_ENV} names the settings file (default "
            f"./{DEFAULT_CONFIG_FILE}). Flags win over the environment, the environment over "
            "the file.")


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings with the command's flags on top of file and environment; a bad value is a
    one-line :class:`CliError` naming where it came from."""
    try:
        return load_settings(data_dir=getattr(args, "data_dir", None),
                             database_url=getattr(args, "database_url", None), **extra)
    except ValidationError as exc:
        raise CliError(f"invalid configuration: {describe_errors(exc)}") from exc
    except tomllib.TOMLDecodeError as exc:
        path = os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE)
        raise CliError(f"invalid configuration file {path}: {exc}") from exc


def describe_errors(exc: ValidationError) -> str:
    """Each settings error on one line: the setting, where it can come from, the problem and
    the value (never a secret's)."""
    problems = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        field = Settings.model_fields.get(name)
        sources = [f"TRADEWARDEN_{name.upper()}"]
        if name in FLAGS:
            sources.insert(0, FLAGS[name])
        secret = field is not None and SecretStr in getattr(field.annotation, "__args__",
                                                            (field.annotation,))
        value = "" if secret else f", got {error.get('input')!r}"
        problems.append(f"{name} ({' or '.join(sources)}): {error['msg']}{value}")
    return "; ".join(problems)


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


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Rows under their headers, columns aligned (``(none)`` when there are no rows)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for row in (headers, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    if not rows:
        print("(none)")
