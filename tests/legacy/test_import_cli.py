"""``tradewarden import-legacy`` as a real process against a database file."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.procs import tradewarden
from tradewarden.store import migrate
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Orders, Users
from tradewarden.store.tables import OrderRow

DATA = Path(__file__).parent.parent / "data" / "legacy"
PENDING = DATA / "pending_orders.json"
HISTORY = DATA / "trades_history.json"
TOTAL = re.compile(r"^total: (\d+) rows: (\d+) imported \((\d+) orders\), (\d+) skipped "
                   r"\(duplicate\), (\d+) invalid$")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A migrated database file with user alice and her paper account (set up in-process;
    the command under test always runs as a real process)."""
    data_dir = tmp_path / "data"
    url = f"sqlite:///{data_dir / 'tradewarden.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            Accounts(session).add(Users(session).create("alice"), broker="paper", name="ap")
    finally:
        db.close()
    return data_dir


def _input_rows() -> int:
    pending = json.loads(PENDING.read_text())
    history = json.loads(HISTORY.read_text())
    return len(pending["orders"]) + len(history["trades"]) + len(history["failed_orders"])


def _import(data_dir: Path, *extra: str) -> tuple[list[int], str, str]:
    done = tradewarden("import-legacy", "--user", "alice", "--pending-orders", str(PENDING),
                       "--trades-history", str(HISTORY), "--data-dir", str(data_dir), *extra)
    assert done.returncode == 0, done.stderr
    match = TOTAL.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout
    return [int(g) for g in match.groups()], done.stdout, done.stderr


def _db_orders(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "tradewarden.db") as connection:
        count: int = connection.execute("select count(*) from orders").fetchone()[0]
        return count


def test_importing_the_samples_twice(data_dir: Path, tmp_path: Path) -> None:
    (rows, imported, orders, skipped, invalid), out, err = _import(
        data_dir, "--batch-size", "5", "--report-json", str(tmp_path / "report.json"))
    assert rows == _input_rows() == imported + skipped + invalid
    assert imported > 40 and skipped >= 5 and invalid >= 10
    assert "pending_orders.json [pending_orders]: 35 rows" in out
    assert "invalid: pending_orders row 29 (250127000009001): qty 'ten' is not a number" in out
    assert "[##############################] 35/35" in err  # the progress bar
    report = json.loads((tmp_path / "report.json").read_text())
    listed = sum(len(s["invalid"]) + len(s["skipped_duplicate"]) for s in report["sections"])
    assert listed == skipped + invalid and report["orders_created"] == orders == _db_orders(
        data_dir)

    (rows2, imported2, orders2, skipped2, invalid2), _, _ = _import(data_dir)
    assert (rows2, imported2, orders2) == (rows, 0, 0)
    assert (skipped2, invalid2) == (imported + skipped, invalid)
    assert _db_orders(data_dir) == orders


def test_imported_orders_have_the_legacy_status_and_a_timeline(data_dir: Path) -> None:
    _import(data_dir)
    expected = {
        "legacy:pending_orders:250127000001001": "open",  # PENDING
        "legacy:pending_orders:250124000001005": "open",  # ongoing: not a fill
        "legacy:pending_orders:250123000001008": "filled",  # EXECUTED
        "legacy:pending_orders:250123000001007": "filled",  # COMPLETE
        "legacy:pending_orders:250122000001010": "partially_filled",
        "legacy:pending_orders:250122000001011": "rejected",
        "legacy:pending_orders:250121000001014": "cancelled",  # cancelled after market order
        "legacy:pending_orders:250120000001015": "cancelled",  # CANCELED
        "legacy:pending_orders:250120000001017": "expired",
        "legacy:trades:250127000005007": "open",  # trade "ongoing"
        "legacy:trades:250108000005003": "filled",
        "legacy:trades:250108000005003:exit": "filled",
        "legacy:failed_orders:TCS@2025-01-24T16:02:04.000000": "failed",
    }
    db = Database(f"sqlite:///{data_dir / 'tradewarden.db'}")
    try:
        with db.read() as session:
            user = Users(session).require("alice")
            rows = {r.idempotency_key: r for r in session.query(OrderRow).filter(
                OrderRow.user_id == user.id)}
            assert {k: rows[k].status for k in expected} == expected
            rejected = rows["legacy:pending_orders:250122000001011"]
            assert (rejected.rejection_reason or "").startswith("RMS:Margin Exceeds")
            assert rows["legacy:pending_orders:250127000001001"].symbol == "RELIANCE"
            for order in rows.values():
                events = Orders(session, user.id).events(order.id)
                assert events[0].type == "OrderCreated"
                assert [e.sequence for e in events] == list(range(1, len(events) + 1))
                assert events[-1].to_status == order.status
                assert order.created_at.tzinfo is not None and order.origin == "external"
    finally:
        db.close()


@pytest.mark.parametrize(("content", "message"), [
    ("this is not json {", "is not valid JSON"),
    ('{"something": []}', "expected an object"),
])
def test_a_malformed_file_writes_nothing(data_dir: Path, tmp_path: Path, content: str,
                                         message: str) -> None:
    broken = tmp_path / "trades_history.json"
    broken.write_text(content)
    done = tradewarden("import-legacy", "--user", "alice", "--pending-orders", str(PENDING),
                       "--trades-history", str(broken), "--data-dir", str(data_dir))
    assert done.returncode == 2
    assert message in done.stderr and "nothing was imported" in done.stderr
    assert _db_orders(data_dir) == 0


@pytest.mark.parametrize(("args", "message"), [
    (("--user", "ghost", "--pending-orders", str(PENDING)), "no user named 'ghost'"),
    (("--user", "alice"), "--pending-orders FILE and/or --trades-history FILE"),
    (("--user", "alice", "--pending-orders", "/nonexistent/pending.json"), "cannot read"),
])
def test_user_errors_exit_2(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    done = tradewarden("import-legacy", *args, "--data-dir", str(data_dir))
    assert done.returncode == 2 and message in done.stderr
    assert _db_orders(data_dir) == 0
