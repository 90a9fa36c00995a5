"""Intraday square-off: MIS trades of a strategy are exited at its square-off time (IST)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time

from tradewarden.clock import IST
from tradewarden.domain.orders import Product
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import Trade, TradeStatus

#: The equity session's close; square-off applies between a strategy's time and this.
MARKET_CLOSE = time(15, 30)


def due_for_square_off(trades: Iterable[Trade], strategies: Mapping[int, StrategySettings],
                       now: datetime,
                       hours: Callable[[date], tuple[datetime, datetime] | None] | None = None,
                       ) -> list[Trade]:
    """Active intraday (MIS) trades whose strategy's square-off time has come today.

    Only on trading days (``hours`` gives the day's session, from the market calendar; without
    it, weekdays 09:15-15:30) between the square-off time and the session's close, so a
    service started in the evening (the paper broker's always-open clock) or on a holiday does
    not flatten trades.
    """
    local = now.astimezone(IST)
    if hours is not None:
        session = hours(local.date())
        if session is None:
            return []
        close = session[1].astimezone(IST).time()
    elif local.weekday() >= 5:
        return []
    else:
        close = MARKET_CLOSE
    clock = local.time()
    due = []
    for trade in trades:
        if trade.status is not TradeStatus.ACTIVE or trade.product != Product.MIS.value:
            continue
        settings = strategies.get(trade.strategy_id) if trade.strategy_id is not None else None
        cutoff = settings.square_off_time if settings is not None else None
        if cutoff is not None and cutoff <= clock < close:
            due.append(trade)
    return due
