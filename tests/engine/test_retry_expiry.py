"""Retry queue timing: due entries are dispatched; entries past their expiry fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.seed import new_order, seed_owner
from tradewarden.brokers.instruments import bundled_master
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import Order, OrderType
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.retry import RetryPolicy, RetryQueue
from tradewarden.store.db import Database

# Friday 2026-11-20 11:00 IST: the next trading day is Monday 23rd (close 15:30 IST = 10:00 UTC).
FAILED_AT = datetime(2026, 11, 20, 5, 30, tzinfo=UTC)


async def _queued(db: Database) -> tuple[Ledger, Order]:
    owner = seed_owner(db)
    ledger = Ledger(db, clock=lambda: FAILED_AT)
    order = new_order(owner)
    order.order_type, order.price = OrderType.MARKET, None
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
    failed = await ledger.apply(order.id, OrderEvent(
        EventType.ORDER_FAILED, reason_code=ReasonCode.INSUFFICIENT_FUNDS))
    policy = RetryPolicy(ledger, TradingCalendar(), clock=lambda: FAILED_AT)
    retry = policy.retry_event(failed.order)
    assert retry is not None
    queued = await ledger.apply(order.id, retry)
    return ledger, queued.order


def _queue(ledger: Ledger, now: datetime, sink: list[Order]) -> RetryQueue:
    policy = RetryPolicy(ledger, TradingCalendar(), clock=lambda: now)
    return RetryQueue(policy, bundled_master(), sink.append, clock=lambda: now)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_next_attempt_is_the_next_premarket_window(db: Database) -> None:
    _, order = await _queued(db)
    assert order.next_retry_at == datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # Mon 09:00 IST
    assert order.first_failed_at == FAILED_AT


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_due_entries_are_dispatched_and_early_ones_wait(db: Database) -> None:
    ledger, order = await _queued(db)
    sink: list[Order] = []
    await _queue(ledger, datetime(2026, 11, 23, 3, 0, tzinfo=UTC), sink).run_due(None)
    assert sink == []
    await _queue(ledger, datetime(2026, 11, 23, 3, 31, tzinfo=UTC), sink).run_due(None)
    assert [o.id for o in sink] == [order.id]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_entry_expires_at_the_next_trading_days_close(db: Database) -> None:
    ledger, _ = await _queued(db)
    sink: list[Order] = []
    results = await _queue(ledger, datetime(2026, 11, 23, 10, 0, tzinfo=UTC) + timedelta(
        seconds=1), sink).run_due(None)
    assert sink == []
    (expired,) = results
    assert expired.order.status.value == "failed"  # type: ignore[union-attr]
    assert "expired from the retry queue" in (expired.order.reason or "")  # type: ignore[union-attr]
