"""Read the seed-era JSON files into typed records; every unusable row gets a reason.

``pending_orders.json`` (the seed's ``OrderTracker``)::

    {"orders": [{"order_id", "symbol": "RELIANCE-EQ", "ticker": "RELIANCE.NS", "qty",
                 "order_type", "variety", "price", "placed_at", "last_status_check",
                 "status", "rejection_reason", "check_count", "executed_qty"}, ...]}

``trades_history.json`` (the seed's trade store)::

    {"trades": [{"symbol", "placed_symbol", "ticker", "entry_price", "entry_time", "qty",
                 "status": "open"|"closed", "order_id", "exit_price", "exit_time",
                 "exit_reason", ...}],
     "failed_orders": [{"symbol", "ticker", "close", "qty", "reason", "first_failed_at",
                        "retry_count", "last_retry_attempt"}],
     "last_run": ...}

Naive timestamps are India time. Optional fields that cannot be read fall back to the
required ones; required fields that cannot be read make the row invalid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradewarden.legacy import rows as readers
from tradewarden.legacy.records import (
    InvalidRow,
    LegacyRow,
    MalformedFile,
    ParsedSection,
    RowRef,
    Section,
)


def load_json(path: Path) -> Any:
    """The file's JSON (floats as ``Decimal``), or ``MalformedFile`` with a clear message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedFile(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except UnicodeDecodeError as exc:
        raise MalformedFile(f"{path} is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise MalformedFile(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                            f"{exc.msg})") from exc


def parse_pending_orders(document: Any, file: str, now: datetime) -> ParsedSection:
    """``{"orders": [...]}`` (or a bare list) of the seed's pending orders."""
    if isinstance(document, dict):
        rows = document.get("orders", document.get("pending_orders"))
    else:
        rows = document
    if not isinstance(rows, list):
        raise MalformedFile(f"{file}: expected an object with an \"orders\" list")
    return _section(Section.PENDING_ORDERS, file, rows,
                    lambda raw, n: readers.read_pending(raw, n, now))


def parse_trades_history(document: Any, file: str, now: datetime) -> list[ParsedSection]:
    """The ``trades`` and ``failed_orders`` lists of the seed's trade history."""
    if not isinstance(document, dict) or not any(
            isinstance(document.get(k), list) for k in ("trades", "failed_orders")):
        raise MalformedFile(f"{file}: expected an object with \"trades\" and/or "
                            f"\"failed_orders\" lists")
    for name in ("trades", "failed_orders"):
        if document.get(name) is not None and not isinstance(document[name], list):
            raise MalformedFile(f"{file}: \"{name}\" is not a list")
    return [
        _section(Section.TRADES, file, document.get("trades") or [],
                 lambda raw, n: readers.read_trade(raw, n, now)),
        _section(Section.FAILED_ORDERS, file, document.get("failed_orders") or [],
                 lambda raw, n: readers.read_failed(raw, n, now)),
    ]


def _section(section: Section, file: str, rows: list[Any],
             read: Callable[[dict[str, Any], int], LegacyRow]) -> ParsedSection:
    parsed = ParsedSection(section=section, file=file, total=len(rows))
    for number, raw in enumerate(rows, start=1):
        if not isinstance(raw, dict):
            parsed.invalid.append(InvalidRow(RowRef(section, number),
                                             f"not an object: {_short(raw)}"))
            continue
        try:
            parsed.rows.append(read(raw, number))
        except ValueError as exc:
            ref = RowRef(section, number, readers.legacy_id(raw))
            parsed.invalid.append(InvalidRow(ref, str(exc)))
    return parsed


def _short(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
