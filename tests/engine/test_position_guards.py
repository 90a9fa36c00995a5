"""Position guards on SQLite and PostgreSQL: the one net-quantity query serves both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tests.seed import new_order, seed_owner
from tradewarden.brokers.instruments import bundled_master
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import ExecutionType, OrderType, Side
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.guards import Guards, GuardSettings
from tradewarden.engine.ledger import Ledger
from tradewarden.store.db import Database
from tradewarden.store.repositories import Accounts
from tradewarden.store.strategies import Strategies
from tradewarden.store.tables import User

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


def test_orders_for_an_account_this_build_cannot_serve_are_denied_entries_and_exits(
        sqlite_db: Database) -> None:
    """A Kite account is recorded before its adapter is switched on: its orders are denied at
    once with the reason, instead of waiting for a placement that can only time out."""
    owner = seed_owner(sqlite_db)
    with sqlite_db.transaction() as session:
        user = session.get(User, owner.user_id)
        assert user is not None
        kite = Accounts(session).add(user, broker="kite", name="kite-1", box=BOX, options={
            "api_key": "kiteapikey123", "api_secret": "kitesecret456"}).id
    with sqlite_db.read() as session:
        guards = Guards(session, bundled_master(), None, GuardSettings(), datetime.now(UTC))
        entry = guards.risk(replace(new_order(owner), account_id=kite))
        exit_ = guards.risk(replace(new_order(owner), account_id=kite,
                                    execution_type=ExecutionType.EXIT))
        paper = guards.risk(new_order(owner))
    for denial in (entry, exit_):
        assert denial is not None and denial.code is ReasonCode.RISK_BLOCKED
        assert "cannot trade: no adapter for broker kite yet" in denial.reason
    assert paper is None
