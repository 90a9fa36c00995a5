"""The exchange's in-memory state, its indexes, and the bookkeeping that persists it.

:class:`ExchangeState` owns the data and the small primitives every operation uses (record a
status change, block margin, index an order, settle the day); the operations themselves live in
:class:`~tradewarden.brokers.paper.exchange.PaperExchange`. Changes are collected while an
operation runs and taken out in one batch (:meth:`ExchangeState._take_changes`) for one SQLite
transaction, after which the collected updates and ticks are published.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from tradewarden.brokers.base import BrokerFill, BrokerOrder, OrderUpdate, SessionName, Tick
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.brokers.paper import margin
from tradewarden.brokers.paper.clock import PaperClock
from tradewarden.brokers.paper.model import (
    AccountState,
    HoldingState,
    PositionState,
    PriceState,
    SimOrder,
)
from tradewarden.brokers.paper.statuses import PaperStatus
from tradewarden.brokers.paper.store import Changes, PaperStore
from tradewarden.brokers.paper.wire import (
    fill_from_json,
    fill_to_json,
    order_from_json,
    order_to_json,
)
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import Product

P = PaperStatus
_META_STATE = "state"
_META_CLOCK = "clock"


class ExchangeState:
    """Orders, accounts, prices and the trading day, plus change tracking."""

    def __init__(
        self, *, store: PaperStore, clock: PaperClock, instruments: InstrumentMaster
    ) -> None:
        self._store = store
        self.clock = clock
        self.instruments = instruments
        self._clear_memory()

    def _clear_memory(self, *, keep_sequences: bool = False) -> None:
        sequences: tuple[int, int, int] | None = None
        if keep_sequences:
            sequences = (self._order_seq, self._fill_seq, self._priority)
        self._accounts: dict[str, AccountState] = {}
        self._orders: dict[str, SimOrder] = {}
        self._history: dict[str, list[BrokerOrder]] = {}
        self._by_tag: dict[tuple[str, str], list[SimOrder]] = {}
        self._today: dict[str, list[SimOrder]] = {}  # the day's order book per account
        self._working: dict[InstrumentKey, list[SimOrder]] = {}  # in priority order
        self._amo: list[SimOrder] = []  # AMOs waiting for the open
        self._fills: dict[str, list[tuple[int, BrokerFill]]] = {}
        self._prices: dict[InstrumentKey, PriceState] = {}
        self._session = SessionName.CLOSED
        self._day = 1
        self._trading_date = date.min
        self._order_seq: int = 0
        self._fill_seq: int = 0
        self._priority: int = 0
        self._changes = Changes()
        self._dirty_orders: dict[str, SimOrder] = {}
        self._updates: list[tuple[str, OrderUpdate]] = []
        self._ticks_out: list[Tick] = []
        if sequences is not None:  # ids stay unique across a reset
            self._order_seq, self._fill_seq, self._priority = sequences

    # ---- loading and saving ------------------------------------------------------------

    def _load(self) -> None:
        loaded = self._store.load()
        state = loaded.meta.get(_META_STATE)
        if state is None:
            self._bootstrap_day()
            return
        clock = loaded.meta.get(_META_CLOCK) or {}
        same_mode = clock.get("mode") == self.clock.mode.value
        if same_mode:  # a different --clock starts that mode afresh
            self.clock.restore(clock)
        self._session = SessionName(state["session"])
        self._day = int(state["day"])
        self._trading_date = date.fromisoformat(state["trading_date"])
        self._order_seq = int(state["order_seq"])
        self._fill_seq = int(state["fill_seq"])
        self._priority = int(state["priority"])
        for row in loaded.accounts:
            self._accounts[row["name"]] = AccountState(row["name"], Decimal(row["cash"]))
        for account, row in loaded.positions:
            position = PositionState.from_state(row)
            self._account(account).positions[
                (position.exchange, position.symbol, position.product)
            ] = position
        for account, row in loaded.holdings:
            holding = HoldingState.from_state(row)
            self._account(account).holdings[(holding.exchange, holding.symbol)] = holding
        for row in sorted(loaded.orders, key=lambda r: int(r["priority"])):
            order = SimOrder.from_state(row)
            self._index(order)
            self._history[order.broker_order_id] = [
                order_from_json(h) for h in loaded.history.get(order.broker_order_id, [])
            ]
            if order.status is P.AMO_REQ_RECEIVED:
                self._amo.append(order)
            elif order.working:
                self._working.setdefault(order.key, []).append(order)
            self._account(order.account).blocked += order.blocked
        for account, day, row in loaded.fills:
            self._fills.setdefault(account, []).append((day, fill_from_json(row)))
        for key_text, row in loaded.prices.items():
            self._prices[InstrumentKey.parse(key_text)] = PriceState(
                Decimal(row["last_price"]),
                row["volume_left"],
                datetime.fromisoformat(row["at"]),
            )
        self._changes = Changes()  # loading is not a change
        if not same_mode:
            self._clock_dirty()

    def _bootstrap_day(self) -> None:
        """A fresh state: the current session, day 1."""
        now = self.clock.now()
        self._session = self.clock.session(now)
        self._trading_date = self.clock.trading_date(now)
        self._meta_dirty()
        self._clock_dirty()

    def _take_changes(
        self,
    ) -> tuple[Changes, list[tuple[str, OrderUpdate]], list[Tick]]:
        changes = self._changes
        for order_id, order in self._dirty_orders.items():
            changes.orders[order_id] = order.to_state()
        result = (changes, self._updates, self._ticks_out)
        self._changes = Changes()
        self._dirty_orders = {}
        self._updates = []
        self._ticks_out = []
        return result

    def _meta_dirty(self) -> None:
        self._changes.meta[_META_STATE] = {
            "session": self._session.value,
            "day": self._day,
            "trading_date": self._trading_date.isoformat(),
            "order_seq": self._order_seq,
            "fill_seq": self._fill_seq,
            "priority": self._priority,
        }

    def _clock_dirty(self) -> None:
        self._changes.meta[_META_CLOCK] = self.clock.state()

    def _account_dirty(self, state: AccountState) -> None:
        self._changes.accounts[state.name] = state.to_state()

    def _position_dirty(self, account: str, position: PositionState) -> None:
        key = f"{position.exchange}:{position.symbol}:{position.product.value}"
        self._changes.positions[(account, key)] = position.to_state()

    def _holding_dirty(
        self, account: str, exchange: str, symbol: str, holding: HoldingState | None
    ) -> None:
        self._changes.holdings[(account, f"{exchange}:{symbol}")] = (
            holding.to_state() if holding else None
        )

    def _price_dirty(self, key: InstrumentKey) -> None:
        state = self._prices[key]
        self._changes.prices[str(key)] = {
            "last_price": str(state.last_price),
            "volume_left": state.volume_left,
            "at": state.at.isoformat(),
        }

    # ---- recording -----------------------------------------------------------------------

    def _set_status(
        self,
        order: SimOrder,
        status: PaperStatus,
        now: datetime,
        *,
        message: str | None = None,
        fill: BrokerFill | None = None,
    ) -> None:
        order.status = status
        order.status_message = message
        order.touch(now)
        self._record(order, fill)

    def _record(self, order: SimOrder, fill: BrokerFill | None = None) -> None:
        """Append the order's current state to its history and queue an update."""
        snapshot = order.snapshot()
        history = self._history.setdefault(order.broker_order_id, [])
        history.append(snapshot)
        self._changes.history.append((order.broker_order_id, len(history), order_to_json(snapshot)))
        self._dirty_orders[order.broker_order_id] = order
        self._updates.append((order.account, OrderUpdate(snapshot, fill)))

    def _add_fill(self, account: str, fill: BrokerFill) -> None:
        self._fills.setdefault(account, []).append((self._day, fill))
        self._changes.fills.append((fill.fill_id, account, self._day, fill_to_json(fill)))
        self._meta_dirty()

    # ---- indexes --------------------------------------------------------------------------

    def _index(self, order: SimOrder) -> None:
        self._orders[order.broker_order_id] = order
        if order.tag is not None:
            self._by_tag.setdefault((order.account, order.tag), []).append(order)
        if order.day == self._day or order.status is P.AMO_REQ_RECEIVED:
            self._today.setdefault(order.account, []).append(order)

    def _next_priority(self) -> int:
        self._priority += 1
        return self._priority

    def _work(self, order: SimOrder) -> None:
        self._working.setdefault(order.key, []).append(order)

    def _unwork(self, order: SimOrder) -> None:
        orders = self._working.get(order.key)
        if orders is not None and order in orders:
            orders.remove(order)
            if not orders:
                del self._working[order.key]
        if order in self._amo:
            self._amo.remove(order)

    def _reprioritize(self, order: SimOrder) -> None:
        """A modified order loses its time priority."""
        order.priority = self._next_priority()
        self._meta_dirty()
        orders = self._working.get(order.key)
        if orders is not None and order in orders:
            orders.remove(order)
            orders.append(order)

    # ---- accounts, margin, holdings ------------------------------------------------------

    def _account(self, name: str) -> AccountState:
        """The account, created with the starting cash on first use."""
        state = self._accounts.get(name)
        if state is None:
            state = self._accounts[name] = AccountState(name)
            self._account_dirty(state)
        return state

    def _instrument(self, key: InstrumentKey) -> Instrument:
        instrument = self.instruments.resolve(key)
        if instrument is None:  # orders only exist for resolvable instruments
            raise KeyError(str(key))
        return instrument

    def _ltp(self, key: InstrumentKey) -> Decimal | None:
        state = self._prices.get(key)
        return state.last_price if state else None

    def _positions_margin(self, state: AccountState) -> Decimal:
        total = ZERO
        for position in state.positions.values():
            if position.net_quantity:
                instrument = self._instrument(InstrumentKey(position.exchange, position.symbol))
                total += margin.position_margin(
                    instrument, position.product, position.net_quantity, position.net_average
                )
        return total

    def available(self, account: str) -> Decimal:
        """Cash not blocked by working orders or open MIS/NRML positions."""
        state = self._account(account)
        return state.cash - state.blocked - self._positions_margin(state)

    def _set_block(self, order: SimOrder, amount: Decimal) -> None:
        if amount == order.blocked:
            return
        self._account(order.account).blocked += amount - order.blocked
        order.blocked = amount
        self._dirty_orders[order.broker_order_id] = order

    def _put_holding(
        self, state: AccountState, key: InstrumentKey, quantity: int, average_price: Decimal | None
    ) -> None:
        hkey = (key.exchange, key.symbol)
        current = state.holdings.get(hkey)
        if quantity == 0:
            state.holdings.pop(hkey, None)
            self._holding_dirty(state.name, key.exchange, key.symbol, None)
            return
        price = average_price
        if price is None:
            price = current.average_price if current else (self._ltp(key) or ZERO)
        holding = HoldingState(key.exchange, key.symbol, quantity, price)
        state.holdings[hkey] = holding
        self._holding_dirty(state.name, key.exchange, key.symbol, holding)

    def _settle(self) -> None:
        """Start of a trading day: CNC trades become holdings (T+1), other products carry
        their net quantity, and the day's order book starts empty except for waiting AMOs."""
        self._changes.clear_positions = True
        self._changes.positions.clear()
        for state in self._accounts.values():
            old, state.positions = state.positions, {}
            for (exchange, symbol, product), position in old.items():
                if product is Product.CNC:
                    self._settle_cnc(state, exchange, symbol, position)
                elif position.net_quantity:
                    carried = position.carried()
                    state.positions[(exchange, symbol, product)] = carried
                    self._position_dirty(state.name, carried)
        self._today = {}
        for order in self._amo:
            self._today.setdefault(order.account, []).append(order)

    def _settle_cnc(
        self, state: AccountState, exchange: str, symbol: str, position: PositionState
    ) -> None:
        net = position.net_quantity
        if net == 0:
            return
        key = InstrumentKey(exchange, symbol)
        holding = state.holdings.get((exchange, symbol))
        held = holding.quantity if holding else 0
        average = holding.average_price if holding else ZERO
        if net > 0:
            average = (average * held + position.net_average * net) / (held + net)
        self._put_holding(state, key, max(0, held + net), average)
