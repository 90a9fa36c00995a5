"""Intraday square-off: MIS trades of a strategy are exited at its square-off time (IST)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from zoneinfo import ZoneInfo

from tradewarden.domain.orders import Product
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import Trade, TradeStatus

IST = ZoneInfo("Asia/Kolkata")
#: The equity session's close; square-off applies between a strategy's time and this.
MARKET_CLOSE = time(15, 30)


def due_for_square_off(trades: Iterable[Trade], strategies: Mapping[int, StrategySettings],
                       now: datetime) -> list[Trade]:
    """Active intraday (MIS) trades whose strategy's square-off time has come today.

    Only on weekdays between the square-off time and the close, so a service started in the
    evening (the paper broker's always-open clock) does not flatten the demo's trades.
    """
    local = now.astimezone(IST)
    if local.weekday() >= 5:
        return []
    clock = local.time()
    due = []
    for trade in trades:
        if trade.status is not TradeStatus.ACTIVE or trade.product != Product.MIS.value:
            continue
        settings = strategies.get(trade.strategy_id) if trade.strategy_id is not None else None
        cutoff = settings.square_off_time if settings is not None else None
        if cutoff is not None and cutoff <= clock < MARKET_CLOSE:
            due.append(trade)
    return due
