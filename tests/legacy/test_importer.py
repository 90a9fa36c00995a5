"""The importer against a real database (SQLite and PostgreSQL): ledger-only writes,
legacy times, idempotency across runs, files and batches."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tradewarden.legacy.importer import ImportRefused, LegacyImporter
from tradewarden.legacy.parsing import load_json, parse_pending_orders, parse_trades_history
from tradewarden.legacy.records import ParsedSection
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Orders, Users
from tradewarden.store.tables import OrderEventRow, OrderRow

DATA = Path(__file__).parent.parent / "data" / "legacy"
NOW = datetime(2025, 2, 1, tzinfo=UTC)


def _pending() -> list[ParsedSection]:
    return [parse_pending_orders(load_json(DATA / "pending_orders.json"), "pending_orders.json",
                                 NOW)]


def _trades() -> list[ParsedSection]:
    return parse_trades_history(load_json(DATA / "trades_history.json"), "trades_history.json",
                                NOW)


@pytest.fixture
def user_id(db: Database) -> int:
    with db.transaction() as session:
        user = Users(session).create("alice")
        Accounts(session).add(user, broker="paper", name="alice-paper")
        return user.id


def _order(db: Database, user_id: int, key: str) -> OrderRow:
    with db.read() as session:
        row = session.scalar(select(OrderRow).where(OrderRow.user_id == user_id,
                                                    OrderRow.idempotency_key == key))
        assert row is not None, key
        return row


def test_orders_are_written_through_the_ledger_at_legacy_times(db: Database,
                                                               user_id: int) -> None:
    report = LegacyImporter(db, batch_size=7).run("alice", _pending())
    assert report.imported + report.skipped + report.invalid == report.rows == 35
    order = _order(db, user_id, "legacy:pending_orders:250120000001016")  # CANCELLED, 20/45
    assert (order.status, order.filled_quantity, order.cancelled_by) == ("cancelled", 20,
                                                                         "broker")
    assert order.origin == "external" and order.symbol == "ZOMATO"
    assert order.average_price == Decimal("214")
    assert order.created_at == datetime(2025, 1, 20, 10, 51, 56, 123456, tzinfo=UTC)
    with db.read() as session:
        events = Orders(session, user_id).events(order.id)
    assert [e.type for e in events] == ["OrderCreated", "OrderSubmitted", "OrderAccepted",
                                        "OrderPartiallyFilled", "OrderCancelled"]
    assert events[0].payload["detail"]["import"] == "legacy"
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5] and order.version == 5
    assert events[-1].created_at == datetime(2025, 1, 21, 3, 50, 56, 654321, tzinfo=UTC)
    assert order.extra["legacy"]["fields"]["status"] == "CANCELLED"


def test_a_second_run_and_the_other_file_add_nothing_twice(db: Database, user_id: int) -> None:
    first = LegacyImporter(db).run("alice", _trades())
    again = LegacyImporter(db, batch_size=1).run("alice", _trades())
    assert again.imported == 0
    assert again.skipped == first.imported + first.skipped
    # pending row 22 is the same broker order as trades row 15, imported from the trades file
    pending = LegacyImporter(db).run("alice", _pending())
    (section,) = pending.sections
    assert any(o.ref.number == 22 and "already recorded" in o.reason for o in section.skipped)
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(OrderRow))
        created = session.scalar(select(func.count()).select_from(OrderEventRow).where(
            OrderEventRow.type == "OrderCreated"))
    assert count == created == first.orders_created + pending.orders_created


def test_failed_orders_are_failed_not_queued(db: Database, user_id: int) -> None:
    LegacyImporter(db).run("alice", _trades())
    order = _order(db, user_id, "legacy:failed_orders:HDFCBANK@2025-01-24T16:02:03.111111")
    assert (order.status, order.reason_code, order.reason) == (
        "failed", "insufficient_funds", "insufficient_balance")
    assert order.next_retry_at is None and order.retry_count == 1
    assert order.first_failed_at == datetime(2025, 1, 24, 10, 32, 3, 111111, tzinfo=UTC)
    assert order.last_retry_at == datetime(2025, 1, 25, 3, 31, 0, 222222, tzinfo=UTC)


def test_no_user_or_no_paper_account_is_refused(db: Database) -> None:
    with pytest.raises(ImportRefused, match="no user named 'ghost'"):
        LegacyImporter(db).run("ghost", _pending())
    with db.transaction() as session:
        Users(session).create("bob")
    with pytest.raises(ImportRefused, match="has no paper account"):
        LegacyImporter(db).run("bob", _pending())
