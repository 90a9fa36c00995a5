"""Broker orders with our tag that no order is known by (engine/tagged.py), through the real
monitor against the in-process paper broker, on SQLite and PostgreSQL: orphans recorded as
external after the grace period with an alert, late discoveries of failed orders reconciled,
dead copies left alone, in-flight and unrecorded tags untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.notify.test_outbox import add_channel
from tests.seed import Owner, new_order, seed_owner
from tradewarden.brokers.base import BrokerAdapter, OrderRequest
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Order, OrderType, Product, Side, new_client_order_id
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.accounts import AccountDirectory, AccountInfo
from tradewarden.engine.ledger import Ledger, utcnow
from tradewarden.engine.monitor import Monitor
from tradewarden.engine.strays import UNKNOWN_TW_TAG
from tradewarden.engine.tagged import UnrecordedTags
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import BrokerAccount, OrderRow, OutboxRow

RELIANCE = InstrumentKey("NSE", "RELIANCE")
RETRY_LATER = OrderEvent(EventType.ORDER_RETRY_SCHEDULED,
                         next_retry_at=utcnow() + timedelta(hours=1))


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalPaperBroker]:
    paper = LocalPaperBroker.open(tmp_path / "paper.db", clock="open")
    paper.exchange.set_prices({RELIANCE: Decimal("2600")})
    yield paper
    await paper.aclose()


@pytest.fixture
def owner(db: Database) -> Owner:
    return seed_owner(db)


def _account_name(db: Database, owner: Owner) -> str:
    with db.read() as session:
        account = session.get(BrokerAccount, owner.account_id)
        assert account is not None
        return account.name


async def _monitor(db: Database, ledger: Ledger, broker: LocalPaperBroker,
                   unrecorded: UnrecordedTags, grace_s: float,
                   holdings_every: int = 6) -> Monitor:
    def factory(info: AccountInfo) -> BrokerAdapter:
        return broker.adapter(info.name)

    directory = AccountDirectory(db, factory)
    await db.run(directory.refresh)
    monitor = Monitor(ledger, directory, unrecorded=unrecorded, orphan_grace_s=grace_s,
                      holdings_every=holdings_every)
    await monitor.load()
    return monitor


async def _place(adapter: BrokerAdapter, tag: str, price: str = "2500",
                 quantity: int = 3) -> str:
    """An order at the broker under ``tag`` (resting while the limit is below the market)."""
    return await adapter.place(OrderRequest(
        exchange="NSE", symbol="RELIANCE", side=Side.BUY, quantity=quantity,
        order_type=OrderType.LIMIT, product=Product.CNC, price=Decimal(price), tag=tag))


def _orders(db: Database) -> list[Order]:
    with db.read() as session:
        return [order_from_row(row) for row in session.scalars(
            select(OrderRow).order_by(OrderRow.created_at))]


async def _failed(ledger: Ledger, owner: Owner) -> Order:
    """An order we sent, heard nothing back about, and finally marked lost."""
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
    failed = await ledger.apply(order.id, OrderEvent(
        EventType.ORDER_FAILED, EventSource.RECONCILIATION, reason_code=ReasonCode.LOST))
    return failed.order


async def test_an_orphan_tag_is_recorded_as_external_after_the_grace_with_an_alert(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    add_channel(db, owner.user_id)
    ledger = Ledger(db)
    adapter = broker.adapter(_account_name(db, owner))
    unrecorded = UnrecordedTags()
    orphan_tag, queued_tag, retried_tag = (new_client_order_id() for _ in range(3))
    orphan_id = await _place(adapter, orphan_tag)
    # an earlier attempt of a retried order, cancelled at the broker: dead, nothing to record
    await adapter.cancel(await _place(adapter, retried_tag, price="2480"))
    monitor = await _monitor(db, ledger, broker, unrecorded, grace_s=0.3)
    # an exit placed while its record waits in memory (registered after the monitor started:
    # the monitor must share this registry, not hold a copy)
    unrecorded.add(queued_tag, owner.account_id, "NSE", "RELIANCE")
    await _place(adapter, queued_tag, price="2490")

    await monitor.cycle()
    assert _orders(db) == []  # inside the grace period: nothing recorded yet
    await asyncio.sleep(0.35)
    report = await monitor.cycle()
    assert sum(a.external for a in report.accounts) == 1
    (recorded,) = _orders(db)
    assert recorded.broker_order_id == orphan_id and recorded.status.value == "open"
    assert recorded.origin.value == "external" and recorded.quantity == 3
    assert recorded.extra["external_tag"] == orphan_tag and recorded.extra[UNKNOWN_TW_TAG]
    with db.read() as session:
        alerts = [row.payload for row in session.scalars(
            select(OutboxRow).where(OutboxRow.kind == "system_alert"))]
    assert len(alerts) == 1 and orphan_tag in alerts[0]["text"]
    assert alerts[0]["severity"] == "error"

    await monitor.cycle()  # known now: never recorded twice
    assert len(_orders(db)) == 1
    unrecorded.discard(queued_tag)  # still nobody's after its record was "lost": an orphan too
    await monitor.cycle()
    await asyncio.sleep(0.35)
    await monitor.cycle()
    assert len(_orders(db)) == 2


async def test_a_failed_order_found_at_the_broker_after_all_is_reconciled(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    ledger = Ledger(db)
    adapter = broker.adapter(_account_name(db, owner))
    alive, dead, in_flight = (await _failed(ledger, owner), await _failed(ledger, owner),
                              new_order(owner))
    await ledger.create(in_flight)
    await ledger.apply(in_flight.id, OrderEvent(EventType.ORDER_SUBMITTED))
    alive_id = await _place(adapter, alive.client_order_id)
    dead_id = await _place(adapter, dead.client_order_id, price="2495")
    await adapter.cancel(dead_id)
    await _place(adapter, in_flight.client_order_id, price="2490")
    monitor = await _monitor(db, ledger, broker, UnrecordedTags(), grace_s=0.0)

    await monitor.cycle()
    by_id = {order.id: order for order in _orders(db)}
    assert by_id[alive.id].status.value == "open"
    assert by_id[alive.id].broker_order_id == alive_id
    assert by_id[dead.id].status.value == "failed"  # a dead copy changes nothing
    assert by_id[in_flight.id].status.value == "submitting"  # the in-flight checker's
    assert len(by_id) == 3  # and none of them became an external order

    broker.exchange.set_prices({RELIANCE: Decimal("2499")})  # the late one fills
    await broker.adapter(_account_name(db, owner)).order_book()
    await monitor.cycle()
    alive_now = {order.id: order for order in _orders(db)}[alive.id]
    assert alive_now.status.value == "filled" and alive_now.filled_quantity == 3
    assert len(_orders(db)) == 3


def _alerts(db: Database) -> list[str]:
    with db.read() as session:
        return [str(row.payload["text"]) for row in session.scalars(
            select(OutboxRow).where(OutboxRow.kind == "system_alert"))]


async def test_other_live_copies_of_our_orders_are_recorded_as_duplicates(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    add_channel(db, owner.user_id)
    ledger = Ledger(db)
    adapter = broker.adapter(_account_name(db, owner))
    # an open order, and a second copy at the broker under the same tag
    placed = new_order(owner)
    await ledger.create(placed)
    await ledger.apply(placed.id, OrderEvent(EventType.ORDER_SUBMITTED))
    first_copy = await _place(adapter, placed.client_order_id)
    await ledger.apply(placed.id, OrderEvent(EventType.ORDER_ACCEPTED, EventSource.BROKER,
                                             broker_order_id=first_copy, broker_status="OPEN"))
    second_copy = await _place(adapter, placed.client_order_id, price="2495")
    # a retried order whose first attempt, given up on, turns up alive after all
    retried = await _failed(ledger, owner)
    await ledger.apply(retried.id, RETRY_LATER)
    resent = await ledger.apply(retried.id, OrderEvent(
        EventType.ORDER_SUBMITTED, client_order_id=new_client_order_id()))
    assert resent.order.client_order_id != retried.client_order_id
    earlier_copy = await _place(adapter, retried.client_order_id, price="2490")
    # a lost order whose copy was modified at the broker to more than ours, and filled
    lost = await _failed(ledger, owner)
    bigger_copy = await _place(adapter, lost.client_order_id, price="2650", quantity=15)
    monitor = await _monitor(db, ledger, broker, UnrecordedTags(), grace_s=0.0)

    await monitor.cycle()
    externals = {o.broker_order_id: o for o in _orders(db) if o.origin.value == "external"}
    assert set(externals) == {second_copy, earlier_copy, bigger_copy}
    assert externals[second_copy].extra["duplicate_of"] == placed.id
    assert externals[earlier_copy].extra["duplicate_of"] == retried.id
    assert externals[bigger_copy].extra["duplicate_of"] == lost.id
    assert externals[bigger_copy].filled_quantity == 15  # its fills count
    alerts = _alerts(db)
    assert len(alerts) == 3 and all("is a live copy of order" in text for text in alerts)
    await monitor.cycle()
    assert len([o for o in _orders(db) if o.origin.value == "external"]) == 3


async def test_an_order_waiting_for_its_retry_found_alive_is_not_sent_again(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    ledger = Ledger(db)
    adapter = broker.adapter(_account_name(db, owner))
    waiting = await _failed(ledger, owner)
    await ledger.apply(waiting.id, RETRY_LATER)
    copy = await _place(adapter, waiting.client_order_id)
    monitor = await _monitor(db, ledger, broker, UnrecordedTags(), grace_s=0.0)

    await monitor.cycle()
    (order,) = _orders(db)
    assert order.status.value == "open" and order.broker_order_id == copy
    assert order.retry_count == 0  # its retry never went out


async def test_an_orphans_fill_is_not_taken_for_trading_elsewhere_during_its_grace(
        db: Database, owner: Owner, broker: LocalPaperBroker) -> None:
    ledger = Ledger(db)
    adapter = broker.adapter(_account_name(db, owner))
    orphan = await _place(adapter, new_client_order_id(), price="2650")  # fills at once
    monitor = await _monitor(db, ledger, broker, UnrecordedTags(), grace_s=0.5,
                             holdings_every=1)
    for _ in range(3):  # holdings checked every cycle, the orphan still in its grace
        report = await monitor.cycle()
        assert not [e for a in report.accounts for e in a.position_events]
    await asyncio.sleep(0.55)
    await monitor.cycle()  # recorded now, with its fill: the holdings are explained
    for _ in range(2):
        report = await monitor.cycle()
        assert not [e for a in report.accounts for e in a.position_events]
    (recorded,) = _orders(db)
    assert recorded.broker_order_id == orphan and recorded.filled_quantity == 3
