"""Orders missing from the broker's book: hidden for a while vs really gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.seed import Owner, new_order
from tradewarden.brokers.base import BrokerAdapter, OrderRequest
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import CancelledBy, OrderType, Product, Side
from tradewarden.engine.accounts import AccountDirectory, AccountInfo
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.monitor import Monitor
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts, Users
from tradewarden.store.tables import OrderRow

RELIANCE = InstrumentKey("NSE", "RELIANCE")


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[LocalPaperBroker]:
    paper = LocalPaperBroker.open(tmp_path / "paper.db", clock="open")
    paper.exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2600")})
    yield paper
    await paper.aclose()


async def _open_order(db: Database, ledger: Ledger, broker_order_id: str) -> str:
    with db.transaction() as session:
        user = Users(session).create("m")
        account = Accounts(session).add(user, broker="paper", name="paper-m")
        owner = Owner(user.id, account.id)
    order = new_order(owner)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(EventType.ORDER_ACCEPTED,
                                            broker_order_id=broker_order_id,
                                            broker_status="OPEN"))
    return order.id


async def _monitor(db: Database, ledger: Ledger, broker: LocalPaperBroker,
                   **options: float) -> Monitor:
    def factory(info: AccountInfo) -> BrokerAdapter:
        return broker.adapter(info.name)

    directory = AccountDirectory(db, factory)
    await db.run(directory.refresh)
    monitor = Monitor(ledger, directory, **options)  # type: ignore[arg-type]
    await monitor.load()
    return monitor


def _status(db: Database, order_id: str) -> str:
    with db.read() as session:
        row = session.get(OrderRow, order_id)
        assert row is not None
        return row.status


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_an_order_that_really_vanished_expires_only_after_checks_and_grace(
    db: Database, broker: LocalPaperBroker
) -> None:
    ledger = Ledger(db)
    order_id = await _open_order(db, ledger, "999999")
    monitor = await _monitor(db, ledger, broker, missing_checks=2, missing_grace_s=0.3)
    for _ in range(3):  # several definitive "not found" answers, but inside the grace period
        await monitor.cycle()
    assert _status(db, order_id) == "open"
    await asyncio.sleep(0.35)
    await monitor.cycle()
    assert _status(db, order_id) == "expired"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_a_fresh_order_hidden_by_the_broker_is_not_declared_lost(
    db: Database, broker: LocalPaperBroker
) -> None:
    ledger = Ledger(db)
    broker_id = broker.exchange.place("paper-m", OrderRequest(
        exchange="NSE", symbol="RELIANCE", side=Side.BUY, quantity=10,
        order_type=OrderType.LIMIT, product=Product.CNC, price=Decimal("2500.05"),
        tag="TWHIDDEN00000000001"), hide_for_s=1.0)
    order_id = await _open_order(db, ledger, broker_id)
    monitor = await _monitor(db, ledger, broker, missing_checks=2, missing_grace_s=5.0)
    hidden = await monitor.cycle()
    assert hidden.accounts[0].missing == 1
    await monitor.cycle()
    await asyncio.sleep(1.1)
    visible = await monitor.cycle()
    assert visible.accounts[0].missing == 0
    assert _status(db, order_id) == "open"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_misses_before_an_order_shows_up_do_not_count_later(
    db: Database, broker: LocalPaperBroker
) -> None:
    ledger = Ledger(db)
    broker_id = broker.exchange.place("paper-m", OrderRequest(
        exchange="NSE", symbol="RELIANCE", side=Side.BUY, quantity=10,
        order_type=OrderType.LIMIT, product=Product.CNC, price=Decimal("2500.05"),
        tag="TWLAG00000000000001"), hide_for_s=0.4)
    order_id = await _open_order(db, ledger, broker_id)
    monitor = await _monitor(db, ledger, broker, missing_checks=2, missing_grace_s=0.3)
    await monitor.cycle()
    await monitor.cycle()  # two misses while hidden
    await asyncio.sleep(0.45)
    assert (await monitor.cycle()).accounts[0].missing == 0  # visible: history cleared
    assert _status(db, order_id) == "open"
    results = await asyncio.gather(monitor.cycle(), monitor.cycle())  # cycles never overlap
    assert all(r.accounts[0].error is None for r in results)


async def test_a_fill_after_our_cancel_is_applied_also_after_a_restart(
    db: Database, broker: LocalPaperBroker
) -> None:
    """BRIEF §3.1: a late fill after a cancel is applied, not ignored — by the running monitor
    and by one started afterwards (from the database)."""
    ledger = Ledger(db)

    def place(tag: str, price: str) -> str:
        return broker.exchange.place("paper-m", OrderRequest(
            exchange="NSE", symbol="RELIANCE", side=Side.BUY, quantity=10,
            order_type=OrderType.LIMIT, product=Product.CNC, price=Decimal(price), tag=tag))

    first = await _open_order(db, ledger, place("TWLATEFILL000000001", "2500.05"))
    with db.read() as session:
        row = session.get(OrderRow, first)
        assert row is not None
        owner = Owner(row.user_id, row.account_id)
    second = replace(new_order(owner), price=Decimal("2400"))
    await ledger.create(second)
    await ledger.apply(second.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await ledger.apply(second.id, OrderEvent(
        EventType.ORDER_ACCEPTED, broker_order_id=place("TWLATEFILL000000002", "2400"),
        broker_status="OPEN"))
    running = await _monitor(db, ledger, broker)
    for order_id in (first, second.id):  # we saw them cancelled (a stale answer); the broker not
        await ledger.apply(order_id, OrderEvent(EventType.ORDER_CANCELLED,
                                                cancelled_by=CancelledBy.USER))
    await running.cycle()
    broker.exchange.set_prices({RELIANCE: Decimal("2500")})  # the first one fills
    await running.cycle()
    assert (_status(db, first), _status(db, second.id)) == ("filled", "cancelled")

    restarted = await _monitor(db, ledger, broker)  # a new process: from the database
    broker.exchange.set_prices({RELIANCE: Decimal("2400")})  # the second one fills
    await restarted.cycle()
    assert _status(db, second.id) == "filled"
