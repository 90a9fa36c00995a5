"""The simulator's own SQLite state file (WAL): a small document store of JSON rows.

Every simulator operation ends with one :meth:`PaperStore.write` transaction holding
everything the operation changed, so a ``kill -9`` at any instant leaves the file at the state
before or after the operation. ``synchronous=NORMAL`` in WAL mode survives process death (it
only risks the last transactions on an operating-system crash or power loss).

One process at a time: the file is guarded by an exclusive lock on ``<state>.lock`` (released
by the operating system when the process dies, even by ``kill -9``).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    order_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY, account TEXT NOT NULL, day INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    account TEXT NOT NULL, pkey TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account, pkey)
);
CREATE TABLE IF NOT EXISTS holdings (
    account TEXT NOT NULL, hkey TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (account, hkey)
);
CREATE TABLE IF NOT EXISTS prices (key TEXT PRIMARY KEY, data TEXT NOT NULL);
"""

_TABLES = ("meta", "accounts", "orders", "history", "fills", "positions", "holdings", "prices")

Row = dict[str, Any]


@dataclass
class Changes:
    """Everything one operation changed, written in one transaction."""

    meta: dict[str, Any] = field(default_factory=dict)
    accounts: dict[str, Row] = field(default_factory=dict)
    orders: dict[str, Row] = field(default_factory=dict)
    history: list[tuple[str, int, Row]] = field(default_factory=list)
    fills: list[tuple[str, str, int, Row]] = field(default_factory=list)
    positions: dict[tuple[str, str], Row | None] = field(default_factory=dict)
    holdings: dict[tuple[str, str], Row | None] = field(default_factory=dict)
    prices: dict[str, Row] = field(default_factory=dict)
    clear_positions: bool = False

    def __bool__(self) -> bool:
        return bool(
            self.meta
            or self.accounts
            or self.orders
            or self.history
            or self.fills
            or self.positions
            or self.holdings
            or self.prices
            or self.clear_positions
        )


@dataclass
class Loaded:
    """The whole state file, decoded."""

    meta: dict[str, Any]
    accounts: list[Row]
    orders: list[Row]
    history: dict[str, list[Row]]
    fills: list[tuple[str, int, Row]]
    positions: list[tuple[str, Row]]
    holdings: list[tuple[str, Row]]
    prices: dict[str, Row]


class StateFileBusy(RuntimeError):
    """Another process has the state file open."""


class PaperStore:
    """SQLite persistence for the simulator; ``path=None`` keeps state in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        target = ":memory:" if path is None else str(path)
        self._guard: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._guard = _exclusive(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._guard is not None:
                self._guard.close()  # releases the lock
                self._guard = None

    def load(self) -> Loaded:
        with self._lock:
            db = self._db
            history: dict[str, list[Row]] = {}
            for order_id, data in db.execute(
                "SELECT order_id, data FROM history ORDER BY order_id, seq"
            ):
                history.setdefault(order_id, []).append(json.loads(data))
            return Loaded(
                meta={k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")},
                accounts=[json.loads(d) for (d,) in db.execute("SELECT data FROM accounts")],
                orders=[json.loads(d) for (d,) in db.execute("SELECT data FROM orders")],
                history=history,
                fills=[
                    (a, day, json.loads(d))
                    for a, day, d in db.execute(
                        "SELECT account, day, data FROM fills ORDER BY rowid"
                    )
                ],
                positions=[
                    (a, json.loads(d)) for a, d in db.execute("SELECT account, data FROM positions")
                ],
                holdings=[
                    (a, json.loads(d)) for a, d in db.execute("SELECT account, data FROM holdings")
                ],
                prices={k: json.loads(d) for k, d in db.execute("SELECT key, data FROM prices")},
            )

    def write(self, changes: Changes) -> None:
        """Apply ``changes`` atomically."""
        if not changes:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                self._write(db, changes)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _write(db: sqlite3.Connection, c: Changes) -> None:
        def dump(rows: Iterable[tuple[Any, ...]], sql: str) -> None:
            db.executemany(sql, list(rows))

        dump(
            ((k, json.dumps(v)) for k, v in c.meta.items()),
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
        )
        dump(
            ((k, json.dumps(v)) for k, v in c.accounts.items()),
            "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
        )
        dump(
            ((k, json.dumps(v)) for k, v in c.orders.items()),
            "INSERT OR REPLACE INTO orders VALUES (?, ?)",
        )
        dump(
            ((o, s, json.dumps(v)) for o, s, v in c.history),
            "INSERT OR REPLACE INTO history VALUES (?, ?, ?)",
        )
        dump(
            ((f, a, d, json.dumps(v)) for f, a, d, v in c.fills),
            "INSERT OR REPLACE INTO fills VALUES (?, ?, ?, ?)",
        )
        if c.clear_positions:
            db.execute("DELETE FROM positions")
        for (account, key), row in c.positions.items():
            if row is None:
                db.execute("DELETE FROM positions WHERE account=? AND pkey=?", (account, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                    (account, key, json.dumps(row)),
                )
        for (account, key), row in c.holdings.items():
            if row is None:
                db.execute("DELETE FROM holdings WHERE account=? AND hkey=?", (account, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO holdings VALUES (?, ?, ?)",
                    (account, key, json.dumps(row)),
                )
        dump(
            ((k, json.dumps(v)) for k, v in c.prices.items()),
            "INSERT OR REPLACE INTO prices VALUES (?, ?)",
        )

    def clear(self, keep_meta: Iterable[str] = ()) -> None:
        """Delete all state except the listed meta keys."""
        keep = list(keep_meta)
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            for table in _TABLES:
                if table == "meta" and keep:
                    marks = ",".join("?" for _ in keep)
                    db.execute(f"DELETE FROM meta WHERE key NOT IN ({marks})", keep)
                else:
                    db.execute(f"DELETE FROM {table}")
            db.execute("COMMIT")


def _exclusive(path: Path) -> IO[str]:
    guard = open(f"{path}.lock", "w")  # noqa: SIM115 - held open for the store's lifetime
    try:
        fcntl.flock(guard.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        guard.close()
        raise StateFileBusy(f"{path} is in use by another paper broker process") from exc
    return guard
