"""The trade recorder: keeps trade rows in step with their orders, inside the ledger's own
transaction (a :class:`~tradewarden.engine.ledger.Ledger` recorder).

- A fill of an entry order of a strategy with trade-level risk opens the trade; later fills
  of an entry order grow its trade (partial fills size the trade by filled quantity), also
  for trades made with ``createtrade``.
- The creation of an exit order (``extra.trade_id``) marks its trade ``exiting``.
- Fills of exit orders add to the trade's exited quantity and realised P&L; the trade closes
  when everything is out.
- A holdings-level change made outside (a ``manual_sell`` / ``manual_buy`` position event that no
  order explains, ``engine/holdings.py``) reduces or closes the trades it takes away from
  (:meth:`TradeRecorder.on_position_events`, in the transaction that records the event).

Because these writes share the events' transaction, a crash can never leave a fill without
its trade or an exit order without its trade knowing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.clock import utcnow
from tradewarden.domain.events import EventType
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import ExecutionType, Order, Origin, Side
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import (
    ExitReason,
    Trade,
    TradeError,
    TradeSide,
    TradeStatus,
    initial_levels,
    trailing_level_of,
)
from tradewarden.engine.holdings import MANUAL_SELL, PositionEvent
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.engine.trades import notices
from tradewarden.store import trades as store
from tradewarden.store.tables import Strategy

log = logging.getLogger(__name__)

#: ``Order.extra`` keys of exit orders.
TRADE_ID = "trade_id"
EXIT_REASON = "exit_reason"


class TradeRecorder:
    """Ledger recorder for trades; see the module docstring."""

    def __init__(self, master: InstrumentMaster, clock: Any = None) -> None:
        self.master = master
        self._clock = clock or (lambda: utcnow())
        #: the last traded price of a symbol, if known (the runtime points it at the trade
        #: manager's feed)
        self.prices: Callable[[str], Decimal | None] = lambda _symbol: None

    def __call__(self, session: Session, applied: Sequence[AppliedEvent]) -> None:
        for event in applied:
            order = event.order
            if order.extra.get(TRADE_ID) is not None:
                self._isolated(session, event, self._on_exit_order)
            elif _fill_delta(event) > 0 and self._may_touch_trades(session, order):
                self._isolated(session, event, self._on_other_fill)

    @staticmethod
    def _may_touch_trades(session: Session, order: Order) -> bool:
        """A cheap read first: most fills (orders without trades) need no savepoint."""
        if order.origin is Origin.TRADE_EXIT:
            return False
        if order.execution_type is ExecutionType.ENTRY and order.strategy_id is not None:
            return True  # may open a trade from the strategy's defaults
        return store.any_open_trade(session, order.account_id, order.exchange, order.symbol)

    def _isolated(self, session: Session, event: AppliedEvent,
                  work: Callable[[Session, AppliedEvent], None]) -> None:
        """Trade bookkeeping must never cost the order its fill: a failure here rolls back
        only its own savepoint (and is logged), never the ledger's transaction."""
        try:
            with session.begin_nested():
                work(session, event)
        except Exception:
            log.exception("trade bookkeeping for order %s (%s) failed", event.order.id,
                          event.type.value)

    def _on_other_fill(self, session: Session, event: AppliedEvent) -> None:
        order = event.order
        if order.origin is not Origin.TRADE_EXIT:
            self._reduce_trades(session, event)
            if order.execution_type is ExecutionType.ENTRY:
                self._on_entry_fill(session, order)

    # --- entries ------------------------------------------------------------------------

    def _on_entry_fill(self, session: Session, order: Order) -> None:
        trade = store.trade_for_entry(session, order.id, for_update=True)
        if trade is not None:
            trade.before_realised_change(self._clock())  # a new entry price re-prices exits
            trade.quantity = order.filled_quantity
            trade.entry_price = order.average_price
            _recompute(trade)
            if trade.status is not TradeStatus.ACTIVE and trade.open_quantity > 0 and (
                    trade.status is TradeStatus.CLOSED or trade.exit_order_id is not None):
                # more of the entry filled after the exit: the rest must go out too
                trade.status, trade.closed_at, trade.exit_order_id = (
                    TradeStatus.EXITING, None, None)
            trade.updated_at = self._clock()
            store.save_trade(session, trade)
            return
        settings = self._strategy_risk(session, order)
        if settings is None:
            return
        try:
            opened = self.open_from_order(order, settings)
        except TradeError as exc:
            log.warning("order %s filled but no trade opened: %s", order.id, exc)
            return
        store.insert_trade(session, opened)
        notices.trade_opened(session, opened)

    @staticmethod
    def _strategy_risk(session: Session, order: Order) -> StrategySettings | None:
        """The strategy's trade defaults when it has any (then its entries open trades)."""
        if order.strategy_id is None:
            return None
        strategy = session.get(Strategy, order.strategy_id)
        if strategy is None:
            return None
        settings = StrategySettings.model_validate(strategy.settings or {})
        if not (settings.stop_loss or settings.target or settings.trailing_stop):
            return None
        return settings

    def open_from_order(self, order: Order, settings: StrategySettings) -> Trade:
        """A new trade for a (partly) filled entry order with the given risk settings."""
        side = TradeSide.of_entry(order.side)
        instrument = self.master.resolve(InstrumentKey(order.exchange, order.symbol))
        tick = instrument.tick_size if instrument else Decimal("0.05")
        entry = order.average_price
        stop, target = initial_levels(entry, side, settings.stop_loss, settings.target, tick)
        now = self._clock()
        trail = settings.trailing_stop
        return Trade(
            id=0, user_id=order.user_id, account_id=order.account_id,
            strategy_id=order.strategy_id, exchange=order.exchange, symbol=order.symbol,
            side=side, product=order.product.value, quantity=order.filled_quantity,
            entry_order_id=order.id, entry_price=entry, opened_at=now, updated_at=now,
            stop_loss=stop, target=target, trailing_stop=trail, best_price=entry,
            trailing_level=trailing_level_of(entry, trail, side) if trail else None,
            booked_strategy_id=order.strategy_id, booked_label=order.strategy_label)

    # --- exits --------------------------------------------------------------------------

    def _on_exit_order(self, session: Session, event: AppliedEvent) -> None:
        order = event.order
        trade_id = order.extra.get(TRADE_ID)
        if not isinstance(trade_id, int):
            return
        trade = store.trade_by_id(session, trade_id, for_update=True)
        if trade is None or (trade.status is TradeStatus.CLOSED and _fill_delta(event) == 0):
            return
        now = self._clock()
        if event.type is EventType.ORDER_CREATED:
            trade.status = TradeStatus.EXITING
            trade.exit_order_id = order.id
            reason = order.extra.get(EXIT_REASON)
            if trade.exit_reason is None and isinstance(reason, str):
                trade.exit_reason = ExitReason(reason)
        quantity = _fill_delta(event)
        if quantity:
            self._book_exit(session, trade, quantity, _value_delta(event), now,
                            _filled_at(event))
        trade.updated_at = now
        store.save_trade(session, trade)

    def _book_exit(self, session: Session, trade: Trade, quantity: int, value: Decimal,
                   now: datetime, filled_at: datetime | None = None) -> None:
        """Book an exit of ``quantity`` worth ``value``; its P&L belongs to the trading day of
        ``filled_at`` (the fill, when the broker said; a fill recorded after a restart is not
        today's), else of ``now``."""
        trade.before_realised_change(filled_at or now)
        trade.exited_quantity += quantity
        trade.exit_value += value
        _recompute(trade)
        if trade.open_quantity < 0:
            notices.system_alert(
                session, trade.user_id, "error",
                f"Trade {trade.id} {trade.key}: {-trade.open_quantity} more exited than the "
                "trade held; check the position at the broker")
        if trade.open_quantity <= 0 and trade.status is not TradeStatus.CLOSED:
            trade.status = TradeStatus.CLOSED
            trade.closed_at = now
            notices.trade_exited(session, trade)

    def _reduce_trades(self, session: Session, event: AppliedEvent) -> None:
        """A fill that closes what trades hold without being their exit (a webhook exit
        leg, an OpenAlgo close, an order placed at the broker's own app) reduces those
        trades, oldest first, so they are never exited a second time."""
        order = event.order
        external = order.origin is Origin.EXTERNAL
        held_by = store.open_trades_against(
            session, order.account_id, order.exchange, order.symbol,
            TradeSide.LONG if order.side is Side.SELL else TradeSide.SHORT,
            None if external else (order.strategy_id, order.strategy_label))
        quantity = _fill_delta(event)
        if not held_by or quantity <= 0:
            return
        price = _value_delta(event) / quantity
        now = self._clock()
        for trade in held_by:
            take = min(quantity, max(trade.open_quantity, 0))
            if take <= 0:
                continue
            trade.exit_reason = trade.exit_reason or (
                ExitReason.CLOSED_OUTSIDE if external else ExitReason.MANUAL_EXIT)
            self._book_exit(session, trade, take, price * take, now, _filled_at(event))
            trade.updated_at = now
            store.save_trade(session, trade)
            quantity -= take
            if quantity == 0:
                break


    def on_position_events(self, session: Session, events: Sequence[PositionEvent]) -> None:
        """Holdings-level changes made outside reduce the trades they take away from, oldest
        first (a manual sell the long trades, a manual buy the short ones) with reason
        ``closed_outside``, so no exit ever sells what is no longer there. There is no fill:
        the part is booked at the broker's last price of the instrument, else the last price
        our feed saw, else the entry price (no P&L)."""
        for event in events:
            try:
                with session.begin_nested():
                    self._reduce_for_position(session, event)
            except Exception:
                log.exception("trade bookkeeping for %s %s:%s failed", event.kind,
                              event.exchange, event.symbol)

    def _reduce_for_position(self, session: Session, event: PositionEvent) -> None:
        side = TradeSide.LONG if event.kind == MANUAL_SELL else TradeSide.SHORT
        held_by = store.open_trades_against(session, event.account_id, event.exchange,
                                            event.symbol, side, None)
        quantity = event.quantity
        last = event.price or self.prices(event.symbol)  # the broker's, else our feed's
        now = self._clock()
        for trade in held_by:
            take = min(quantity, max(trade.open_quantity, 0))
            if take <= 0:
                continue
            log.warning("trade %s %s: %d taken away by a %s outside Tradewarden", trade.id,
                        trade.key, take, event.kind)
            trade.exit_reason = trade.exit_reason or ExitReason.CLOSED_OUTSIDE
            self._book_exit(session, trade, take, (last or trade.entry_price) * take, now)
            trade.updated_at = now
            store.save_trade(session, trade)
            quantity -= take
            if quantity == 0:
                break


def _recompute(trade: Trade) -> None:
    trade.realised_pnl = (trade.exit_value - trade.entry_price * trade.exited_quantity
                          ) * trade.side.sign
    trade.exit_price = (trade.exit_value / trade.exited_quantity
                        if trade.exited_quantity else None)


def _filled_at(event: AppliedEvent) -> datetime | None:
    """When the event's last fill happened, if the broker said (its ``fills``)."""
    moments: list[datetime] = []
    for fill in event.payload.get("fills") or ():
        try:
            moment = datetime.fromisoformat(str(fill["filled_at"]))
        except (KeyError, TypeError, ValueError):
            continue
        if moment.tzinfo is not None:
            moments.append(moment)
    return max(moments) if moments else None


def _fill_delta(event: AppliedEvent) -> int:
    payload = event.payload
    if "filled_quantity" not in payload:
        return 0
    return int(payload["filled_quantity"]) - int(payload.get("previous_filled_quantity", 0))


def _value_delta(event: AppliedEvent) -> Decimal:
    payload = event.payload
    filled = int(payload["filled_quantity"])
    before = int(payload.get("previous_filled_quantity", 0))
    average = Decimal(str(payload.get("average_price", ZERO)))
    previous = Decimal(str(payload.get("previous_average_price", average)))
    return average * filled - previous * before
