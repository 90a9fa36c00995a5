"""Guards: the checks a recorded order must pass before it is sent (BRIEF §3.3).

Order of checks: validation → risk → duplicates → position guards → market state. The first
denial wins. Checks run inside the caller's transaction so they see a consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    Table,
    bindparam,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from tradewarden.brokers import registry
from tradewarden.brokers.base import MarketSession, SessionName
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import ExecutionType, Order, OrderType, Origin, Side, Variety
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.sizing import SIZING_DENIAL
from tradewarden.domain.statuses import UNSETTLED_VALUES, OrderStatus
from tradewarden.engine.strategy_risk import PnlLookup, PriceLookup, StrategyRisk
from tradewarden.store.order_queries import net_quantities
from tradewarden.store.tables import BrokerAccount, OrderRow, Strategy

# Core tables: the hot per-batch statements skip the ORM's statement machinery.
_ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = BrokerAccount.__table__  # type: ignore[assignment]


def _recent_query(same_shape: ColumnElement[bool]) -> Select[Any]:
    """Recent orders that could be identical to a batch's (see ``Guards.prefetch``), with the
    batch's values as expanding parameters: built once, not once per batch."""
    o = _ORDERS.c
    return select(
        o.id, o.user_id, o.strategy_id, o.strategy_label, o.exchange, o.symbol, o.side,
        o.quantity, o.order_type, o.price,
    ).where(
        o.created_at >= bindparam("since"),
        o.status != OrderStatus.DENIED.value,
        o.user_id.in_(bindparam("users", expanding=True)),
        o.symbol.in_(bindparam("symbols", expanding=True)),
        same_shape,
    )


# The batch's users' recent orders on its symbols at its own prices (``price IN …``, and
# ``price IS NULL`` for orders without one): ix_orders_user_symbol_price_created seeks exactly
# those, instead of every order of the symbol in the window (thousands at a busy symbol). The
# rest of the shape (strategy, side, quantity, type) is matched in Python (``_signature``).
_PRICED = _ORDERS.c.price.in_(bindparam("prices", expanding=True))
_UNPRICED = _ORDERS.c.price.is_(None)
#: By (any priced shapes, any unpriced shapes).
_RECENT: dict[tuple[bool, bool], Executable] = {
    (True, False): _recent_query(_PRICED),
    (False, True): _recent_query(_UNPRICED),
    # two branches, not one OR: SQLite seeks the index for each branch but not for an OR
    (True, True): union_all(_recent_query(_PRICED), _recent_query(_UNPRICED)),
}
_ACCOUNT = select(_ACCOUNTS.c.is_active, _ACCOUNTS.c.kill_switch, _ACCOUNTS.c.broker,
                  _ACCOUNTS.c.state, _ACCOUNTS.c.state_reason).where(
    _ACCOUNTS.c.id == bindparam("account_id"))


class _AccountState(Protocol):
    is_active: bool
    kill_switch: bool
    broker: str
    state: str
    state_reason: str | None


#: The identical-signal denial (docs/api-openalgo.md quotes it for the default 5 s window).
DUPLICATE_TEXT = ("Blocked as a duplicate: an identical order (same strategy, symbol, side, "
                  "quantity, type and price) was received within the last {window:g} s.")


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
    #: Live prices and strategy P&L from the trade engine (for funds and daily loss checks).
    prices: PriceLookup = field(default=lambda _symbol: None)
    strategy_pnl: PnlLookup = field(default=lambda _strategy_id: None)


def order_problem(order: Order, master: InstrumentMaster) -> Denial | None:
    """What makes ``order``'s instrument, quantity, prices or trigger invalid (the validation
    guard; also checked before a modification is sent), or None."""
    instrument = master.resolve(InstrumentKey(order.exchange, order.symbol))
    if instrument is None:
        return _deny(ReasonCode.VALIDATION_FAILED,
                     f"unknown instrument {order.exchange}:{order.symbol}")
    if problem := (instrument.product_problem(order.product)
                   or instrument.quantity_problem(order.quantity)):
        return _deny(ReasonCode.VALIDATION_FAILED, problem)
    needs_price = order.order_type in (OrderType.LIMIT, OrderType.SL)
    needs_trigger = order.order_type in (OrderType.SL, OrderType.SL_M)
    if needs_price and order.price is None:
        return _deny(ReasonCode.VALIDATION_FAILED, f"{order.order_type} orders need a price")
    if not needs_price and order.price is not None:
        return _deny(ReasonCode.VALIDATION_FAILED, f"{order.order_type} orders take no price")
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


class Guards:
    """Evaluates one recorded order against every guard."""

    def __init__(self, session: Session, master: InstrumentMaster, market: MarketSession | None,
                 settings: GuardSettings, now: datetime) -> None:
        self.session = session
        self.master = master
        self.market = market
        self.settings = settings
        self.now = now
        self._recent: dict[tuple[object, ...], list[str]] | None = None
        self._denied_here: set[str] = set()
        # rows read once per batch (a batch is one transaction, so they cannot go stale in it)
        self._accounts: dict[int, _AccountState | None] = {}
        self._strategies: dict[int, Strategy | None] = {}

    def prefetch(self, orders: list[Order]) -> None:
        """Load the recent orders that could be identical to ``orders`` in one query, so a
        batch is checked for duplicates without a query per order."""
        prices = list({o.price for o in orders if o.price is not None})
        unpriced = any(o.price is None for o in orders)
        params: dict[str, object] = {
            "since": self.now - self.settings.dedupe_window,
            "users": list({o.user_id for o in orders}),
            "symbols": list({o.symbol for o in orders}), "prices": prices}
        rows = self.session.execute(_RECENT[bool(prices), unpriced], params).all()
        recent: dict[tuple[object, ...], list[str]] = {}
        for oid, user, strategy, label, exchange, symbol, side, qty, kind, price in rows:
            key = (user, strategy, None if strategy is not None else label, exchange, symbol,
                   side, qty, kind, price)
            recent.setdefault(key, []).append(oid)
        self._recent = recent

    @staticmethod
    def _signature(order: Order) -> tuple[object, ...]:
        return (order.user_id, order.strategy_id,
                None if order.strategy_id is not None else order.strategy_label,
                order.exchange, order.symbol, order.side.value, order.quantity,
                order.order_type.value, order.price)

    def check(self, order: Order, *, position_guards: bool, allow_amo: bool,
              siblings: frozenset[str] = frozenset()) -> Verdict:
        """Every guard in order; ``siblings`` are legs of the same signal (never duplicates)."""
        checks: tuple[Callable[[], Denial | None], ...] = (
            lambda: self.validation(order),
            lambda: self.risk(order),
            lambda: self.duplicates(order, position_guards=position_guards, siblings=siblings),
            lambda: self.positions(order) if position_guards else None,
        )
        for check in checks:
            denial = check()
            if denial is not None:
                self._denied_here.add(order.id)
                return Verdict(denial)
        verdict = self.market_state(order, allow_amo=allow_amo)
        if verdict.denial is not None:
            self._denied_here.add(order.id)
        return verdict

    # --- validation ---------------------------------------------------------------------

    def validation(self, order: Order) -> Denial | None:
        sizing = order.extra.get(SIZING_DENIAL)
        if isinstance(sizing, str):
            return _deny(ReasonCode.RISK_BLOCKED, sizing)
        return order_problem(order, self.master)

    # --- risk ---------------------------------------------------------------------------

    def risk(self, order: Order) -> Denial | None:
        account = self._account(order.account_id)
        if account is not None and not registry.served(account.broker, account.state):
            # nothing can be placed there, an exit neither: say so now, not after a timeout
            _, why = registry.effective_state(account.broker, account.state, account.state_reason)
            return _deny(ReasonCode.RISK_BLOCKED, f"the broker account cannot trade: {why}")
        if order.execution_type is ExecutionType.EXIT:
            return None  # exits are always allowed to reduce risk
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
            limits = StrategyRisk(self.session, self.now, self.settings.prices,
                                  self.settings.strategy_pnl)
            if refusal := limits.check(order, strategy):
                return _deny(ReasonCode.RISK_BLOCKED, refusal)
        return None

    # --- duplicates ---------------------------------------------------------------------

    def duplicates(self, order: Order, *, position_guards: bool,
                   siblings: frozenset[str] = frozenset()) -> Denial | None:
        if order.extra.get("duplicate_idempotency_key"):
            return _deny(ReasonCode.DUPLICATE_BLOCKED,
                         "an order with this idempotency key already exists")
        if order.origin is Origin.TRADE_EXIT:
            pass  # an exit (or its retry) decided by the trade engine is not a new signal
        elif self._recent is not None:
            earlier = [other for other in self._recent.get(self._signature(order), ())
                       if other < order.id and other not in siblings
                       and other not in self._denied_here]
            if earlier:
                return self._duplicate()
        elif self._identical_exists(order, siblings):
            return self._duplicate()
        if position_guards and order.strategy_id is not None:
            working = select(OrderRow.id).where(
                OrderRow.user_id == order.user_id,
                OrderRow.id != order.id,
                OrderRow.id.not_in(siblings) if siblings else OrderRow.id.is_not(None),
                OrderRow.strategy_id == order.strategy_id,
                OrderRow.exchange == order.exchange,
                OrderRow.symbol == order.symbol,
                OrderRow.side == order.side.value,
                OrderRow.status.in_(UNSETTLED_VALUES),
            ).limit(1)
            if self.session.scalar(working) is not None:
                return _deny(ReasonCode.DUPLICATE_BLOCKED,
                             "the strategy already has an open order for this symbol and side")
        return None

    def _duplicate(self) -> Denial:
        window = self.settings.dedupe_window.total_seconds()
        return _deny(ReasonCode.DUPLICATE_BLOCKED, DUPLICATE_TEXT.format(window=window))

    def _identical_exists(self, order: Order, siblings: frozenset[str]) -> bool:
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
        return self.session.scalar(identical) is not None

    # --- position guards ----------------------------------------------------------------

    def positions(self, order: Order) -> Denial | None:
        if order.execution_type is not ExecutionType.ENTRY or order.strategy_id is None:
            return None
        by_strategy = net_quantities(
            self.session, (OrderRow.strategy_id,), OrderRow.user_id == order.user_id,
            OrderRow.exchange == order.exchange, OrderRow.symbol == order.symbol,
            OrderRow.strategy_id.is_not(None))
        own = by_strategy.get((order.strategy_id,), 0)
        if own != 0:
            return _deny(ReasonCode.GUARD_BLOCKED,
                         f"the strategy already holds {order.symbol} ({own:+d})")
        wanted = 1 if order.side is Side.BUY else -1
        for (strategy_id,), net in by_strategy.items():
            if strategy_id != order.strategy_id and net and (net > 0) != (wanted > 0):
                return _deny(ReasonCode.GUARD_BLOCKED,
                             f"strategy {strategy_id} holds the opposite direction in "
                             f"{order.symbol} ({net:+d})")
        return None

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
        if order.strategy_id not in self._strategies:
            self._strategies[order.strategy_id] = self.session.get(Strategy, order.strategy_id)
        return self._strategies[order.strategy_id]

    def _account(self, account_id: int) -> _AccountState | None:
        """The account's ``is_active`` and ``kill_switch`` (a Core row: no ORM object)."""
        if account_id not in self._accounts:
            self._accounts[account_id] = self.session.execute(
                _ACCOUNT, {"account_id": account_id}).first()
        return self._accounts[account_id]

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
