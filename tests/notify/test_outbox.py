"""The outbox on real SQLite and PostgreSQL: rows written in the events' transaction, the
mapping of ledger events, de-duplication, preferences at enqueue, EOD summary, manual trades."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select

from tests.seed import Owner, new_order, seed_owner
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.events import EventSource, EventType, FillData, OrderEvent
from tradewarden.domain.orders import CancelledBy
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.eod import EodCleanup
from tradewarden.engine.holdings import HoldingsReconciler
from tradewarden.engine.ledger import Ledger
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import OutboxRecorder, alert, enqueue
from tradewarden.notify.preferences import PreferenceCache
from tradewarden.notify.quiet_hours import IST
from tradewarden.notify.repository import NotificationStore, NotResendable
from tradewarden.store.db import Database
from tradewarden.store.tables import OutboxRow, User

E = EventType
K = NotificationKind
BOX = SecretBox(key_from_secret("test secret for the outbox tests"))


@pytest.fixture
def owner(db: Database) -> Owner:
    return seed_owner(db)


def add_channel(db: Database, user_id: int, name: str = "sink", **modes: str) -> int:
    with db.transaction() as session:
        store = NotificationStore(session, user_id)
        row = store.add_channel(name, "json", BOX.encrypt("json://127.0.0.1:9/hook"))
        if modes:
            store.save_preferences(channels={row.id: modes})
        return row.id


def rows(db: Database, **where: Any) -> list[OutboxRow]:
    with db.read() as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxRow, name) == value)
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def recording_ledger(db: Database, retry_attempts: int = 5) -> tuple[Ledger, PreferenceCache]:
    cache = PreferenceCache()
    cache.load(db)
    ledger = Ledger(db)
    ledger.add_recorder(OutboxRecorder(cache, retry_attempts))
    return ledger, cache


def fill(fill_id: str, quantity: int) -> FillData:
    return FillData(fill_id, quantity, Decimal("2500"), datetime.now(UTC))


async def test_order_events_become_rows_in_their_transaction(db: Database, owner: Owner) -> None:
    channel = add_channel(db, owner.user_id)
    ledger, _ = recording_ledger(db)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    assert rows(db) == [], "created and submitted are not notified"
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER,
                                            broker_order_id="B1", broker_status="OPEN"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_UPDATED, EventSource.BROKER,
                                            broker_status="TRIGGER PENDING"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.BROKER,
                                            filled_quantity=3, fills=(fill("F1", 3),)))
    await ledger.apply(order.id, OrderEvent(E.ORDER_CANCELLED, EventSource.MANUAL,
                                            cancelled_by=CancelledBy.MANUAL))
    await ledger.apply(order.id, OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.BROKER,
                                            filled_quantity=5, fills=(fill("F2", 2),)))
    await ledger.apply(order.id, OrderEvent(E.ORDER_CANCELLED, EventSource.MANUAL,
                                            cancelled_by=CancelledBy.MANUAL))
    found = rows(db)
    assert [r.kind for r in found] == ["order_placed", "order_partially_filled",
                                       "order_cancelled", "order_partially_filled"]
    assert {r.channel_id for r in found} == {channel}
    assert all(r.status == "pending" and r.order_id == order.id for r in found)
    partial = found[1].payload
    assert (partial["filled_quantity"], partial["quantity"], partial["symbol"]) == (3, 10,
                                                                                    "RELIANCE")
    assert found[2].payload["cancelled_by"] == "manual"
    assert found[2].dedupe_key == f"{order.id}:order_cancelled", "second cancel de-duplicated"


async def test_a_refused_event_leaves_no_row(db: Database, owner: Owner) -> None:
    add_channel(db, owner.user_id)
    ledger, _ = recording_ledger(db)
    order = new_order(owner)
    await ledger.create(order)
    with pytest.raises(Exception, match="refused"):
        await ledger.apply(order.id, OrderEvent(E.ORDER_FILLED, filled_quantity=10))
    assert rows(db) == []


async def test_retryable_failures_announce_the_retry_and_final_ones_fail(
        db: Database, owner: Owner) -> None:
    add_channel(db, owner.user_id)
    ledger, _ = recording_ledger(db, retry_attempts=1)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_FAILED, EventSource.BROKER,
                                            reason_code=ReasonCode.BROKER_UNAVAILABLE))
    await ledger.apply(order.id, OrderEvent(E.ORDER_RETRY_SCHEDULED, EventSource.SYSTEM,
                                            next_retry_at=datetime.now(UTC),
                                            reason_code=ReasonCode.BROKER_UNAVAILABLE))
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED, client_order_id="TWRETRY1"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_FAILED, EventSource.BROKER,
                                            reason_code=ReasonCode.BROKER_UNAVAILABLE))
    assert [r.kind for r in rows(db)] == ["retry_added", "order_failed"], (
        "retried attempts are off by default; the exhausted failure is reported")
    assert rows(db)[0].payload["reason_code"] == "broker_unavailable"


async def test_preferences_at_enqueue_and_critical_alerts(db: Database, owner: Owner) -> None:
    loud = add_channel(db, owner.user_id, "loud")
    muted = add_channel(db, owner.user_id, "muted", order_placed="off", system_alert="off")
    with db.transaction() as session:
        NotificationStore(session, owner.user_id).save_preferences(
            events={"order_executed": "off"})
    ledger, _ = recording_ledger(db)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="B1"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_FILLED, filled_quantity=10,
                                            average_price=Decimal("2500")))
    assert [(r.kind, r.channel_id) for r in rows(db)] == [("order_placed", loud)]
    await alert(db, owner.user_id, "warning", "disk almost full")
    await alert(db, owner.user_id, "critical", "broker session expired")
    alerts = [(r.payload["severity"], r.channel_id) for r in rows(db, kind="system_alert")]
    assert alerts == [("warning", loud), ("critical", loud), ("critical", muted)]


async def test_users_without_channels_get_no_rows_and_alerts_reach_admins(
        db: Database, owner: Owner) -> None:
    ledger, _ = recording_ledger(db)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_DENIED, reason_code=ReasonCode.RISK_BLOCKED))
    assert rows(db) == []
    with db.transaction() as session:
        admin = User(username="root", is_admin=True, is_active=True,
                     created_at=datetime.now(UTC))
        session.add(admin)
        session.flush()
        admin_id = admin.id
    admin_channel = add_channel(db, admin_id, "ops")
    add_channel(db, owner.user_id, "trader")
    assert await alert(db, None, "error", "engine stopped") == [admin_id]
    assert [r.channel_id for r in rows(db)] == [admin_channel]


def test_enqueue_deduplicates_per_channel_and_key(db: Database, owner: Owner) -> None:
    channel = add_channel(db, owner.user_id)
    payload = {"symbol": "SBIN", "exchange": "NSE", "side": "BUY", "quantity": 10,
               "entry_price": Decimal("789"), "exit_price": Decimal("820.5"),
               "reason": "target", "pnl": Decimal("315"), "trade_id": 7, "strategy": "m"}
    for _ in range(2):
        with db.transaction() as session:
            enqueue(session, owner.user_id, K.TRADE_EXITED, payload, dedupe_key="trade:7:exit")
    with db.transaction() as session:  # the caller's rollback takes the row with it
        enqueue(session, owner.user_id, K.TRADE_OPENED, {"symbol": "SBIN"})
        session.rollback()
    (row,) = rows(db)
    assert (row.kind, row.channel_id, row.severity) == ("trade_exited", channel, "info")
    assert row.payload["pnl"] == "315" and row.payload["at"]


def test_resend_only_failed_or_suppressed(db: Database, owner: Owner) -> None:
    add_channel(db, owner.user_id)
    with db.transaction() as session:
        enqueue(session, owner.user_id, K.SYSTEM_ALERT, {"text": "x"})
    (row,) = rows(db)
    with db.transaction() as session, pytest.raises(NotResendable):
        NotificationStore(session, owner.user_id).resend(row.id)
    with db.transaction() as session:
        stored = session.get(OutboxRow, row.id)
        assert stored is not None
        stored.status, stored.attempts, stored.last_error = "failed", 20, "HTTP 503"
    with db.transaction() as session:
        assert NotificationStore(session, owner.user_id + 1).resend(row.id) is None
        again = NotificationStore(session, owner.user_id).resend(row.id)
        assert again is not None and (again.status, again.attempts) == ("pending", 0)


async def test_eod_statistics_queue_one_daily_summary_per_user(db: Database,
                                                               owner: Owner) -> None:
    add_channel(db, owner.user_id)
    ledger, _ = recording_ledger(db)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_DENIED, reason_code=ReasonCode.RISK_BLOCKED))
    eod = EodCleanup(cast(Any, SimpleNamespace(ledger=ledger)), cast(Any, None),
                     cast(Any, None), cast(Any, None))
    day: date = datetime.now(IST).date()
    eod.write_stats(day)
    eod.write_stats(day)  # a re-run does not notify twice
    (summary,) = rows(db, kind="daily_summary")
    assert summary.payload["trading_day"] == day.isoformat()
    assert (summary.payload["placed"], summary.payload["executed"]) == (1, 0)
    assert summary.payload["realised_pnl"] == "0"


def test_manual_buys_found_in_holdings_are_queued(db: Database, owner: Owner) -> None:
    add_channel(db, owner.user_id)
    holdings = HoldingsReconciler(db, cast(Any, None))
    actual = {("NSE", "SBIN"): 3}
    assert holdings._record(owner.account_id, owner.user_id, actual) == []  # first sighting
    (event,) = holdings._record(owner.account_id, owner.user_id, actual)
    (row,) = rows(db, kind="manual_position")
    assert (row.payload["kind"], row.payload["quantity"], row.payload["actual"]) == (
        "manual_buy", 3, 3)
    assert event.kind == "manual_buy"


async def test_a_channel_deleted_behind_the_snapshot_never_fails_the_ledger(
        db: Database, owner: Owner) -> None:
    kept = add_channel(db, owner.user_id, "kept")
    gone = add_channel(db, owner.user_id, "gone")
    ledger, _ = recording_ledger(db)  # the snapshot still lists both
    with db.transaction() as session:
        store = NotificationStore(session, owner.user_id)
        channel = store.channel(gone)
        assert channel is not None
        store.delete_channel(channel)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    accepted = await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="B1"))
    assert accepted.to_status.value == "open"
    assert [(r.kind, r.channel_id) for r in rows(db)] == [("order_placed", kept)]
