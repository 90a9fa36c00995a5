"""Per-strategy books of the trade manager: settings, portfolio P&L and limits.

A part of :class:`~tradewarden.engine.trades.manager.TradeManager` (a mixin), kept apart so
each module stays small; it uses the manager's trades, writer and exits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from tradewarden.clock import IST
from tradewarden.domain.money import ZERO
from tradewarden.domain.strategy import StrategySettings
from tradewarden.domain.trades import EXIT_REASON_TEXT, ExitReason, Trade, TradeStatus
from tradewarden.engine.ledger import AppliedEvent, Ledger
from tradewarden.engine.trades import notices
from tradewarden.engine.trades.portfolio import PortfolioLimits, Portfolios
from tradewarden.engine.trades.writer import StateWriter
from tradewarden.store import trades as store
from tradewarden.store.tables import Strategy

log = logging.getLogger(__name__)


def ist_day(moment: datetime) -> date:
    return moment.astimezone(IST).date()


def ist_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=IST).astimezone(UTC)


class StrategyBooks:
    """Strategy settings and portfolio limits for the trade manager."""

    ledger: Ledger
    writer: StateWriter
    portfolios: Portfolios
    trades: dict[int, Trade]
    _strategies: dict[int, StrategySettings]
    _day: date
    _clock: Callable[[], datetime]

    def read_with(self, query: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError

    def exit(self, trade: Trade, reason: ExitReason) -> bool:
        raise NotImplementedError

    def configure_strategy(self, strategy_id: int, settings: StrategySettings, *,
                           closed: Mapping[int, Decimal] | None = None, peak: Decimal = ZERO,
                           hit: ExitReason | None = None) -> None:
        """``closed``: the strategy's trades closed today, with their P&L."""
        self._strategies[strategy_id] = settings
        self.portfolios.configure(strategy_id, PortfolioLimits.of(settings), closed=closed,
                                  peak=peak, hit=hit)

    def strategy_pnl(self, strategy_id: int) -> Decimal | None:
        """Today's realised + unrealised P&L of a strategy the manager tracks."""
        return self.portfolios.pnl(strategy_id) if self.portfolios.knows(strategy_id) else None

    async def reload_strategy(self, strategy_id: int) -> None:
        """Pick up a new or changed strategy's settings (portfolio limits, square-off)."""
        def read(session: Session) -> tuple[StrategySettings | None, dict[int, Decimal]]:
            row = session.get(Strategy, strategy_id)
            if row is None or row.deleted_at is not None:
                return None, {}
            since = ist_midnight(self._day)
            closed = store.closed_realised_on(session, self._day, since, [strategy_id])
            return (StrategySettings.model_validate(row.settings or {}),
                    closed.get(strategy_id, {}))

        settings, closed = await self.ledger.db.run(self.read_with, read)
        if settings is None:
            self._strategies.pop(strategy_id, None)
            return
        self.configure_strategy(strategy_id, settings, closed=closed)
        self._rebuild_portfolio(strategy_id)

    def _check_portfolio(self, strategy_id: int | None) -> None:
        """Check limits after realised P&L changed (not only on ticks)."""
        if strategy_id is None or not self.portfolios.knows(strategy_id):
            return
        reason = self.portfolios.check(strategy_id)
        if reason is not None:
            self._portfolio_hit(strategy_id, reason, self.portfolios.pnl(strategy_id))

    def _rebuild_portfolio(self, strategy_id: int | None) -> None:
        if strategy_id is None or not self.portfolios.knows(strategy_id):
            return
        self.portfolios.rebuild(strategy_id, [t for t in self.trades.values()
                                              if t.strategy_id == strategy_id])

    async def _reload_realised(self, strategy_id: int) -> None:
        since = ist_midnight(self._day)
        closed = await self.ledger.db.run(self.read_with, store.closed_realised_on, self._day,
                                          since, [strategy_id])
        if self.portfolios.knows(strategy_id):
            self.portfolios.set_closed(strategy_id, closed.get(strategy_id, {}))
            self._rebuild_portfolio(strategy_id)

    def _portfolio_hit(self, strategy_id: int, reason: ExitReason, pnl: Decimal) -> None:
        victims = [t for t in self.trades.values()
                   if t.strategy_id == strategy_id and t.status is TradeStatus.ACTIVE]
        text = (f"Strategy {strategy_id}: {EXIT_REASON_TEXT[reason]} at P&L {pnl:.2f}; "
                f"exiting {len(victims)} trade(s), new entries blocked for today")
        log.warning("%s", text)
        user = victims[0].user_id if victims else None
        day, peak, now = self._day, self.portfolios.peak(strategy_id), self._clock()
        threshold = self.portfolios.threshold(strategy_id, reason)

        def record(session: Session) -> list[AppliedEvent]:
            store.record_portfolio_state(session, strategy_id, day, peak, reason, now)
            owner = user if user is not None else _owner(session, strategy_id)
            if owner is not None:
                notices.portfolio_hit(session, owner, strategy_id, reason, pnl, threshold,
                                      len(victims), day.isoformat())
            return []

        self.writer.submit(record, urgent=True)
        for trade in victims:
            self.exit(trade, reason)


def _owner(session: Session, strategy_id: int) -> int | None:
    row = session.get(Strategy, strategy_id)
    return row.user_id if row is not None else None
