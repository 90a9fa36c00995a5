"""The paper exchange: orders, matching, accounts and the trading day, for many accounts.

One :class:`PaperExchange` holds every account. All operations are synchronous, short and
serialized by one lock (safe to call from an event loop and from threads); each ends with one
SQLite transaction and then publishes the order updates and ticks it produced. Broker-facing
calls go through :class:`~tradewarden.brokers.paper.service.PaperService` (fault injection);
the control operations here are called directly.
The lifecycle rules are in :mod:`tradewarden.brokers.paper.engine`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from tradewarden.brokers.base import (
    BrokerFill,
    BrokerOrder,
    Funds,
    Holding,
    MarketSession,
    ModifyRequest,
    OrderRequest,
    Position,
    Quote,
    SessionName,
    Tick,
)
from tradewarden.brokers.errors import (
    InsufficientFundsError,
    OrderRejectedError,
)
from tradewarden.brokers.instruments import InstrumentMaster, bundled_master
from tradewarden.brokers.paper import margin, matching, rules
from tradewarden.brokers.paper.clock import ClockMode, PaperClock
from tradewarden.brokers.paper.engine import MatchingEngine, modified_values
from tradewarden.brokers.paper.faults import DEFAULT_SEED, FaultConfig, FaultInjector
from tradewarden.brokers.paper.model import PriceState
from tradewarden.brokers.paper.statuses import PaperStatus
from tradewarden.brokers.paper.store import PaperStore
from tradewarden.brokers.paper.streams import StreamHub
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.money import ZERO, rupees
from tradewarden.domain.orders import Product

P = PaperStatus
ACCOUNT_MAX_LENGTH = 64


class PaperExchange(MatchingEngine):
    """The simulated broker for any number of accounts, with its own SQLite state."""

    def __init__(
        self,
        state_path: Path | None = None,
        *,
        clock: ClockMode | str = ClockMode.MANUAL,
        seed: int = DEFAULT_SEED,
        instruments: InstrumentMaster | None = None,
        paper_clock: PaperClock | None = None,
    ) -> None:
        mode = ClockMode(clock)
        super().__init__(
            store=PaperStore(state_path),
            clock=paper_clock or PaperClock(mode),
            instruments=instruments or bundled_master(),
        )
        self.faults = FaultInjector(seed)
        self.streams = StreamHub()
        self._lock = threading.RLock()
        with self._lock:
            self._load()
            self._flush()

    # ---- operation plumbing ------------------------------------------------------------

    @contextmanager
    def _operation(self) -> Iterator[datetime]:
        """Serialize, bring the session up to date, and persist + publish at the end."""
        with self._lock:
            try:
                yield self._sync_clock()
            finally:
                self._flush()

    def _flush(self) -> None:
        changes, updates, ticks = self._take_changes()
        self._store.write(changes)
        for account, update in updates:
            self.streams.publish_order(account, update)
        for tick in ticks:
            self.streams.publish_tick(tick)

    def close(self) -> None:
        """Close the state file and end all streams."""
        with self._lock:
            self.streams.drop_all("paper broker shut down")
            self._store.close()

    def sync(self) -> None:
        """Apply session changes due by now (call periodically for timely expiry/open)."""
        with self._operation():
            pass

    # ---- broker-facing operations (called through PaperService) ------------------------

    def place(self, account: str, request: OrderRequest, *, hide_for_s: float = 0.0) -> str:
        """Receive an order; returns its broker order id (it may already be ``REJECTED``)."""
        check_account(account)
        key = InstrumentKey.of(request.exchange, request.symbol)
        instrument = self.instruments.resolve(key)
        if instrument is None:
            raise OrderRejectedError(f"Unknown instrument {key}", code="invalid_instrument")
        problem = rules.structural_problem(request)
        if problem:
            raise OrderRejectedError(problem, code="invalid_order")
        with self._operation() as now:
            reference = self._reference_price(
                key, request.order_type, request.price, request.trigger_price
            )
            limit = rules.limit_problem(instrument, request.quantity, reference)
            if limit:
                raise OrderRejectedError(limit, code="order_limit")
            order = self._new_order(account, request, instrument, now)
            if hide_for_s > 0:
                order.hidden_until = time.monotonic() + hide_for_s
            self._receive(order, instrument, now)
            return order.broker_order_id

    def modify(self, account: str | None, broker_order_id: str, change: ModifyRequest) -> None:
        """Change a working order's quantity/price/trigger/type (all or nothing)."""
        with self._operation() as now:
            order = self._lookup(account, broker_order_id)
            if not order.working:
                raise OrderRejectedError(
                    f"Order {broker_order_id} is {order.status.value} and cannot be modified",
                    code="order_not_modifiable",
                )
            instrument = self._instrument(order.key)
            new = modified_values(order, change)
            quantity, order_type, price, trigger = new
            problem = self._modify_problem(order, instrument, *new) or rules.limit_problem(
                instrument, quantity, self._reference_price(order.key, order_type, price, trigger)
            )
            if problem:
                raise OrderRejectedError(problem, code="invalid_modification")
            required = ZERO
            if order.admitted:
                ref = self._reference_price(order.key, order_type, price, trigger)
                required = self._margin_for(
                    order, instrument, quantity - order.filled_quantity, ref or ZERO
                )
                available = self.available(order.account) + order.blocked
                if required > available:
                    raise InsufficientFundsError(
                        margin.rms_margin_text(required, available, order.account),
                        code="insufficient_funds",
                    )
            waiting_amo = order.status is P.AMO_REQ_RECEIVED
            self._set_status(order, P.MODIFY_PENDING, now)
            order.quantity, order.order_type, order.price, order.trigger_price = new
            if not matching.is_stop(order_type):
                order.triggered = False
            self._reprioritize(order)
            if order.admitted:
                self._set_block(order, required)
            resting = P.AMO_REQ_RECEIVED if waiting_amo else self._resting_status(order)
            self._set_status(order, resting, now, message="Modified")
            if order.admitted and self._session is SessionName.OPEN:
                self._try_fill(order, now, arriving=True)

    def cancel(self, account: str | None, broker_order_id: str) -> None:
        """Cancel a working order."""
        with self._operation() as now:
            order = self._lookup(account, broker_order_id)
            if not order.working:
                raise OrderRejectedError(
                    f"Order {broker_order_id} is {order.status.value} and cannot be cancelled",
                    code="order_not_cancellable",
                )
            self._set_status(order, P.CANCEL_PENDING, now)
            self._finish(order, P.CANCELLED, now, message="Cancelled by user")

    def order_book(self, account: str, *, visible_only: bool = True) -> list[BrokerOrder]:
        """Today's orders of ``account`` (plus AMOs waiting for the open)."""
        with self._operation():
            clock = time.monotonic()
            return [
                o.snapshot()
                for o in self._today.get(account, ())
                if not visible_only or o.hidden_until <= clock
            ]

    def get_order(self, account: str | None, broker_order_id: str) -> BrokerOrder:
        """One order; ``account=None`` finds any account's order, hidden or not (control)."""
        with self._operation():
            return self._lookup(account, broker_order_id).snapshot()

    def order_history(self, account: str, broker_order_id: str) -> list[BrokerOrder]:
        """Every state the order went through, oldest first."""
        with self._operation():
            order = self._lookup(account, broker_order_id)
            return list(self._history[order.broker_order_id])

    def find_by_tag(self, account: str, tag: str) -> list[BrokerOrder]:
        """The account's orders carrying ``tag`` (any day)."""
        with self._operation():
            clock = time.monotonic()
            return [
                o.snapshot()
                for o in self._by_tag.get((account, tag), ())
                if o.hidden_until <= clock
            ]

    def trade_book(self, account: str) -> list[BrokerFill]:
        """Today's fills of ``account``."""
        with self._operation():
            clock = time.monotonic()
            return [
                fill
                for day, fill in self._fills.get(account, ())
                if day == self._day and self._orders[fill.broker_order_id].hidden_until <= clock
            ]

    def positions(self, account: str) -> list[Position]:
        """Today's positions (MIS/NRML include quantity carried from earlier days)."""
        with self._operation():
            state = self._accounts.get(account)
            if state is None:
                return []
            return [
                p.view(self._ltp(InstrumentKey(p.exchange, p.symbol)))
                for p in state.positions.values()
            ]

    def holdings(self, account: str) -> list[Holding]:
        """Settled holdings; ``used_quantity`` is what today's CNC sells took from them."""
        with self._operation():
            state = self._accounts.get(account)
            if state is None:
                return []
            views = []
            for (exchange, symbol), holding in state.holdings.items():
                cnc = state.positions.get((exchange, symbol, Product.CNC))
                used = max(0, -cnc.net_quantity) if cnc else 0
                views.append(holding.view(used, self._ltp(InstrumentKey(exchange, symbol))))
            return views

    def funds(self, account: str) -> Funds:
        """Cash, margin in use and P&L (creates the account on first use)."""
        with self._operation():
            state = self._account(account)
            used = state.blocked + self._positions_margin(state)
            realised = sum((p.realised for p in state.positions.values()), ZERO)
            unrealised = ZERO
            for p in state.positions.values():
                view = p.view(self._ltp(InstrumentKey(p.exchange, p.symbol)))
                unrealised += view.unrealised_pnl
            return Funds(
                cash=rupees(state.cash),
                available=rupees(state.cash - used),
                used_margin=rupees(used),
                realised_pnl=rupees(realised),
                unrealised_pnl=rupees(unrealised),
            )

    def market_session(self) -> MarketSession:
        """The current session and simulated time."""
        with self._operation() as now:
            return MarketSession(session=self._session, now=now)

    def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        """The last traded prices known for ``instruments`` (those without one are absent)."""
        with self._lock:
            found = {key: self._prices.get(key) for key in instruments}
        return {
            key: Quote(key.exchange, key.symbol, state.last_price, state.at)
            for key, state in found.items()
            if state is not None
        }

    # ---- control operations --------------------------------------------------------------

    def set_session(self, session: SessionName | None) -> MarketSession:
        """Pin the session (``None``: follow the NSE calendar) and apply the transition."""
        with self._operation():
            self.clock.pin(session)
            self._clock_dirty()
        return self.market_session()

    def set_now(self, when: datetime, session: SessionName | None = None) -> MarketSession:
        """Move simulated time; the session follows the calendar unless ``session`` pins it."""
        with self._operation():
            self.clock.set_now(when)
            if session is not None:
                self.clock.pin(session)
            self._clock_dirty()
        return self.market_session()

    def set_prices(
        self,
        prices: Mapping[InstrumentKey, Decimal],
        volume: Mapping[InstrumentKey, int] | int | None = None,
    ) -> None:
        """Set last traded prices (with optional available quantity) and match orders."""
        for key in prices:
            if self.instruments.resolve(key) is None:
                raise ValueError(f"unknown instrument {key}")
        with self._operation() as now:
            for key, price in prices.items():
                vol = volume.get(key) if isinstance(volume, Mapping) else volume
                self._prices[key] = PriceState(price, vol, now)
                self._price_dirty(key)
                self._ticks_out.append(Tick(key.exchange, key.symbol, price, vol, now))
            if self._session is SessionName.OPEN:
                for key in prices:
                    self._match_instrument(key, now)
            elif self._session is SessionName.PRE_OPEN:
                for key in prices:
                    self._admit_pending(key, now)

    def set_cash(self, account: str, cash: Decimal) -> Funds:
        """Create the account if needed and set its cash balance."""
        check_account(account)
        with self._operation():
            state = self._account(account)
            state.cash = cash
            self._account_dirty(state)
        return self.funds(account)

    def set_holding(
        self,
        account: str,
        key: InstrumentKey,
        quantity: int,
        average_price: Decimal | None = None,
    ) -> None:
        """Set a settled holding's quantity, as if bought or sold elsewhere."""
        check_account(account)
        if self.instruments.resolve(key) is None:
            raise ValueError(f"unknown instrument {key}")
        if quantity < 0:
            raise ValueError("quantity must not be negative")
        with self._operation():
            self._put_holding(self._account(account), key, quantity, average_price)

    def ensure_account(self, account: str, initial_cash: Decimal | None = None) -> bool:
        """Create ``account`` (with ``initial_cash`` or the default) unless it exists; True when
        it was created."""
        check_account(account)
        with self._operation():
            if account in self._accounts:
                return False
            state = self._account(account)
            if initial_cash is not None:
                state.cash = initial_cash
                self._account_dirty(state)
            return True

    def configure_faults(self, config: FaultConfig) -> None:
        """Replace the active faults; ``drop_stream`` also ends every open stream now."""
        self.faults.configure(config)
        if config.drop_stream:
            self.streams.drop_all("stream dropped (fault injection)")

    def account_names(self) -> list[str]:
        """Every account the simulator knows."""
        with self._lock:
            return sorted(self._accounts)

    def all_orders(self, account: str | None = None) -> list[tuple[str, BrokerOrder]]:
        """Every order the broker holds (all days), as (account, order)."""
        with self._operation():
            return [
                (o.account, o.snapshot())
                for o in self._orders.values()
                if account is None or o.account == account
            ]

    def reset(self) -> None:
        """Forget everything: orders, fills, accounts, prices; clock and faults to defaults."""
        with self._lock:
            self.streams.drop_all("paper broker reset")
            self._store.clear()
            self.clock.reset()
            self.faults.reset()
            self._clear_memory(keep_sequences=True)
            self._bootstrap_day()
            self._flush()


def check_account(account: str) -> None:
    """Refuse account ids that are empty, too long or contain control characters."""
    if (
        not account
        or len(account) > ACCOUNT_MAX_LENGTH
        or not account.isprintable()
        or "/" in account
        or account != account.strip()
    ):
        raise OrderRejectedError(
            f"account id must be 1-{ACCOUNT_MAX_LENGTH} printable characters without '/' or "
            "surrounding spaces",
            code="invalid_account",
        )
