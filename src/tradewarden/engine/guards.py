"""Guards: the checks a recorded order must pass before it is sent (BRIEF §3.3).

Order of checks: validation → risk → duplicates → position guards → market state. The first
denial wins. Checks run inside the caller's transaction so they see a consistent snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from tradewarden.brokers.base import MarketSession, SessionName
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import ExecutionType, Order, OrderType, Side, Variety
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.store.tables import BrokerAccount, OrderRow, Strategy

_WORKING = (*(s.value for s in OrderStatus if s.is_working), OrderStatus.CREATED.value)


@dataclass(frozen=True, slots=True)
class Denial:
    code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The guards' decision: a denial, or allowed (possibly converted to an AMO order)."""

    denial: Denial | None = None
    as_amo: bool = False

    @property
    def allowed(self) -> bool:
        return self.denial is None


@dataclass(frozen=True, slots=True)
class GuardSettings:
    dedupe_window: timedelta = timedelta(seconds=5)


class Guards:
    """Evaluates one recorded order against every guard."""

    def __init__(self, session: Session, master: InstrumentMaster, market: MarketSession | None,
                 settings: GuardSettings, now: datetime) -> None:
        self.session = session
        self.master = master
        self.market = market
        self.settings = settings
        self.now = now

    def check(self, order: Order, *, position_guards: bool, allow_amo: bool,
              siblings: frozenset[str] = frozenset()) -> Verdict:
        """Every guard in order; ``siblings`` are legs of the same signal (never duplicates)."""
        for denial in (
            self.validation(order),
            self.risk(order),
            self.duplicates(order, position_guards=position_guards, siblings=siblings),
            self.positions(order) if position_guards else None,
        ):
            if denial is not None:
                return Verdict(denial)
        return self.market_state(order, allow_amo=allow_amo)

    # --- validation ---------------------------------------------------------------------

    def validation(self, order: Order) -> Denial | None:
        instrument = self.master.resolve(InstrumentKey(order.exchange, order.symbol))
        if instrument is None:
            return _deny(ReasonCode.VALIDATION_FAILED,
                         f"unknown instrument {order.exchange}:{order.symbol}")
        if problem := instrument.quantity_problem(order.quantity):
            return _deny(ReasonCode.VALIDATION_FAILED, problem)
        needs_price = order.order_type in (OrderType.LIMIT, OrderType.SL)
        needs_trigger = order.order_type in (OrderType.SL, OrderType.SL_M)
        if needs_price and order.price is None:
            return _deny(ReasonCode.VALIDATION_FAILED, f"{order.order_type} orders need a price")
        if not needs_price and order.price is not None:
            return _deny(ReasonCode.VALIDATION_FAILED,
                         f"{order.order_type} orders take no price")
        if needs_trigger and order.trigger_price is None:
            return _deny(ReasonCode.VALIDATION_FAILED,
                         f"{order.order_type} orders need a trigger price")
        if not needs_trigger and order.trigger_price is not None:
            return _deny(ReasonCode.VALIDATION_FAILED,
                         f"{order.order_type} orders take no trigger price")
        for label, value in (("price", order.price), ("trigger price", order.trigger_price)):
            if value is not None and (problem := instrument.price_problem(value)):
                return _deny(ReasonCode.VALIDATION_FAILED, problem.replace("price", label, 1))
        if order.order_type is OrderType.SL and order.price and order.trigger_price:
            if order.side is Side.BUY and order.trigger_price > order.price:
                return _deny(ReasonCode.VALIDATION_FAILED,
                             "a stop-loss buy needs trigger price <= limit price")
            if order.side is Side.SELL and order.trigger_price < order.price:
                return _deny(ReasonCode.VALIDATION_FAILED,
                             "a stop-loss sell needs trigger price >= limit price")
        return None

    # --- risk ---------------------------------------------------------------------------

    def risk(self, order: Order) -> Denial | None:
        if order.execution_type is ExecutionType.EXIT:
            return None  # exits are always allowed to reduce risk
        account = self.session.get(BrokerAccount, order.account_id)
        if account is None or not account.is_active:
            return _deny(ReasonCode.RISK_BLOCKED, "the broker account is not active")
        if account.kill_switch:
            return _deny(ReasonCode.RISK_BLOCKED,
                         "the account's kill switch is on: new entries are blocked")
        strategy = self._strategy(order)
        if strategy is not None:
            if strategy.is_paused:
                return _deny(ReasonCode.RISK_BLOCKED, f"strategy {strategy.name} is paused")
            if strategy.mode == "long" and order.side is Side.SELL:
                return _deny(ReasonCode.GUARD_BLOCKED,
                             f"strategy {strategy.name} takes long entries only")
            if strategy.mode == "short" and order.side is Side.BUY:
                return _deny(ReasonCode.GUARD_BLOCKED,
                             f"strategy {strategy.name} takes short entries only")
        return None

    # --- duplicates ---------------------------------------------------------------------

    def duplicates(self, order: Order, *, position_guards: bool,
                   siblings: frozenset[str] = frozenset()) -> Denial | None:
        if order.extra.get("duplicate_idempotency_key"):
            return _deny(ReasonCode.DUPLICATE_BLOCKED,
                         "an order with this idempotency key already exists")
        since = self.now - self.settings.dedupe_window
        identical = select(OrderRow.id).where(
            OrderRow.user_id == order.user_id,
            OrderRow.id < order.id,  # only earlier orders: of two identical, the first wins
            OrderRow.created_at >= since,
            OrderRow.status != OrderStatus.DENIED.value,
            *self._same_owner(order),
            OrderRow.exchange == order.exchange,
            OrderRow.symbol == order.symbol,
            OrderRow.side == order.side.value,
            OrderRow.quantity == order.quantity,
            OrderRow.order_type == order.order_type.value,
            _equal_or_both_null(OrderRow.price, order.price),
        ).limit(1)
        if siblings:
            identical = identical.where(OrderRow.id.not_in(siblings))
        if self.session.scalar(identical) is not None:
            window = self.settings.dedupe_window.total_seconds()
            return _deny(ReasonCode.DUPLICATE_BLOCKED,
                         f"identical signal within the last {window:g} s")
        if position_guards and order.strategy_id is not None:
            working = select(OrderRow.id).where(
                OrderRow.user_id == order.user_id,
                OrderRow.id != order.id,
                OrderRow.id.not_in(siblings) if siblings else OrderRow.id.is_not(None),
                OrderRow.strategy_id == order.strategy_id,
                OrderRow.exchange == order.exchange,
                OrderRow.symbol == order.symbol,
                OrderRow.side == order.side.value,
                OrderRow.status.in_(_WORKING),
            ).limit(1)
            if self.session.scalar(working) is not None:
                return _deny(ReasonCode.DUPLICATE_BLOCKED,
                             "the strategy already has an open order for this symbol and side")
        return None

    # --- position guards ----------------------------------------------------------------

    def positions(self, order: Order) -> Denial | None:
        if order.execution_type is not ExecutionType.ENTRY or order.strategy_id is None:
            return None
        own = self.net_position(order, strategy_id=order.strategy_id)
        if own != 0:
            return _deny(ReasonCode.GUARD_BLOCKED,
                         f"the strategy already holds {order.symbol} ({own:+d})")
        others = self.session.execute(
            self._net_query(order)
            .where(OrderRow.strategy_id.is_not(None), OrderRow.strategy_id != order.strategy_id)
            .group_by(OrderRow.strategy_id)
        ).all()
        wanted = 1 if order.side is Side.BUY else -1
        for strategy_id, net in others:
            if net and (net > 0) != (wanted > 0):
                return _deny(ReasonCode.GUARD_BLOCKED,
                             f"strategy {strategy_id} holds the opposite direction in "
                             f"{order.symbol} ({int(net):+d})")
        return None

    def net_position(self, order: Order, *, strategy_id: int) -> int:
        """Net filled quantity (buys positive) of a strategy in the order's symbol."""
        total = self.session.execute(
            self._net_query(order).where(OrderRow.strategy_id == strategy_id)
        ).first()
        return int(total[1] or 0) if total else 0

    def _net_query(self, order: Order):  # type: ignore[no-untyped-def]
        signed = case((OrderRow.side == Side.BUY.value, OrderRow.filled_quantity),
                      else_=-OrderRow.filled_quantity)
        return select(OrderRow.strategy_id, func.sum(signed)).where(
            OrderRow.user_id == order.user_id,
            OrderRow.exchange == order.exchange,
            OrderRow.symbol == order.symbol,
            OrderRow.filled_quantity > 0,
        )

    # --- market state -------------------------------------------------------------------

    def market_state(self, order: Order, *, allow_amo: bool) -> Verdict:
        if self.market is None or self.market.session is SessionName.OPEN:
            if order.variety is Variety.AMO and self.market is not None:
                return Verdict(_deny(ReasonCode.VALIDATION_FAILED,
                                     "AMO orders are only accepted while the market is closed"))
            return Verdict()
        if order.variety is Variety.AMO or allow_amo:
            return Verdict(as_amo=order.variety is not Variety.AMO)
        return Verdict(_deny(ReasonCode.MARKET_CLOSED,
                             f"the market is {self.market.session.value.replace('_', '-')}; "
                             "the order does not allow AMO"))

    # --- helpers ------------------------------------------------------------------------

    def _strategy(self, order: Order) -> Strategy | None:
        if order.strategy_id is None:
            return None
        return self.session.get(Strategy, order.strategy_id)

    @staticmethod
    def _same_owner(order: Order) -> tuple[ColumnElement[bool], ...]:
        if order.strategy_id is not None:
            return (OrderRow.strategy_id == order.strategy_id,)
        if order.strategy_label is not None:
            return (OrderRow.strategy_id.is_(None), OrderRow.strategy_label == order.strategy_label)
        return (OrderRow.strategy_id.is_(None), OrderRow.strategy_label.is_(None))


def _deny(code: ReasonCode, reason: str) -> Denial:
    return Denial(code, reason)


def _equal_or_both_null(column, value: Decimal | None):  # type: ignore[no-untyped-def]
    return column.is_(None) if value is None else column == value
