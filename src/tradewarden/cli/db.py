"""``tradewarden db upgrade|downgrade|check``."""

from __future__ import annotations

import argparse
from typing import Any

from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, settings_from
from tradewarden.store import migrate


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("db", help="database migrations")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = actions.add_parser("upgrade", help="migrate to the newest schema (or REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    add_database_options(up)
    up.set_defaults(handler=_upgrade)

    down = actions.add_parser("downgrade", help="migrate down to REVISION (e.g. base)")
    down.add_argument("revision")
    add_database_options(down)
    down.set_defaults(handler=_downgrade)

    check = actions.add_parser("check", help="fail if tables and migrations disagree")
    add_database_options(check)
    check.set_defaults(handler=_check)


def _run(action: str, fn: Any, args: argparse.Namespace, *rest: str) -> int:
    url = settings_from(args).resolved_database_url
    try:
        fn(url, *rest)
    except Exception as exc:
        raise CliError(f"db {action} failed: {exc}") from exc
    print(f"db {action}: ok")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    return _run("upgrade", migrate.upgrade, args, args.revision)


def _downgrade(args: argparse.Namespace) -> int:
    return _run("downgrade", migrate.downgrade, args, args.revision)


def _check(args: argparse.Namespace) -> int:
    return _run("check", migrate.check, args)
