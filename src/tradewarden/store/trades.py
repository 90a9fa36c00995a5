"""Reading and writing trades and strategy days. Every query by a user is scoped to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from tradewarden.domain.money import ZERO
from tradewarden.domain.strategy import Level
from tradewarden.domain.trades import ExitReason, Trade, TradeSide, TradeStatus
from tradewarden.store.tables import StrategyDay, TradeEventRow, TradeRow

TRADES: Table = TradeRow.__table__  # type: ignore[assignment]
DAYS: Table = StrategyDay.__table__  # type: ignore[assignment]
OPEN_STATUSES = (TradeStatus.ACTIVE.value, TradeStatus.EXITING.value)


def trade_from_row(row: Row[Any] | Any) -> Trade:
    trail = row.trailing_stop
    return Trade(
        id=row.id, user_id=row.user_id, account_id=row.account_id, strategy_id=row.strategy_id,
        exchange=row.exchange, symbol=row.symbol, side=TradeSide(row.side), product=row.product,
        quantity=row.quantity, entry_order_id=row.entry_order_id, entry_price=row.entry_price,
        opened_at=row.opened_at, updated_at=row.updated_at, stop_loss=row.stop_loss,
        target=row.target, trailing_stop=Level.model_validate(trail) if trail else None,
        best_price=row.best_price, trailing_level=row.trailing_level,
        status=TradeStatus(row.status),
        exit_reason=ExitReason(row.exit_reason) if row.exit_reason else None,
        exit_order_id=row.exit_order_id, exited_quantity=row.exited_quantity,
        exit_value=row.exit_value, exit_price=row.exit_price, realised_pnl=row.realised_pnl,
        closed_at=row.closed_at, version=row.version,
        booked_strategy_id=row.booked_strategy_id, booked_label=row.booked_label,
        day_base_pnl=row.day_base_pnl, day_base_date=row.day_base_date)


def trade_values(trade: Trade) -> dict[str, Any]:
    return {
        "user_id": trade.user_id, "account_id": trade.account_id,
        "strategy_id": trade.strategy_id, "exchange": trade.exchange, "symbol": trade.symbol,
        "side": trade.side.value, "product": trade.product, "quantity": trade.quantity,
        "entry_order_id": trade.entry_order_id, "entry_price": trade.entry_price,
        "stop_loss": trade.stop_loss, "target": trade.target,
        "trailing_stop": trade.trailing_stop.model_dump(mode="json")
        if trade.trailing_stop else None,
        "best_price": trade.best_price, "trailing_level": trade.trailing_level,
        "status": trade.status.value,
        "exit_reason": trade.exit_reason.value if trade.exit_reason else None,
        "exit_order_id": trade.exit_order_id, "exited_quantity": trade.exited_quantity,
        "exit_value": trade.exit_value, "exit_price": trade.exit_price,
        "realised_pnl": trade.realised_pnl, "opened_at": trade.opened_at,
        "updated_at": trade.updated_at, "closed_at": trade.closed_at, "version": trade.version,
        "booked_strategy_id": trade.booked_strategy_id, "booked_label": trade.booked_label,
        "day_base_pnl": trade.day_base_pnl, "day_base_date": trade.day_base_date,
    }


def insert_trade(session: Session, trade: Trade) -> int:
    """Insert ``trade`` and return its new id (also set on the object)."""
    trade.id = session.execute(
        insert(TRADES).returning(TRADES.c.id), trade_values(trade)).scalar_one()
    return trade.id


def save_trade(session: Session, trade: Trade) -> None:
    """Write every column of ``trade`` and bump its version."""
    trade.version += 1
    session.execute(update(TRADES).where(TRADES.c.id == trade.id).values(trade_values(trade)))


def save_trail_states(session: Session, states: Sequence[dict[str, Any]]) -> None:
    """Batched best-price / trailing-level writes: ``[{"trade_id", "best", "level"}]``."""
    if not states:
        return
    session.execute(
        update(TRADES).where(TRADES.c.id == bindparam("trade_id"),
                             TRADES.c.status != TradeStatus.CLOSED.value)
        .values(best_price=bindparam("best"), trailing_level=bindparam("level")),
        list(states))


def trade_by_id(session: Session, trade_id: int, user_id: int | None = None, *,
                for_update: bool = False) -> Trade | None:
    """One trade; ``for_update`` locks its row until the transaction ends (PostgreSQL), so
    concurrent writers of the same trade take turns instead of overwriting each other."""
    query = select(TRADES).where(TRADES.c.id == trade_id)
    if user_id is not None:
        query = query.where(TRADES.c.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    row = session.execute(query).first()
    return trade_from_row(row) if row else None


def trades_touched_by(session: Session, trade_ids: Sequence[int],
                      entry_order_id: str | None) -> list[Trade]:
    """Current rows of ``trade_ids`` plus the trade of ``entry_order_id`` (one query)."""
    conditions: list[ColumnElement[bool]] = []
    if trade_ids:
        conditions.append(TRADES.c.id.in_(list(trade_ids)))
    if entry_order_id is not None:
        conditions.append(TRADES.c.entry_order_id == entry_order_id)
    if not conditions:
        return []
    return [trade_from_row(row) for row in session.execute(select(TRADES).where(or_(*conditions)))]


def trade_for_entry(session: Session, order_id: str, *,
                    for_update: bool = False) -> Trade | None:
    query = select(TRADES).where(TRADES.c.entry_order_id == order_id)
    row = session.execute(query.with_for_update() if for_update else query).first()
    return trade_from_row(row) if row else None


def open_trades(session: Session, user_id: int | None = None,
                strategy_id: int | None = None) -> list[Trade]:
    """Active and exiting trades, oldest first."""
    query = select(TRADES).where(TRADES.c.status.in_(OPEN_STATUSES)).order_by(TRADES.c.id)
    if user_id is not None:
        query = query.where(TRADES.c.user_id == user_id)
    if strategy_id is not None:
        query = query.where(TRADES.c.strategy_id == strategy_id)
    return [trade_from_row(row) for row in session.execute(query)]


def any_open_trade(session: Session, account_id: int, exchange: str, symbol: str) -> bool:
    """Whether any trade is open in this instrument of the account (either side)."""
    return session.execute(select(TRADES.c.id).where(
        TRADES.c.status.in_(OPEN_STATUSES), TRADES.c.account_id == account_id,
        TRADES.c.exchange == exchange, TRADES.c.symbol == symbol).limit(1)).first() is not None


def open_trades_against(session: Session, account_id: int, exchange: str, symbol: str,
                        side: TradeSide,
                        booked: tuple[int | None, str | None] | None) -> list[Trade]:
    """Open trades of one side in one instrument of an account, oldest first, locked;
    ``booked`` limits them to one strategy (or, without one, one OpenAlgo label)."""
    query = select(TRADES).where(
        TRADES.c.account_id == account_id, TRADES.c.exchange == exchange,
        TRADES.c.symbol == symbol, TRADES.c.side == side.value,
        TRADES.c.status.in_(OPEN_STATUSES))
    if booked is not None:
        strategy_id, label = booked
        if strategy_id is not None:
            query = query.where(TRADES.c.booked_strategy_id == strategy_id)
        elif label is not None:
            query = query.where(TRADES.c.booked_strategy_id.is_(None),
                                TRADES.c.booked_label == label)
        else:
            return []
    rows = session.execute(query.order_by(TRADES.c.id).with_for_update())
    return [trade_from_row(row) for row in rows]


def closed_trades(session: Session, user_id: int, *, strategy_id: int | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: int = 500) -> list[Trade]:
    """Closed trades, newest first."""
    query = select(TRADES).where(TRADES.c.user_id == user_id,
                                 TRADES.c.status == TradeStatus.CLOSED.value)
    if strategy_id is not None:
        query = query.where(TRADES.c.strategy_id == strategy_id)
    if since is not None:
        query = query.where(TRADES.c.closed_at >= since)
    if until is not None:
        query = query.where(TRADES.c.closed_at < until)
    query = query.order_by(TRADES.c.closed_at.desc(), TRADES.c.id.desc()).limit(limit)
    return [trade_from_row(row) for row in session.execute(query)]


def closed_realised_on(session: Session, day: date, since: datetime,
                       strategy_ids: Sequence[int] | None = None,
                       ) -> dict[int, dict[int, Decimal]]:
    """What each trade closed since ``since`` (the start of trading day ``day``) realised on
    that day, per strategy (strategy id → trade id → P&L)."""
    query = select(TRADES).where(
        TRADES.c.strategy_id.is_not(None), TRADES.c.status == TradeStatus.CLOSED.value,
        TRADES.c.closed_at >= since)
    if strategy_ids is not None:
        query = query.where(TRADES.c.strategy_id.in_(list(strategy_ids)))
    found: dict[int, dict[int, Decimal]] = {}
    for row in session.execute(query):
        trade = trade_from_row(row)
        assert trade.strategy_id is not None
        found.setdefault(trade.strategy_id, {})[trade.id] = trade.realised_on(day)
    return found


def realised_on(session: Session, day: date, strategy_ids: Sequence[int] | None = None, *,
                user_id: int | None = None) -> dict[int | None, Decimal]:
    """Per strategy (None: trades of no strategy), what trades — open or closed — realised by
    exits of trading day ``day`` (``Trade.realised_on``, summed exactly in Python: SQLite would
    sum NUMERIC text as floats); of some strategies, or of one user."""
    query = select(TRADES.c.strategy_id, TRADES.c.realised_pnl, TRADES.c.day_base_pnl).where(
        TRADES.c.day_base_date == day)
    if strategy_ids is not None:
        query = query.where(TRADES.c.strategy_id.in_(list(strategy_ids)))
    if user_id is not None:
        query = query.where(TRADES.c.user_id == user_id)
    totals: dict[int | None, Decimal] = {}
    for strategy_id, pnl, base in session.execute(query):
        totals[strategy_id] = totals.get(strategy_id, ZERO) + (pnl or ZERO) - (base or ZERO)
    return totals


def funds_in_use(session: Session, strategy_id: int) -> Decimal:
    """Entry value of the strategy's open trades (exact Decimal arithmetic)."""
    rows = session.execute(
        select(TRADES.c.entry_price, TRADES.c.quantity - TRADES.c.exited_quantity)
        .where(TRADES.c.strategy_id == strategy_id, TRADES.c.status.in_(OPEN_STATUSES)))
    return sum((price * max(open_quantity, 0) for price, open_quantity in rows), ZERO)


def open_trade_count(session: Session, strategy_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(TRADES).where(
        TRADES.c.strategy_id == strategy_id, TRADES.c.status.in_(OPEN_STATUSES))) or 0)


# --- strategy days ---------------------------------------------------------------------------

def strategy_day(session: Session, strategy_id: int, day: date) -> StrategyDay | None:
    return session.scalars(select(StrategyDay).where(
        StrategyDay.strategy_id == strategy_id, StrategyDay.trading_day == day)).first()


def record_portfolio_state(session: Session, strategy_id: int, day: date, peak: Decimal,
                           hit: ExitReason | None = None, at: datetime | None = None) -> None:
    """Keep the day's peak P&L (never lowered) and the first limit hit."""
    row = strategy_day(session, strategy_id, day)
    if row is None:
        session.add(StrategyDay(strategy_id=strategy_id, trading_day=day, peak_pnl=peak,
                                limit_hit=hit.value if hit else None, hit_at=at if hit else None))
        return
    row.peak_pnl = max(row.peak_pnl, peak)
    if hit is not None and row.limit_hit is None:
        row.limit_hit, row.hit_at = hit.value, at


def hit_strategies(session: Session, day: date) -> dict[int, str]:
    """Strategies whose portfolio limit was hit on ``day`` (their entries are blocked)."""
    rows = session.execute(select(DAYS.c.strategy_id, DAYS.c.limit_hit).where(
        DAYS.c.trading_day == day, DAYS.c.limit_hit.is_not(None)))
    return {strategy_id: hit for strategy_id, hit in rows}


def peaks(session: Session, day: date) -> dict[int, Decimal]:
    rows = session.execute(select(DAYS.c.strategy_id, DAYS.c.peak_pnl).where(
        DAYS.c.trading_day == day))
    return {strategy_id: peak for strategy_id, peak in rows}


def record_trade_event(session: Session, trade_id: int, kind: str, source: str,
                       payload: dict[str, Any], at: datetime) -> None:
    """Add one entry to a trade's history (in the caller's transaction)."""
    session.add(TradeEventRow(trade_id=trade_id, kind=kind, source=source, payload=payload,
                              created_at=at))


def trade_events(session: Session, trade_id: int) -> list[TradeEventRow]:
    """A trade's history, oldest first."""
    return list(session.scalars(select(TradeEventRow).where(TradeEventRow.trade_id == trade_id)
                                .order_by(TradeEventRow.id)))
