"""Exit orders after they are sent, for the trade manager (a mixin, like ``books.py``).

- An exit order still working after ``exit_stuck_alert_s`` raises an alert (once per order): a
  MARKET exit stuck at a circuit limit, or one never sent.
- An exit working for more than its trade still holds (the trade was reduced meanwhile by a
  change made outside) is cancelled; the exit then goes out again for what is left.
- An exit that ended without getting the trade out is retried by the manager alone, after
  ``exit_retry_s`` delays, with alerts at the first attempt and when it drags on.
- An exit cancels the entry's unfilled rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradewarden.domain.orders import CancelledBy, Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.domain.trades import ExitReason, Trade, TradeStatus
from tradewarden.engine.actions import OrderActions
from tradewarden.engine.ledger import Ledger
from tradewarden.store.order_mapping import load_order

if TYPE_CHECKING:
    from tradewarden.engine.trades.manager import TradeSettings

log = logging.getLogger(__name__)


class ExitCare:
    """Watching and retrying exits for the trade manager; see the module docstring."""

    ledger: Ledger
    actions: OrderActions
    settings: TradeSettings
    trades: dict[int, Trade]
    _clock: Callable[[], datetime]
    _exiting: dict[int, asyncio.Task[None]]
    _exit_started: set[int]
    _retry_due: dict[int, tuple[float, ExitReason]]
    _exit_attempts: dict[int, int]
    _failed_exits: dict[int, str]
    _stuck_alerted: set[str]
    _oversized: set[str]

    def alert(self, user_id: int | None, severity: str, text: str) -> None:
        raise NotImplementedError

    def read_with(self, query: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        raise NotImplementedError

    def _dispatch_exit(self, trade: Trade, reason: ExitReason) -> None:
        raise NotImplementedError

    def _cancel_oversized_exits(self, trades: list[Trade], live_exits: dict[int, Order]) -> None:
        """An exit working for more than its trade still holds (reduced meanwhile by a change
        made outside) is cancelled; the exit then goes out again for what is left."""
        by_id = {trade.id: trade for trade in trades}
        for trade_id, order in live_exits.items():
            trade = by_id.get(trade_id)
            working = order.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
            if (trade is None or not working or order.id in self._oversized
                    or order.quantity - order.filled_quantity <= trade.open_quantity):
                continue
            self._oversized.add(order.id)
            log.warning("trade %s %s: exit order %s works for %d but the trade holds %d; "
                        "cancelled to exit again", trade.id, trade.key, order.id,
                        order.quantity - order.filled_quantity, trade.open_quantity)
            self._spawn(self._cancel_if_working(trade, order.id))

    def _watch_exit_orders(self, live_exits: dict[int, Order]) -> None:
        """Alert (once per order) on an exit order that has not completed for a while: a
        MARKET exit stuck at a circuit limit, or one never sent."""
        now = self._clock()
        for trade_id, order in live_exits.items():
            age = (now - order.created_at).total_seconds()
            if age < self.settings.exit_stuck_alert_s or order.id in self._stuck_alerted:
                continue
            self._stuck_alerted.add(order.id)
            trade = self.trades.get(trade_id)
            self.alert(trade.user_id if trade else order.user_id, "error",
                       f"Trade {trade_id} {order.exchange}:{order.symbol}: exit order "
                       f"{order.id} is still {order.status.value} after {age:.0f} s")

    async def _cancel_entry_rest(self, trade: Trade) -> None:
        """An exit while the entry order still works: cancel the entry's unfilled rest."""
        await self._cancel_if_working(trade, trade.entry_order_id)

    async def _cancel_if_working(self, trade: Trade, order_id: str) -> None:
        try:
            order = await self.ledger.db.run(self.read_with, load_order, order_id)
            if order is not None and order.status in (OrderStatus.OPEN,
                                                      OrderStatus.PARTIALLY_FILLED):
                await self.actions.cancel(order, by=CancelledBy.SYSTEM)
        except Exception as exc:
            log.warning("trade %s: order %s not cancelled: %s", trade.id, order_id, exc)

    def _exit_failed(self, trade: Trade, order_id: str, reason: ExitReason, why: str) -> None:
        """An exit order ended without getting the trade out: retry (once per order)."""
        if self._failed_exits.get(trade.id) == order_id:
            return  # already handled (seen both in the answer and on the bus)
        self._failed_exits[trade.id] = order_id
        self._schedule_retry(trade, reason, why)

    def _schedule_retry(self, trade: Trade, reason: ExitReason, why: str) -> None:
        attempts = self._exit_attempts.get(trade.id, 0)
        delays = self.settings.exit_retry_s
        delay = delays[min(attempts, len(delays) - 1)]
        self._exit_attempts[trade.id] = attempts + 1
        self._retry_due[trade.id] = (time.monotonic() + delay, reason)
        self._exit_started.add(trade.id)
        trade.status = TradeStatus.EXITING
        text = (f"Trade {trade.id} {trade.key}: {why}; retrying the exit of "
                f"{trade.open_quantity} in {delay:g} s (attempt {attempts + 1})")
        log.warning("%s", text)
        if attempts in (0, len(delays) - 1):  # escalate once at first and once when it drags
            self.alert(trade.user_id, "error" if attempts else "warning", text)

    def _retry_due_exits(self) -> None:
        now = time.monotonic()
        for trade_id, (due, reason) in list(self._retry_due.items()):
            trade = self.trades.get(trade_id)
            if trade is None:
                self._retry_due.pop(trade_id, None)
            elif due <= now and trade_id not in self._exiting:
                self._dispatch_exit(trade, reason)  # takes it off the due list
