"""Live ``trade`` and ``tick`` messages (``WS /api/v1/ws``) from the trade manager.

The manager calls ``TradeFeed.changed`` when a trade opens, changes (levels, exiting) or closes,
and ``TradeFeed.ticked`` with the symbol of every price it receives (its ``on_change`` and
``on_tick`` hooks). A change is published at once, in the trades API's shape. Ticks are the
hot path, so ``ticked`` only notes the symbol; at most every ``interval_s`` the noted symbols
are published — one ``tick`` message per symbol and user with the last price and each of the
user's trades in it (unrealised P&L, best price, trailing level) — keyed by symbol, so a slow
connection holds only the newest one.

Runs on the event loop's thread, like the manager.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from tradewarden.api.trades import trade_json
from tradewarden.domain.trades import Trade, TradeStatus
from tradewarden.engine.trades.operations import TradeOperations
from tradewarden.web.live import LiveHub

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
TICK_INTERVAL_S = 0.25


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


class TradeFeed:
    """Publishes trade changes and throttled, per-symbol ticks to the live hub."""

    def __init__(self, ops: TradeOperations, hub: LiveHub,
                 interval_s: float = TICK_INTERVAL_S) -> None:
        self.ops = ops
        self.hub = hub
        self.interval_s = interval_s
        self._pending: set[str] = set()
        self._flush_at: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self) -> None:
        """Hook into the trade manager (call from the event loop)."""
        self._loop = asyncio.get_running_loop()
        manager = self.ops.manager
        manager.on_change = self.changed
        manager.on_tick = self.ticked

    def detach(self) -> None:
        manager = self.ops.manager
        manager.on_change = None
        manager.on_tick = None
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None

    def changed(self, trade: Trade) -> None:
        if not self.hub.has_clients(trade.user_id):
            return
        try:
            view = self.ops.view(trade) if trade.status is not TradeStatus.CLOSED else None
            self.hub.publish(trade.user_id, "trade", trade_json(trade, view), key=trade.id)
        except Exception:  # the live view must never disturb the manager
            log.exception("live trade message for trade %s failed", trade.id)

    def ticked(self, symbol: str) -> None:
        if symbol in self._pending:
            return
        self._pending.add(symbol)
        if self._flush_at is None and self._loop is not None:
            self._flush_at = self._loop.call_later(self.interval_s, self.flush)

    def flush(self) -> None:
        """Publish the symbols noted since the last flush."""
        symbols, self._pending, self._flush_at = self._pending, set(), None
        if not symbols or not self.hub.connections():
            return
        try:
            self._publish(symbols)
        except Exception:
            log.exception("live tick messages failed")

    def _publish(self, symbols: set[str]) -> None:
        manager = self.ops.manager
        found: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for trade in list(manager.trades.values()):
            if trade.key not in symbols or not self.hub.has_clients(trade.user_id):
                continue
            view = self.ops.view(trade)
            found.setdefault((trade.user_id, trade.key), []).append({
                "trade_id": trade.id, "status": trade.status.value,
                "unrealised_pnl": _money(view.unrealised_pnl),
                "best_price": _money(view.best_price),
                "trailing_level": _money(view.trailing_level)})
        for (user_id, symbol), trades in found.items():
            self.hub.publish(user_id, "tick", {
                "symbol": symbol, "ltp": _money(manager.last_price(symbol)), "trades": trades},
                key=symbol)
