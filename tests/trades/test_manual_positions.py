"""Holdings changed outside Tradewarden (no order explains them) adjust the trades they take
away from, in the transaction that records the position event, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from tests.seed import Owner, new_order, seed_owner
from tradewarden.brokers.instruments import bundled_master
from tradewarden.crypto import SecretBox, key_from_secret
from tradewarden.domain.events import EventSource, EventType, FillData, OrderEvent
from tradewarden.domain.orders import OrderType, Side
from tradewarden.domain.trades import IST, Trade
from tradewarden.engine.holdings import HoldingsReconciler
from tradewarden.engine.ledger import Ledger, utcnow
from tradewarden.engine.trades.recorder import TradeRecorder
from tradewarden.store import trades as store
from tradewarden.store.db import Database
from tradewarden.store.strategies import Strategies

RELIANCE = ("NSE", "RELIANCE")
BOX = SecretBox(key_from_secret("test key for the manual position tests"))


async def _filled_entry(db: Database, ledger: Ledger, owner: Owner, strategy_id: int,
                        side: Side, quantity: int, fill_id: str) -> str:
    order = replace(new_order(owner, quantity=quantity), strategy_id=strategy_id, side=side,
                    order_type=OrderType.MARKET, price=None)
    await ledger.create(order)
    await ledger.apply(order.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await ledger.apply(order.id, OrderEvent(
        EventType.ORDER_FILLED, EventSource.BROKER, broker_order_id=f"B-{fill_id}",
        filled_quantity=quantity, average_price=Decimal("2500"),
        fills=(FillData(fill_id, quantity, Decimal("2500"), utcnow()),)))
    return order.id


def _strategy(db: Database, owner: Owner, name: str) -> int:
    """A strategy whose filled entries open trades (a 50-point stop, no square-off)."""
    with db.transaction() as session:
        return Strategies(session, owner.user_id).create(
            name=name, account_id=owner.account_id, mode="both", position_guards=False,
            allow_amo=False, settings={"stop_loss": {"kind": "points", "value": 50},
                                       "square_off_time": None}, box=BOX).id


def _trade(db: Database, entry_order_id: str) -> Trade:
    with db.read() as session:
        trade = store.trade_for_entry(session, entry_order_id)
        assert trade is not None
        return trade


def _check(holdings: HoldingsReconciler, owner: Owner, held: int,
           broker_price: str | None = None) -> list[str]:
    """Two checks (a difference counts once it is seen twice in a row)."""
    actual = {RELIANCE: held}
    prices = {RELIANCE: Decimal(broker_price)} if broker_price else {}
    holdings._record(owner.account_id, owner.user_id, actual, set(), prices)
    return [event.kind for event in holdings._record(owner.account_id, owner.user_id, actual,
                                                     set(), prices)]


async def test_a_manual_sell_in_the_holdings_reduces_then_closes_the_long_trade(
        db: Database) -> None:
    owner = seed_owner(db)
    strategy = _strategy(db, owner, "swing")
    recorder = TradeRecorder(bundled_master())
    recorder.prices = lambda symbol: Decimal("2540") if symbol == "RELIANCE" else None
    ledger = Ledger(db)
    ledger.add_recorder(recorder)
    entry = await _filled_entry(db, ledger, owner, strategy, Side.BUY, 10, "F1")
    assert _trade(db, entry).open_quantity == 10
    holdings = HoldingsReconciler(db, cast(Any, None))
    holdings.add_recorder(recorder.on_position_events)

    assert _check(holdings, owner, held=6, broker_price="2530") == ["manual_sell"]  # 4 sold
    trade = _trade(db, entry)
    assert (trade.status.value, trade.open_quantity) == ("active", 6)
    assert trade.exited_quantity == 4 and trade.realised_pnl == Decimal("120")  # broker's 2530
    assert trade.realised_on(utcnow().astimezone(IST).date()) == Decimal("120")  # stored
    assert trade.exit_reason is not None and trade.exit_reason.value == "closed_outside"

    assert _check(holdings, owner, held=3) == ["manual_sell"]  # no broker price: our feed's
    assert _trade(db, entry).realised_pnl == Decimal("120") + Decimal("120")  # 3 at 2540
    recorder.prices = lambda _symbol: None  # no price known at all: booked at the entry price
    assert _check(holdings, owner, held=0) == ["manual_sell"]  # the rest sold elsewhere
    trade = _trade(db, entry)
    assert (trade.status.value, trade.open_quantity) == ("closed", 0)
    assert trade.realised_pnl == Decimal("240") and trade.closed_at is not None


async def test_a_manual_buy_reduces_short_trades_and_leaves_longs_alone(
        db: Database) -> None:
    owner = seed_owner(db)
    short_strategy, long_strategy = _strategy(db, owner, "short"), _strategy(db, owner, "long")
    recorder = TradeRecorder(bundled_master())
    ledger = Ledger(db)
    ledger.add_recorder(recorder)
    short = await _filled_entry(db, ledger, owner, short_strategy, Side.SELL, 5, "S1")
    long = await _filled_entry(db, ledger, owner, long_strategy, Side.BUY, 8, "L1")
    holdings = HoldingsReconciler(db, cast(Any, None))
    holdings.add_recorder(recorder.on_position_events)

    # ours: -5 + 8 = 3; the broker shows 5: 2 bought elsewhere, taken from the short
    assert _check(holdings, owner, held=5) == ["manual_buy"]
    assert _trade(db, short).open_quantity == 3
    assert _trade(db, long).open_quantity == 8


async def test_an_exit_belongs_to_the_day_it_filled_not_the_day_it_was_recorded(
        db: Database) -> None:
    owner = seed_owner(db)
    strategy = _strategy(db, owner, "late-news")
    recorder = TradeRecorder(bundled_master())
    ledger = Ledger(db)
    ledger.add_recorder(recorder)
    entry = await _filled_entry(db, ledger, owner, strategy, Side.BUY, 10, "E1")
    # a sell of the strategy that filled yesterday at 15:25 IST, recorded only now
    yesterday_close = datetime.combine(utcnow().astimezone(IST).date() - timedelta(days=1),
                                       time(15, 25), IST)
    sell = replace(new_order(owner, quantity=4), strategy_id=strategy, side=Side.SELL,
                   order_type=OrderType.MARKET, price=None)
    await ledger.create(sell)
    await ledger.apply(sell.id, OrderEvent(EventType.ORDER_SUBMITTED))
    await ledger.apply(sell.id, OrderEvent(
        EventType.ORDER_FILLED, EventSource.BROKER, broker_order_id="B-S1", filled_quantity=4,
        average_price=Decimal("2450"),
        fills=(FillData("S1", 4, Decimal("2450"), yesterday_close),)))
    trade = _trade(db, entry)
    assert trade.open_quantity == 6 and trade.realised_pnl == Decimal("-200")
    assert trade.realised_on(yesterday_close.date()) == Decimal("-200")
    assert trade.realised_on(utcnow().astimezone(IST).date()) == Decimal("0")
