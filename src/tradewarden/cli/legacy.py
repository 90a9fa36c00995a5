"""``tradewarden import-legacy``: the seed-era pending orders and trade history (BRIEF §4.1)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tradewarden.cli import CliError
from tradewarden.cli.common import add_database_options, open_database, settings_from
from tradewarden.engine.ledger import utcnow
from tradewarden.legacy.importer import DEFAULT_BATCH_SIZE, ImportRefused, LegacyImporter
from tradewarden.legacy.parsing import load_json, parse_pending_orders, parse_trades_history
from tradewarden.legacy.progress import ProgressBar
from tradewarden.legacy.records import MalformedFile, ParsedSection


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "import-legacy",
        help="import the seed-era pending_orders.json / trades_history.json",
        description="Import legacy orders into the user's first paper account. Idempotent: "
                    "a second run imports nothing new. Every row is reported as imported, "
                    "skipped (duplicate) or invalid with its reason.")
    command.add_argument("--user", required=True, help="the Tradewarden user to import for")
    command.add_argument("--pending-orders", type=Path, default=None, metavar="FILE",
                         help="the legacy pending_orders.json")
    command.add_argument("--trades-history", type=Path, default=None, metavar="FILE",
                         help="the legacy trades_history.json (trades and failed_orders)")
    command.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                         help=f"rows per transaction (default {DEFAULT_BATCH_SIZE})")
    command.add_argument("--max-listed", type=int, default=20, metavar="N",
                         help="list at most N invalid and N duplicate rows per file section")
    command.add_argument("--report-json", type=Path, default=None, metavar="FILE",
                         help="also write the full report (every non-imported row) as JSON")
    add_database_options(command)
    command.set_defaults(handler=_import_legacy)


def _read(args: argparse.Namespace) -> list[ParsedSection]:
    """Parse every given file completely before anything is written."""
    if args.pending_orders is None and args.trades_history is None:
        raise CliError("give --pending-orders FILE and/or --trades-history FILE")
    now = utcnow()
    sections: list[ParsedSection] = []
    try:
        if args.pending_orders is not None:
            path: Path = args.pending_orders
            sections.append(parse_pending_orders(load_json(path), path.name, now))
        if args.trades_history is not None:
            path = args.trades_history
            sections.extend(parse_trades_history(load_json(path), path.name, now))
    except MalformedFile as exc:
        raise CliError(f"{exc}; nothing was imported") from exc
    return sections


def _import_legacy(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    if args.max_listed < 0:
        raise CliError("--max-listed must not be negative")
    sections = _read(args)
    with open_database(settings_from(args)) as db:
        importer = LegacyImporter(db, batch_size=args.batch_size,
                                  progress=ProgressBar(sys.stderr))
        try:
            report = importer.run(args.user, sections)
        except ImportRefused as exc:
            raise CliError(str(exc)) from exc
    if args.report_json is not None:
        try:
            args.report_json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        except OSError as exc:
            raise CliError(f"cannot write {args.report_json}: {exc.strerror or exc}") from exc
    print(report.render(args.max_listed))
    return 0
