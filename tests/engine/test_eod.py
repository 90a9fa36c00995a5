"""EOD cleanup: stale orders resolved and the daily statistics row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.seed import Owner, new_order
from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import CancelledBy
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.accounts import AccountInfo
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.runtime import Engine
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users
from tradewarden.store.tables import DailyStats, OrderRow

DAY = date(2026, 11, 20)  # a Friday
DURING = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 11:30 IST


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalPaperBroker]:
    paper = LocalPaperBroker.open(tmp_path / "paper.db", clock="open")
    yield paper
    await paper.aclose()


def _owner(db: Database) -> Owner:
    with db.transaction() as session:
        user = Users(session).create("eod")
        account = Accounts(session).add(user, broker="paper", name="paper-eod")
        return Owner(user.id, account.id)


async def _engine(db: Database, broker: LocalPaperBroker) -> Engine:
    def factory(info: AccountInfo) -> BrokerAdapter:
        return broker.adapter(info.name)

    engine = Engine(Ledger(db), factory)
    await db.run(engine.accounts.refresh)
    await engine.monitor.load()
    return engine


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_eod_expires_vanished_stale_orders_and_writes_stats(
    db: Database, broker: LocalPaperBroker
) -> None:
    owner = _owner(db)
    old = Ledger(db, clock=lambda: DURING)
    statuses = {}
    for kind in ("filled", "rejected", "denied", "cancelled", "stale", "queued"):
        order = new_order(owner)
        await old.create(order)
        statuses[kind] = order.id
        if kind == "denied":
            await old.apply(order.id, OrderEvent(EventType.ORDER_DENIED,
                                                 reason_code=ReasonCode.RISK_BLOCKED))
            continue
        await old.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
        if kind == "queued":
            await old.apply(order.id, OrderEvent(EventType.ORDER_FAILED,
                                                 reason_code=ReasonCode.INSUFFICIENT_FUNDS))
            continue
        await old.apply(order.id, OrderEvent(EventType.ORDER_ACCEPTED,
                                             broker_order_id=f"GONE-{kind}"))
        if kind == "filled":
            await old.apply(order.id, OrderEvent(EventType.ORDER_FILLED,
                                                 average_price=Decimal("2500")))
        elif kind == "rejected":
            await old.apply(order.id, OrderEvent(EventType.ORDER_REJECTED,
                                                 rejection_reason="RMS:Blocked"))
        elif kind == "cancelled":
            await old.apply(order.id, OrderEvent(EventType.ORDER_CANCELLED,
                                                 cancelled_by=CancelledBy.USER))

    engine = await _engine(db, broker)
    engine.eod._clock = lambda: DURING + timedelta(days=2)
    detail = await engine.eod.run(DAY)
    assert detail["stale"] == 1 and detail["stale_expired"] == 1
    with db.read() as session:
        stale = session.get(OrderRow, statuses["stale"])
        assert stale is not None and stale.status == "expired"
        assert "stale" in (stale.reason or "")
        (row,) = session.scalars(select(DailyStats)).all()
        assert (row.trading_day, row.placed, row.executed, row.rejected, row.denied,
                row.cancelled, row.expired, row.pending, row.retry_queue) == (
            DAY, 6, 1, 1, 1, 1, 1, 0, 1)
        assert row.success_rate == Decimal("20.00")  # 1 filled of 5 sent
    again = await engine.eod.run(DAY)  # repeatable: the row is rewritten, not duplicated
    assert again["stats_rows"] == 1
    with db.read() as session:
        assert len(session.scalars(select(DailyStats)).all()) == 1


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
async def test_archive_moves_old_final_orders_to_files(db: Database, broker: LocalPaperBroker,
                                                       tmp_path: Path) -> None:
    import gzip
    import json

    owner = _owner(db)
    old = Ledger(db, clock=lambda: DURING)
    done, working = new_order(owner), new_order(owner)
    for order in (done, working):
        await old.create(order)
        await old.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
        await old.apply(order.id, OrderEvent(EventType.ORDER_ACCEPTED, broker_order_id="B"))
    await old.apply(done.id, OrderEvent(EventType.ORDER_CANCELLED, cancelled_by=CancelledBy.USER))
    filled = new_order(owner)  # orders with fills stay: positions are computed from them
    await old.create(filled)
    await old.apply(filled.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await old.apply(filled.id, OrderEvent(EventType.ORDER_FILLED, broker_order_id="F",
                                          average_price=Decimal("2500")))
    engine = await _engine(db, broker)
    engine.eod.archive_after_days, engine.eod.archive_dir = 1, tmp_path / "archive"
    engine.eod._clock = lambda: DURING + timedelta(days=3)
    assert await db.run(engine.eod.archive) == 1
    (path,) = (tmp_path / "archive").iterdir()
    with gzip.open(path, "rt") as handle:
        (line,) = handle.read().splitlines()
    archived = json.loads(line)
    assert archived["order"]["id"] == done.id and archived["order"]["status"] == "cancelled"
    assert [e["type"] for e in archived["events"]] == [
        "OrderCreated", "OrderSubmitted", "OrderAccepted", "OrderCancelled"]
    with db.read() as session:
        assert session.get(OrderRow, done.id) is None
        assert session.get(OrderRow, working.id) is not None  # not final: kept
        assert session.get(OrderRow, filled.id) is not None  # has fills: kept
    assert await db.run(engine.eod.archive) == 0
