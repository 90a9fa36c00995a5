"""The ledger on real SQLite and PostgreSQL: atomicity, versioning, refusals, fills, bus."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.seed import Owner, new_order, seed_owner
from tradewarden.domain.events import EventSource, EventType, FillData, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent, TransitionRefused
from tradewarden.domain.orders import CancelledBy
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus, is_allowed
from tradewarden.engine.ledger import (
    AppliedEvent,
    ConcurrencyConflict,
    DuplicateFill,
    Ledger,
    OrderNotFound,
)
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.repositories import Orders
from tradewarden.store.tables import FillRow, OrderEventRow, OrderRow

E = EventType
S = OrderStatus


@pytest.fixture
def owner(db: Database) -> Owner:
    return seed_owner(db)


@pytest.fixture
def ledger(db: Database) -> Ledger:
    return Ledger(db)


def _state(db: Database, order_id: str) -> tuple[OrderRow, list[OrderEventRow], int]:
    with db.transaction() as session:
        row = session.get(OrderRow, order_id)
        assert row is not None
        events = list(session.scalars(select(OrderEventRow)
                                      .where(OrderEventRow.order_id == order_id)
                                      .order_by(OrderEventRow.sequence)))
        fills = session.scalar(select(func.count()).select_from(FillRow)
                               .where(FillRow.order_id == order_id)) or 0
        session.expunge_all()
        return row, events, fills


def _fill(fill_id: str, qty: int, price: str = "2500") -> FillData:
    return FillData(fill_id, qty, Decimal(price), datetime.now(UTC))


async def test_lifecycle_is_recorded_as_numbered_events(ledger: Ledger, owner: Owner,
                                                        db: Database) -> None:
    order = new_order(owner)
    created = await ledger.create(order)
    assert created.to_status is S.CREATED and created.sequence == 1
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER,
                                            broker_order_id="PB-1", broker_status="OPEN"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.BROKER,
                                            filled_quantity=4, fills=(_fill("F1", 4),)))
    done = await ledger.apply(order.id, OrderEvent(
        E.ORDER_FILLED, EventSource.BROKER, filled_quantity=10,
        fills=(_fill("F2", 6, "2501"),)))
    assert done.order.average_price == Decimal("2500.6")
    row, events, fills = _state(db, order.id)
    assert row.status == "filled" and row.version == 5 and row.filled_quantity == 10
    assert row.closed_at is not None and row.broker_order_id == "PB-1"
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert [e.type for e in events] == ["OrderCreated", "OrderSubmitted", "OrderAccepted",
                                        "OrderPartiallyFilled", "OrderFilled"]
    assert events[2].source == "broker" and events[4].payload["filled_quantity"] == 10
    assert fills == 2


async def test_refused_transition_writes_nothing_and_is_logged(
    ledger: Ledger, owner: Owner, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    order = new_order(owner)
    await ledger.create(order)
    subscription = ledger.bus.subscribe()
    caplog.set_level(logging.WARNING, logger="tradewarden.engine.ledger")
    with pytest.raises(TransitionRefused):
        await ledger.apply(order.id, OrderEvent(E.ORDER_FILLED, EventSource.MANUAL))
    row, events, _ = _state(db, order.id)
    assert row.status == "created" and row.version == 1 and len(events) == 1
    assert subscription.pending() == 0
    message = caplog.records[-1].getMessage()
    for part in (order.id, "from=created", "to=filled", "source=manual"):
        assert part in message


async def test_failure_in_the_middle_of_apply_leaves_nothing_written(
    ledger: Ledger, owner: Owner, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-2"))

    def explode(*args: Any, **kwargs: Any) -> AppliedEvent:
        raise RuntimeError("disk on fire")

    # The order row has been UPDATEd and the fill INSERTed when the event insert blows up.
    monkeypatch.setattr(ledger, "_insert_event", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await ledger.apply(order.id, OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=3,
                                                fills=(_fill("F9", 3),)))
    row, events, fills = _state(db, order.id)
    assert row.status == "open" and row.version == 3 and row.filled_quantity == 0
    assert len(events) == 3 and fills == 0


async def test_refusals_write_nothing_so_one_transaction_can_carry_on(
    ledger: Ledger, owner: Owner, db: Database
) -> None:
    """The executor applies events to a batch of orders in one transaction without
    savepoints: a refused order must leave no trace while the others commit."""
    stale, refused, duplicate, fine = (new_order(owner) for _ in range(4))
    for order in (stale, refused, duplicate, fine):
        await ledger.create(order)
    stale_copy = (await ledger.apply(stale.id, OrderEvent(E.ORDER_SUBMITTED))).order
    await ledger.apply(stale.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-7"))
    await ledger.apply(duplicate.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(duplicate.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-8"))
    fill = OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=4, fills=(_fill("F8", 4),))
    await ledger.apply(duplicate.id, fill)
    with db.transaction() as session:
        with pytest.raises(ConcurrencyConflict):  # the copy is a version behind
            ledger.apply_in_session(session, stale.id, OrderEvent(E.ORDER_FAILED,
                                    reason_code=ReasonCode.LOST),
                                    expected_version=stale_copy.version, known=stale_copy)
        with pytest.raises(TransitionRefused):
            ledger.apply_in_session(session, refused.id, OrderEvent(E.ORDER_FILLED))
        with pytest.raises(DuplicateFill):
            ledger.apply_in_session(session, duplicate.id, fill)
        ledger.apply_in_session(session, fine.id, OrderEvent(E.ORDER_SUBMITTED))
    expected = {stale.id: ("open", 3, 3), refused.id: ("created", 1, 1),
                duplicate.id: ("partially_filled", 4, 4), fine.id: ("submitting", 2, 2)}
    for order_id, (status, version, event_count) in expected.items():
        row, events, _ = _state(db, order_id)
        assert (row.status, row.version, len(events)) == (status, version, event_count)


async def test_apply_many_writes_like_one_by_one_in_few_statements(
    ledger: Ledger, owner: Owner, db: Database
) -> None:
    orders = [new_order(owner) for _ in range(4)]
    for order in orders:
        await ledger.create(order)
        await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
        await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id=order.id[-8:],
                                                broker_status="OPEN"))
    current = {o.id: _state(db, o.id)[0] for o in orders}
    known = {order_id: order_from_row(row) for order_id, row in current.items()}
    cancelled, modified, both, filled = orders
    subscription = ledger.bus.subscribe()
    with db.transaction() as session:
        applied = ledger.apply_many_in_session(session, [
            (known[cancelled.id], [OrderEvent(E.ORDER_CANCELLED, EventSource.MANUAL,
                                              cancelled_by=CancelledBy.MANUAL)]),
            (known[modified.id], [OrderEvent(E.ORDER_MODIFIED, EventSource.MANUAL,
                                             price=Decimal("2499.95"))]),
            (known[both.id], [OrderEvent(E.ORDER_MODIFIED, EventSource.MANUAL, quantity=12),
                              OrderEvent(E.ORDER_CANCELLED, EventSource.MANUAL,
                                         cancelled_by=CancelledBy.MANUAL)]),
            (known[filled.id], [OrderEvent(E.ORDER_FILLED, EventSource.BROKER,
                                           filled_quantity=10, fills=(_fill("F-many", 10),))]),
        ])
    assert subscription.pending() == 0  # the caller publishes after its commit
    assert [(a.order.id, a.type) for a in applied] == [
        (filled.id, E.ORDER_FILLED),  # fills take the one-by-one path
        (cancelled.id, E.ORDER_CANCELLED), (modified.id, E.ORDER_MODIFIED),
        (both.id, E.ORDER_MODIFIED), (both.id, E.ORDER_CANCELLED)]
    assert len({a.event_id for a in applied}) == 5
    expected = {cancelled.id: ("cancelled", 4, 4), modified.id: ("open", 4, 4),
                both.id: ("cancelled", 5, 5), filled.id: ("filled", 4, 4)}
    for order_id, (status, version, event_count) in expected.items():
        row, events, _ = _state(db, order_id)
        assert (row.status, row.version, len(events)) == (status, version, event_count)
        assert [e.sequence for e in events] == list(range(1, event_count + 1))
    row, _, fills = _state(db, both.id)
    assert row.quantity == 12 and row.cancelled_by == "manual"
    assert _state(db, modified.id)[0].price == Decimal("2499.95") and fills == 0
    assert _state(db, filled.id)[2] == 1


async def test_apply_many_refuses_the_whole_batch_on_a_stale_order(
    ledger: Ledger, owner: Owner, db: Database
) -> None:
    fresh, stale = new_order(owner), new_order(owner)
    for order in (fresh, stale):
        await ledger.create(order)
    stale_copy = (await ledger.apply(stale.id, OrderEvent(E.ORDER_SUBMITTED))).order
    await ledger.apply(stale.id, OrderEvent(E.ORDER_FAILED, reason_code=ReasonCode.LOST))
    fresh_copy = order_from_row(_state(db, fresh.id)[0])
    with pytest.raises(ConcurrencyConflict), db.transaction() as session:
        ledger.apply_many_in_session(session, [
            (fresh_copy, [OrderEvent(E.ORDER_SUBMITTED)]),
            (stale_copy, [OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-9")])])
    assert _state(db, fresh.id)[0].status == "created"  # rolled back with the batch
    assert _state(db, stale.id)[0].status == "failed"


async def test_duplicate_fills_are_ignored_by_fill_id(ledger: Ledger, owner: Owner,
                                                      db: Database) -> None:
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-3"))
    partial = OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=6, fills=(_fill("F1", 6),))
    await ledger.apply(order.id, partial)
    for _ in range(3):  # the broker (or a re-scan) reports the same fill again
        with pytest.raises(DuplicateFill):
            await ledger.apply(order.id, partial)
    row, events, fills = _state(db, order.id)
    assert row.filled_quantity == 6 and fills == 1 and len(events) == 4


async def test_late_fill_after_cancel_is_applied(ledger: Ledger, owner: Owner,
                                                 db: Database) -> None:
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="PB-4"))
    await ledger.apply(order.id, OrderEvent(E.ORDER_CANCELLED, cancelled_by=CancelledBy.USER))
    await ledger.apply(order.id, OrderEvent(E.ORDER_FILLED, EventSource.RECONCILIATION,
                                            fills=(_fill("F1", 10),)))
    row, events, _ = _state(db, order.id)
    assert row.status == "filled" and events[-1].from_status == "cancelled"


async def test_expected_version_detects_a_stale_writer(ledger: Ledger, owner: Owner) -> None:
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED), expected_version=1)
    with pytest.raises(ConcurrencyConflict):
        await ledger.apply(order.id, OrderEvent(E.ORDER_FAILED, reason_code=ReasonCode.LOST),
                           expected_version=1)
    with pytest.raises(OrderNotFound):
        await ledger.apply("nope", OrderEvent(E.ORDER_SUBMITTED))


async def test_bus_gets_committed_events_in_order(ledger: Ledger, owner: Owner) -> None:
    subscription = ledger.bus.subscribe()
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))
    first, second = subscription.get_nowait(), subscription.get_nowait()
    assert (first.type, second.type) == (E.ORDER_CREATED, E.ORDER_SUBMITTED)
    assert second.order.status is S.SUBMITTING and second.order.version == 2


_CONCURRENT_EVENTS = [
    OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER, broker_order_id="PB-C"),
    OrderEvent(E.ORDER_UPDATED, EventSource.BROKER, broker_status="OPEN"),
    OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.BROKER, filled_quantity=2),
    OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.BROKER, filled_quantity=5),
    OrderEvent(E.ORDER_PARTIALLY_FILLED, EventSource.RECONCILIATION, filled_quantity=8),
    OrderEvent(E.ORDER_CANCEL_REQUESTED, EventSource.USER),
    OrderEvent(E.ORDER_CANCEL_REJECTED, EventSource.BROKER),
    OrderEvent(E.ORDER_MODIFY_REQUESTED, EventSource.USER, price=Decimal("2490")),
    OrderEvent(E.ORDER_MODIFIED, EventSource.BROKER, price=Decimal("2490")),
    OrderEvent(E.ORDER_CANCELLED, EventSource.MANUAL, cancelled_by=CancelledBy.MANUAL),
    OrderEvent(E.ORDER_FILLED, EventSource.BROKER),
    OrderEvent(E.ORDER_EXPIRED, EventSource.SYSTEM),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_concurrent_applies_never_lose_or_corrupt_events(
    ledger: Ledger, owner: Owner, db: Database, seed: int
) -> None:
    rng = random.Random(seed)
    orders = [new_order(owner) for _ in range(3)]
    for order in orders:
        await ledger.create(order)
        await ledger.apply(order.id, OrderEvent(E.ORDER_SUBMITTED))

    async def writer(order_id: str) -> int:
        applied = 0
        for event in rng.sample(_CONCURRENT_EVENTS, len(_CONCURRENT_EVENTS)):
            try:
                await ledger.apply(order_id, event)
                applied += 1
            except InvalidEvent:
                pass
            await asyncio.sleep(0)
        return applied

    results = await asyncio.gather(*(writer(o.id) for o in orders for _ in range(6)))
    for index, order in enumerate(orders):
        row, events, _ = _state(db, order.id)
        applied_here = sum(results[index * 6:(index + 1) * 6])
        assert len(events) == 2 + applied_here, "every successful apply has exactly one event"
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        for previous, current in itertools.pairwise(events):
            assert current.from_status == previous.to_status
            assert is_allowed(S(current.from_status), S(current.to_status))
        assert row.status == events[-1].to_status and row.version == len(events)


async def test_order_reads_are_scoped_by_user(ledger: Ledger, owner: Owner, db: Database) -> None:
    other = seed_owner(db, "someone-else", "paper-x")
    order = new_order(owner)
    await ledger.create(order)
    with db.transaction() as session:
        assert Orders(session, owner.user_id).get(order.id) is not None
        assert Orders(session, other.user_id).get(order.id) is None
        assert Orders(session, other.user_id).events(order.id) == []
