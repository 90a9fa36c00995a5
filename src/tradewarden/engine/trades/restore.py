"""Startup for trades (crash-only): restore open trades and portfolio state from the database,
check them against the broker's positions, and resume watching them.

A trade whose position is gone at the broker (flat, or now the other way round) was closed
outside Tradewarden while we were away: it is closed with reason ``closed_outside``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.brokers.errors import BrokerError
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import ExitReason, Trade, TradeStatus
from tradewarden.engine.holdings import broker_quantities, expected_quantities
from tradewarden.engine.trades import notices
from tradewarden.store import trades as store
from tradewarden.store.db import Database
from tradewarden.store.order_mapping import load_orders
from tradewarden.store.tables import Strategy

if TYPE_CHECKING:
    from tradewarden.engine.trades.manager import TradeManager

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Snapshot:
    trades: list[Trade]
    strategies: dict[int, StrategySettings]
    closed: dict[int, dict[int, Decimal]]  # strategy → trade closed today → P&L
    peaks: dict[int, Decimal]
    hits: dict[int, str]
    dead_exits: set[int]  # exiting trades whose exit order is over


def open_trades_snapshot(session: Session) -> tuple[list[Trade], set[int]]:
    """Open trades, and the exiting ones whose exit order is over (it will not get them out)."""
    trades, dead, _ = exit_orders_snapshot(session)
    return trades, dead


def exit_orders_snapshot(session: Session) -> tuple[list[Trade], set[int], dict[int, Order]]:
    """Open trades; those whose exit order is over; and the live exit orders by trade."""
    trades = store.open_trades(session)
    dead: set[int] = set()
    live: dict[int, Order] = {}
    exiting = [t for t in trades if t.status is TradeStatus.EXITING and t.exit_order_id]
    orders = load_orders(session, [t.exit_order_id for t in exiting if t.exit_order_id])
    for trade in exiting:
        order = orders.get(trade.exit_order_id or "")
        if order is None or order.status.is_final or order.status is OrderStatus.FAILED:
            dead.add(trade.id)
        else:
            live[trade.id] = order
    return trades, dead, live


def _load(session: Session, since: datetime, day: date) -> _Snapshot:
    trades, dead = open_trades_snapshot(session)
    strategies = {}
    for row in session.scalars(select(Strategy).where(Strategy.deleted_at.is_(None))):
        try:
            strategies[row.id] = StrategySettings.model_validate(row.settings or {})
        except ValueError:
            log.warning("strategy %s has invalid settings; portfolio limits off", row.id)
    return _Snapshot(trades, strategies, store.closed_realised_on(session, day, since),
                     store.peaks(session, day), store.hit_strategies(session, day), dead)


async def restore(manager: TradeManager) -> None:
    from tradewarden.engine.trades.books import ist_midnight

    db = manager.ledger.db
    day = manager.day
    snapshot: _Snapshot = await db.run(manager.read_with, _load, ist_midnight(day), day)
    for strategy_id, settings in snapshot.strategies.items():
        hit = snapshot.hits.get(strategy_id)
        manager.configure_strategy(strategy_id, settings,
                                   closed=snapshot.closed.get(strategy_id, {}),
                                   peak=snapshot.peaks.get(strategy_id, ZERO),
                                   hit=ExitReason(hit) if hit else None)
    gone = await _closed_outside(manager, snapshot.trades)
    if gone:
        await db.run(_close_outside, db, gone, manager.now())
    closed = {t.id for t in gone}
    for trade in snapshot.trades:
        if trade.id not in closed:
            manager.refresh(trade, exit_order_dead=trade.id in snapshot.dead_exits,
                            portfolio=False)
    manager.portfolios.day = day
    manager.rebuild_portfolios()
    log.info("trades: %d open trade(s) restored, %d closed outside",
             len(snapshot.trades) - len(closed), len(closed))


async def _closed_outside(manager: TradeManager, trades: list[Trade]) -> list[Trade]:
    """Open trades whose position is no longer at the broker: where the broker holds less
    than our recorded fills explain, by at least the trades' quantity (other strategies'
    positions and holdings in the same symbol do not hide or fake a difference)."""
    by_account: dict[int, list[Trade]] = defaultdict(list)
    for trade in trades:
        if trade.open_quantity > 0:
            by_account[trade.account_id].append(trade)
    gone: list[Trade] = []
    db = manager.ledger.db
    for account_id, owned in by_account.items():
        try:
            adapter = manager.accounts.adapter(account_id)
            actual = broker_quantities(await adapter.holdings(), await adapter.positions())
        except (BrokerError, KeyError) as exc:
            log.warning("account %s: positions not read (%s); trades not checked", account_id,
                        exc)
            continue
        expected = await db.run(manager.read_with, expected_quantities, account_id)
        ours: dict[tuple[str, str], int] = defaultdict(int)
        for trade in owned:
            ours[(trade.exchange, trade.symbol)] += trade.open_quantity * trade.side.sign
        for key, held_by_trades in ours.items():
            missing = actual.get(key, 0) - expected.get(key, 0)  # < 0: sold elsewhere
            if missing and (missing > 0) != (held_by_trades > 0) and (
                    abs(missing) >= abs(held_by_trades)):
                gone.extend(t for t in owned if (t.exchange, t.symbol) == key)
            elif missing:
                log.warning("account %s %s: broker differs from our fills by %+d; trades "
                            "(%+d) left open", account_id, key, missing, held_by_trades)
    return gone


def _close_outside(db: Database, trades: list[Trade], now: datetime) -> None:
    with db.transaction() as session:
        for trade in trades:
            current = store.trade_by_id(session, trade.id, for_update=True)
            if current is None or current.status is TradeStatus.CLOSED:
                continue
            current.status = TradeStatus.CLOSED
            current.exit_reason = ExitReason.CLOSED_OUTSIDE
            current.closed_at = current.updated_at = now
            store.save_trade(session, current)
            notices.trade_exited(session, current)
