"""Strategy-level risk checks on new entries (BRIEF §3.5, seed 003 requirement 4):
the portfolio limit already hit today, the daily loss limit, max open positions and the
allocated funds. Exits are never blocked by these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewarden.clock import IST
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import ExecutionType, Order
from tradewarden.domain.statuses import UNSETTLED_VALUES, OrderStatus
from tradewarden.domain.strategy import StrategySettings
from tradewarden.store import trades as trade_store
from tradewarden.store.tables import OrderRow, Strategy

#: Last traded price by "EXCHANGE:SYMBOL", when known.
PriceLookup = Callable[[str], Decimal | None]
#: A strategy's P&L today (realised + unrealised), when the trade engine tracks it.
PnlLookup = Callable[[int], Decimal | None]


def _no_price(_symbol: str) -> Decimal | None:
    return None


def _no_pnl(_strategy_id: int) -> Decimal | None:
    return None


class StrategyRisk:
    """Checks one entry order against its strategy's limits; returns a refusal text or None."""

    def __init__(self, session: Session, now: datetime, prices: PriceLookup = _no_price,
                 pnl: PnlLookup = _no_pnl) -> None:
        self.session = session
        self.now = now
        self.prices = prices
        self.pnl = pnl

    def check(self, order: Order, strategy: Strategy) -> str | None:
        if order.execution_type is not ExecutionType.ENTRY:
            return None
        try:
            settings = StrategySettings.model_validate(strategy.settings or {})
        except ValueError:
            return None
        day = self.now.astimezone(IST).date()
        day_row = trade_store.strategy_day(self.session, strategy.id, day)
        if day_row is not None and day_row.limit_hit:
            return (f"strategy {strategy.name} hit its {day_row.limit_hit.replace('_', ' ')} "
                    "today; new entries are blocked until tomorrow")
        for check in (self._daily_loss, self._open_positions, self._funds):
            refusal = check(order, strategy, settings)
            if refusal:
                return refusal
        return None

    def _daily_loss(self, order: Order, strategy: Strategy,
                    settings: StrategySettings) -> str | None:
        limit = settings.daily_loss_limit
        if limit is None:
            return None
        pnl = self.pnl(strategy.id)
        if pnl is None:
            day = self.now.astimezone(IST).date()
            pnl = trade_store.realised_on(self.session, day, [strategy.id]).get(
                strategy.id, ZERO)
        if pnl <= -limit:
            return (f"strategy {strategy.name} lost {-pnl:.2f} today, at or beyond its daily "
                    f"loss limit of {limit}")
        return None

    def _open_positions(self, order: Order, strategy: Strategy,
                        settings: StrategySettings) -> str | None:
        cap = settings.max_open_positions
        if cap is None:
            return None
        trades = trade_store.open_trade_count(self.session, strategy.id)
        entries = self.session.scalar(select(func.count()).select_from(OrderRow).where(
            # earlier orders only: of legs or signals arriving together, the first ones fit
            OrderRow.strategy_id == strategy.id, OrderRow.id < order.id,
            OrderRow.status != OrderStatus.DENIED.value,
            OrderRow.execution_type == ExecutionType.ENTRY.value,
            OrderRow.status.in_(UNSETTLED_VALUES), OrderRow.filled_quantity == 0)) or 0
        if trades + entries >= cap:
            return (f"strategy {strategy.name} has {trades} open trade(s) and {entries} entry "
                    f"order(s) working; its maximum is {cap} open positions")
        return None

    def _funds(self, order: Order, strategy: Strategy,
               settings: StrategySettings) -> str | None:
        allocated = settings.allocated_funds
        if allocated is None:
            return None
        price = order.price or order.trigger_price or self.prices(
            f"{order.exchange}:{order.symbol}")
        if price is None:
            return None  # no price to value the entry with; the broker's margin check decides
        needed = price * order.quantity
        in_use = trade_store.funds_in_use(self.session, strategy.id) + self._working_entries(
            order, strategy.id)
        if in_use + needed > allocated:
            return (f"funds not allocated: {needed:.2f} needed, {in_use:.2f} of strategy "
                    f"{strategy.name}'s {allocated:.2f} already in use")
        return None

    def _working_entries(self, order: Order, strategy_id: int) -> Decimal:
        """Value of the strategy's other entry orders still waiting for fills (what is
        filled already is in its trades)."""
        rows = self.session.execute(select(
            OrderRow.exchange, OrderRow.symbol, OrderRow.price, OrderRow.trigger_price,
            OrderRow.quantity - OrderRow.filled_quantity,
        ).where(OrderRow.strategy_id == strategy_id, OrderRow.id < order.id,
                OrderRow.execution_type == ExecutionType.ENTRY.value,
                OrderRow.status.in_(UNSETTLED_VALUES)))
        total = ZERO
        for exchange, symbol, price, trigger, remaining in rows:
            value = price or trigger or self.prices(f"{exchange}:{symbol}")
            if value is not None and remaining > 0:
                total += value * remaining
        return total
