"""The identical-signal guard's batch look-up on SQLite and PostgreSQL: priced and unpriced
shapes in one batch (two query branches), prices matched exactly, the window honoured."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.seed import new_order, seed_owner
from tradewarden.brokers.instruments import bundled_master
from tradewarden.domain.orders import Order, OrderType, Side
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.guards import Guards, GuardSettings
from tradewarden.engine.ledger import Ledger
from tradewarden.store.db import Database


def _verdicts(db: Database, orders: list[Order], now: datetime) -> list[ReasonCode | None]:
    with db.read() as session:
        guards = Guards(session, bundled_master(), None, GuardSettings(), now)
        guards.prefetch(orders)
        denials = [guards.duplicates(order, position_guards=False) for order in orders]
    return [denial.code if denial is not None else None for denial in denials]


async def test_identical_recent_orders_are_found_for_priced_and_market_shapes(
        db: Database) -> None:
    owner = seed_owner(db)
    ledger = Ledger(db)
    limit = replace(new_order(owner), price=Decimal("2500.05"))
    market = replace(new_order(owner), order_type=OrderType.MARKET, price=None)
    for order in (limit, market):
        await ledger.create(order)

    batch = [
        replace(new_order(owner), price=Decimal("2500.05")),  # same as `limit`
        replace(new_order(owner), order_type=OrderType.MARKET, price=None),  # same as `market`
        replace(new_order(owner), price=Decimal("2500.10")),  # another price
        replace(new_order(owner), order_type=OrderType.MARKET, price=None, side=Side.SELL),
        replace(new_order(owner), price=Decimal("2500.05"), quantity=11),  # another quantity
    ]
    now = datetime.now(UTC)
    assert _verdicts(db, batch, now) == [
        ReasonCode.DUPLICATE_BLOCKED, ReasonCode.DUPLICATE_BLOCKED, None, None, None]
    # a batch of one shape only takes the single-branch query
    assert _verdicts(db, batch[:1], now) == [ReasonCode.DUPLICATE_BLOCKED]
    assert _verdicts(db, batch[1:2], now) == [ReasonCode.DUPLICATE_BLOCKED]
    # outside the window nothing is identical any more
    assert _verdicts(db, batch, now + timedelta(seconds=30)) == [None] * 5
