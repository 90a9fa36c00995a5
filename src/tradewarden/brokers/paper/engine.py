"""The order lifecycle and matching rules of the paper exchange (no locking, no I/O).

Status flow::

    PUT ORDER REQ RECEIVED ─► REJECTED (validation, funds, market closed)
                          ├─► AMO REQ RECEIVED ──(open)──► as below, or REJECTED
                          ├─► OPEN PENDING (no price yet to check funds) ─► as below
                          ├─► TRIGGER PENDING ─(trigger)─► OPEN ─► COMPLETE
                          └─► OPEN ─(fills)─► OPEN (partly filled) ─► COMPLETE
    working ─► CANCEL PENDING ─► CANCELLED;  working ─► MODIFY PENDING ─► working
    working DAY/IOC orders at session close ─► EXPIRED

Session changes are applied lazily: every operation first calls :meth:`_sync_clock`, which
runs the transitions (close → expiry, new day → settlement, open → AMO release and matching)
that became due since the previous operation.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

from tradewarden.brokers.base import BrokerFill, ModifyRequest, OrderRequest, SessionName
from tradewarden.brokers.errors import OrderNotFoundError
from tradewarden.brokers.paper import margin, matching, rules
from tradewarden.brokers.paper.model import SimOrder
from tradewarden.brokers.paper.state import ExchangeState
from tradewarden.brokers.paper.statuses import PaperStatus
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety

P = PaperStatus


class MatchingEngine(ExchangeState):
    """What happens to orders: receive, admit, trigger, fill, finish; sessions and days."""

    # ---- order lifecycle -----------------------------------------------------------------

    def _new_order(
        self, account: str, request: OrderRequest, instrument: Instrument, now: datetime
    ) -> SimOrder:
        self._account(account)
        self._order_seq += 1
        order_type = request.order_type
        order = SimOrder(
            broker_order_id=str(1_000_000_000_000 + self._order_seq),
            account=account,
            tag=request.tag,
            exchange=instrument.exchange,
            symbol=instrument.symbol,
            side=request.side,
            quantity=request.quantity,
            order_type=order_type,
            product=request.product,
            variety=request.variety,
            validity=request.validity,
            price=request.price if order_type in (OrderType.LIMIT, OrderType.SL) else None,
            trigger_price=request.trigger_price if matching.is_stop(order_type) else None,
            status=P.PUT_ORDER_REQ_RECEIVED,
            placed_at=now,
            updated_at=now,
            priority=self._next_priority(),
            day=self._day,
        )
        self._index(order)
        self._meta_dirty()
        self._record(order)
        return order

    def _receive(self, order: SimOrder, instrument: Instrument, now: datetime) -> None:
        problem = (
            rules.lot_problem(instrument, order.quantity)
            or rules.tick_problem(instrument, order.price, "price")
            or rules.tick_problem(instrument, order.trigger_price, "trigger price")
            or rules.product_problem(instrument, order.product)
        )
        if problem:
            self._finish(order, P.REJECTED, now, rejection=problem)
            return
        session = self._session
        if session is SessionName.CLOSED and order.variety is not Variety.AMO:
            self._finish(order, P.REJECTED, now, rejection=rules.MARKET_CLOSED_TEXT)
            return
        if order.variety is Variety.AMO and session is not SessionName.OPEN:
            self._amo.append(order)
            self._set_status(order, P.AMO_REQ_RECEIVED, now)
            return
        self._set_status(order, P.VALIDATION_PENDING, now)
        self._work(order)
        self._admit(order, now)

    def _admit(self, order: SimOrder, now: datetime) -> None:
        """Price checks and funds check; then the order rests (and may fill at once)."""
        instrument = self._instrument(order.key)
        ltp = self._ltp(order.key)
        ref = self._reference_price(order.key, order.order_type, order.price, order.trigger_price)
        if ref is None:
            if order.status is not P.OPEN_PENDING:
                self._set_status(order, P.OPEN_PENDING, now, message="Waiting for a price")
            return
        problem = (
            rules.band_problem(instrument, ltp, order.price, "price")
            or rules.band_problem(instrument, ltp, order.trigger_price, "trigger price")
            or (
                None
                if order.triggered
                else rules.stop_problem(
                    order.side, order.order_type, order.price, order.trigger_price, ltp
                )
            )
            or self._holdings_problem(order)
        )
        if problem:
            self._finish(order, P.REJECTED, now, rejection=problem)
            return
        required = self._margin_for(order, instrument, order.remaining, ref)
        available = self.available(order.account)
        if required > available:
            rejection = margin.rms_margin_text(required, available, order.account)
            self._finish(order, P.REJECTED, now, rejection=rejection)
            return
        order.admitted = True
        self._set_block(order, required)
        self._set_status(order, self._resting_status(order), now, message=None)
        if self._session is SessionName.OPEN:
            self._try_fill(order, now, arriving=True)

    def _try_fill(self, order: SimOrder, now: datetime, *, arriving: bool) -> None:
        """Trigger and/or execute ``order`` against the current price and volume."""
        state = self._prices.get(order.key)
        if state is not None:
            if not order.priced:
                order.priced = True
                arriving = True
            if matching.is_stop(order.order_type) and not order.triggered:
                assert order.trigger_price is not None
                if not matching.trigger_reached(order.side, order.trigger_price, state.last_price):
                    return
                order.triggered = True
                arriving = True
                self._set_status(order, P.OPEN, now, message="Triggered")
            price = matching.execution_price(
                order.side, order.order_type, order.price, state.last_price, arriving=arriving
            )
            quantity = matching.fill_quantity(order.remaining, state.volume_left)
            if price is not None and quantity > 0:
                self._execute(order, quantity, price, now)
                if state.volume_left is not None:
                    state.volume_left -= quantity
                    self._price_dirty(order.key)
        if (
            arriving
            and order.validity is Validity.IOC
            and order.working
            and (order.triggered or not matching.is_stop(order.order_type))
        ):
            self._finish(order, P.CANCELLED, now, message="IOC order: unfilled quantity cancelled")

    def _execute(self, order: SimOrder, quantity: int, price: Decimal, now: datetime) -> None:
        self._fill_seq += 1
        fill = BrokerFill(
            fill_id=str(50_000_000 + self._fill_seq),
            broker_order_id=order.broker_order_id,
            tag=order.tag,
            exchange=order.exchange,
            symbol=order.symbol,
            side=order.side,
            quantity=quantity,
            price=price,
            product=order.product,
            filled_at=now,
        )
        order.filled_quantity += quantity
        order.filled_value += price * quantity
        self._apply_fill_to_account(order, quantity, price)
        self._add_fill(order.account, fill)
        if order.remaining == 0:
            self._set_block(order, ZERO)
            self._finish(order, P.COMPLETE, now, fill=fill)
        else:
            instrument = self._instrument(order.key)
            ref = (
                self._reference_price(order.key, order.order_type, order.price, order.trigger_price)
                or price
            )
            self._set_block(order, self._margin_for(order, instrument, order.remaining, ref))
            self._set_status(order, P.OPEN, now, fill=fill, message=None)

    def _apply_fill_to_account(self, order: SimOrder, quantity: int, price: Decimal) -> None:
        state = self._account(order.account)
        position = state.position(order.exchange, order.symbol, order.product)
        realised = position.apply(order.side, quantity, price)
        if order.product is Product.CNC:
            value = price * quantity
            state.cash += -value if order.side is Side.BUY else value
        else:
            state.cash += realised
        self._account_dirty(state)
        self._position_dirty(state.name, position)

    def _finish(
        self,
        order: SimOrder,
        status: PaperStatus,
        now: datetime,
        *,
        rejection: str | None = None,
        message: str | None = None,
        fill: BrokerFill | None = None,
    ) -> None:
        """Move ``order`` to a final status and release what it held."""
        self._set_block(order, ZERO)
        self._unwork(order)
        order.rejection_reason = rejection
        self._set_status(order, status, now, message=message or rejection, fill=fill)

    # ---- session transitions -------------------------------------------------------------

    def _sync_clock(self) -> datetime:
        now = self.clock.now()
        session = self.clock.session(now)
        today = self.clock.trading_date(now)
        previous = self._session
        if session is previous:
            if session is not SessionName.CLOSED and today != self._trading_date:
                self._close_day(now)
                self._new_day(now, today)
                if session is SessionName.OPEN:
                    self._open_session(now)
            return now
        if previous is not SessionName.CLOSED and session is SessionName.CLOSED:
            self._close_day(now)
        elif previous is SessionName.CLOSED or today != self._trading_date:
            if previous is not SessionName.CLOSED:
                self._close_day(now)
            self._new_day(now, today)
        self._session = session
        self._meta_dirty()
        if session is SessionName.OPEN:
            self._open_session(now)
        elif session is SessionName.PRE_OPEN:
            for key in list(self._working):
                self._admit_pending(key, now)
        return now

    def _close_day(self, now: datetime) -> None:
        """Session end: unfilled regular orders expire (AMOs wait for the next open)."""
        for orders in list(self._working.values()):
            for order in list(orders):
                if order.working:
                    self._finish(
                        order,
                        P.EXPIRED,
                        now,
                        message="Order expired at the end of the trading session (DAY validity)",
                    )

    def _new_day(self, now: datetime, today: date) -> None:
        self._day += 1
        self._trading_date = today
        self._settle()
        self._meta_dirty()

    def _open_session(self, now: datetime) -> None:
        """Market open: AMOs go to the exchange (funds checked now), then everything matches."""
        amos, self._amo = self._amo, []
        for order in amos:
            if not order.working:
                continue
            order.day = self._day
            self._set_status(order, P.VALIDATION_PENDING, now, message="AMO sent to exchange")
            self._work(order)
            self._admit(order, now)
        for key in list(self._working):
            self._match_instrument(key, now)

    def _admit_pending(self, key: InstrumentKey, now: datetime) -> None:
        for order in list(self._working.get(key, ())):
            if order.working and not order.admitted:
                self._admit(order, now)

    def _match_instrument(self, key: InstrumentKey, now: datetime) -> None:
        for order in list(self._working.get(key, ())):
            if not order.working:
                continue
            if not order.admitted:
                self._admit(order, now)
            else:
                self._try_fill(order, now, arriving=False)

    # ---- helpers ----------------------------------------------------------------------

    def _lookup(self, account: str | None, broker_order_id: str) -> SimOrder:
        """The order, if it belongs to ``account`` (any account when ``None``) and is visible."""
        order = self._orders.get(broker_order_id)
        if order is None or (
            account is not None
            and (order.account != account or order.hidden_until > time.monotonic())
        ):
            raise OrderNotFoundError(f"Order {broker_order_id} not found", code="order_not_found")
        return order

    def _modify_problem(
        self,
        order: SimOrder,
        instrument: Instrument,
        quantity: int,
        order_type: OrderType,
        price: Decimal | None,
        trigger: Decimal | None,
    ) -> str | None:
        if quantity <= order.filled_quantity:
            return (
                f"Quantity {quantity} must be more than the filled quantity {order.filled_quantity}"
            )
        if order_type in (OrderType.LIMIT, OrderType.SL) and (price is None or price <= 0):
            return f"A {order_type.value} order needs a positive price"
        if matching.is_stop(order_type) and (trigger is None or trigger <= 0):
            return f"A {order_type.value} order needs a positive trigger price"
        ltp = self._ltp(order.key)
        stop_check = None
        if not order.triggered and order.status is not P.AMO_REQ_RECEIVED:
            stop_check = rules.stop_problem(order.side, order_type, price, trigger, ltp)
        return (
            rules.lot_problem(instrument, quantity)
            or rules.tick_problem(instrument, price, "price")
            or rules.tick_problem(instrument, trigger, "trigger price")
            or rules.band_problem(instrument, ltp, price, "price")
            or rules.band_problem(instrument, ltp, trigger, "trigger price")
            or stop_check
        )

    def _holdings_problem(self, order: SimOrder) -> str | None:
        if order.product is not Product.CNC or order.side is not Side.SELL:
            return None
        state = self._account(order.account)
        holding = state.holdings.get((order.exchange, order.symbol))
        position = state.positions.get((order.exchange, order.symbol, Product.CNC))
        sellable = (holding.quantity if holding else 0) + (position.net_quantity if position else 0)
        for other in self._working.get(order.key, ()):
            if (
                other is not order
                and other.account == order.account
                and other.admitted
                and other.product is Product.CNC
                and other.side is Side.SELL
            ):
                sellable -= other.remaining
        if order.remaining > sellable:
            return margin.rms_holdings_text(str(order.key), order.remaining, max(0, sellable))
        return None

    def _margin_for(
        self, order: SimOrder, instrument: Instrument, quantity: int, ref: Decimal
    ) -> Decimal:
        state = self._account(order.account)
        position = state.positions.get((order.exchange, order.symbol, order.product))
        return margin.order_margin(
            instrument,
            order.product,
            order.side,
            quantity,
            ref,
            position.net_quantity if position else 0,
        )

    def _reference_price(
        self,
        key: InstrumentKey,
        order_type: OrderType,
        price: Decimal | None,
        trigger: Decimal | None,
    ) -> Decimal | None:
        if order_type in (OrderType.LIMIT, OrderType.SL):
            return price
        if order_type is OrderType.SL_M:
            return trigger
        return self._ltp(key)

    @staticmethod
    def _resting_status(order: SimOrder) -> PaperStatus:
        """Where a working order waits: unchecked, before its trigger, or in the book."""
        if not order.admitted:
            return P.OPEN_PENDING
        if matching.is_stop(order.order_type) and not order.triggered:
            return P.TRIGGER_PENDING
        return P.OPEN


def modified_values(
    order: SimOrder, change: ModifyRequest
) -> tuple[int, OrderType, Decimal | None, Decimal | None]:
    order_type = change.order_type or order.order_type
    quantity = change.quantity if change.quantity is not None else order.quantity
    price = change.price if change.price is not None else order.price
    trigger = change.trigger_price if change.trigger_price is not None else order.trigger_price
    if order_type in (OrderType.MARKET, OrderType.SL_M):
        price = None
    if not matching.is_stop(order_type):
        trigger = None
    return quantity, order_type, price, trigger
