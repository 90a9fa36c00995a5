"""Position guards on SQLite and PostgreSQL: the one net-quantity query serves both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.seed import new_order, seed_owner
from tradewarden.brokers.instruments import bundled_master
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import OrderType, Side
from tradewarden.engine.guards import Guards, GuardSettings
from tradewarden.engine.ledger import Ledger
from tradewarden.store.db import Database
from tradewarden.store.strategies import Strategies

BOX = SecretBox(key_from_secret("test key for the position guard tests"))


async def test_entry_blocked_while_held_and_against_another_strategy(db: Database) -> None:
    owner = seed_owner(db)
    with db.transaction() as session:
        a, b = (Strategies(session, owner.user_id).create(
            name=name, account_id=owner.account_id, mode="both", position_guards=True,
            allow_amo=False, settings={}, box=BOX).id for name in ("a", "b"))
    ledger = Ledger(db)
    held = replace(new_order(owner), strategy_id=a, order_type=OrderType.MARKET, price=None)
    await ledger.create(held)
    await ledger.apply(held.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await ledger.apply(held.id, OrderEvent(EventType.ORDER_FILLED, broker_order_id="B1"))
    with db.read() as session:
        guards = Guards(session, bundled_master(), None, GuardSettings(), datetime.now(UTC))
        again = guards.positions(replace(new_order(owner), strategy_id=a))
        opposite = guards.positions(replace(new_order(owner), strategy_id=b, side=Side.SELL))
        same_way = guards.positions(replace(new_order(owner), strategy_id=b))
    assert again is not None and "already holds" in again.reason
    assert opposite is not None and "opposite direction" in opposite.reason
    assert same_way is None
