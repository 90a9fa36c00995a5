"""Portfolio risk per strategy (BRIEF §3.5, seed 003 requirement 3), in memory.

A strategy's P&L is its realised P&L today plus the unrealised P&L of its open trades. Per
strategy and symbol we keep the signed open quantity and the signed entry cost, so a tick in
one symbol updates only the strategies holding it: unrealised = sum(quantity * LTP - cost).
Realised today is what the strategy's trades realised by exits made today (``Trade.realised_on``):
trades closed today, counted once each, and partial exits of trades still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from tradewarden.domain.money import ZERO
from tradewarden.domain.strategy import AmountKind, PortfolioLimit, StrategySettings
from tradewarden.domain.trades import ExitReason, Trade

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class PortfolioLimits:
    """A strategy's portfolio limits as amounts (percentages resolved against allocation)."""

    stop_loss: Decimal | None = None
    target: Decimal | None = None
    trailing: Decimal | None = None

    @classmethod
    def of(cls, settings: StrategySettings) -> PortfolioLimits:
        def amount(limit: PortfolioLimit | None) -> Decimal | None:
            if limit is None:
                return None
            if limit.kind is AmountKind.AMOUNT:
                return limit.value
            return (settings.allocated_funds or ZERO) * limit.value / HUNDRED

        return cls(amount(settings.portfolio_stop_loss), amount(settings.portfolio_target),
                   amount(settings.portfolio_trailing_stop))

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.stop_loss, self.target, self.trailing))


@dataclass(slots=True)
class _Book:
    limits: PortfolioLimits
    closed: dict[int, Decimal] = field(default_factory=dict)  # trade → P&L, closed today
    peak: Decimal = ZERO
    quantity: dict[str, int] = field(default_factory=dict)  # symbol → signed open quantity
    cost: dict[str, Decimal] = field(default_factory=dict)  # symbol → signed entry cost
    hit: ExitReason | None = None
    open_realised: Decimal = ZERO  # today's partial exits of open trades


class Portfolios:
    """Per-strategy P&L and limit checks."""

    def __init__(self) -> None:
        self._books: dict[int, _Book] = {}
        self._holders: dict[str, set[int]] = {}  # symbol → strategies with open quantity
        self._prices: dict[str, Decimal] = {}
        #: the trading day (IST) whose realised P&L counts
        self.day: date | None = None

    def configure(self, strategy_id: int, limits: PortfolioLimits, *,
                  closed: Mapping[int, Decimal] | None = None, peak: Decimal = ZERO,
                  hit: ExitReason | None = None) -> None:
        """Set a strategy's limits; ``closed``: its trades closed today with their P&L."""
        book = self._books.get(strategy_id)
        if book is None:
            self._books[strategy_id] = _Book(limits, dict(closed or {}), peak, hit=hit)
        else:
            book.limits = limits
            book.closed, book.peak = dict(closed or {}), max(book.peak, peak)
            book.hit = book.hit or hit

    def knows(self, strategy_id: int) -> bool:
        return strategy_id in self._books

    def rebuild(self, strategy_id: int, trades: list[Trade]) -> None:
        """Reset the strategy's open positions from its open trades."""
        book = self._books[strategy_id]
        for symbol in book.quantity:
            self._holders.get(symbol, set()).discard(strategy_id)
        book.quantity.clear()
        book.cost.clear()
        trades = [t for t in trades if t.id not in book.closed]  # closed, as far as we know
        book.open_realised = sum((t.realised_on(self.day) for t in trades if self.day), ZERO)
        for trade in trades:
            quantity = trade.open_quantity * trade.side.sign
            if quantity == 0:
                continue
            book.quantity[trade.key] = book.quantity.get(trade.key, 0) + quantity
            book.cost[trade.key] = book.cost.get(trade.key, ZERO) + trade.entry_price * quantity
            self._holders.setdefault(trade.key, set()).add(strategy_id)

    def close_trade(self, strategy_id: int, trade_id: int, realised: Decimal) -> None:
        """Count a trade closed today with its P&L (idempotent: a trade counts once)."""
        self._books[strategy_id].closed[trade_id] = realised

    def reopen(self, strategy_id: int, trade_id: int) -> None:
        """A trade counted as closed is open again (late fills of its entry)."""
        self._books[strategy_id].closed.pop(trade_id, None)

    def set_closed(self, strategy_id: int, closed: Mapping[int, Decimal]) -> None:
        """The strategy's trades closed today as the database has them; rebuild after it.
        Trades closed here stay counted (their close may not be committed yet)."""
        self._books[strategy_id].closed.update(closed)

    def pnl(self, strategy_id: int) -> Decimal:
        book = self._books[strategy_id]
        unrealised = ZERO
        for symbol, quantity in book.quantity.items():
            price = self._prices.get(symbol)
            if price is not None:
                unrealised += quantity * price - book.cost[symbol]
        return sum(book.closed.values(), ZERO) + book.open_realised + unrealised

    def peak(self, strategy_id: int) -> Decimal:
        return self._books[strategy_id].peak

    def on_price(self, symbol: str, price: Decimal) -> list[tuple[int, ExitReason, Decimal]]:
        """Record ``price``; return ``(strategy, reason, pnl)`` for limits hit just now."""
        self._prices[symbol] = price
        hits: list[tuple[int, ExitReason, Decimal]] = []
        for strategy_id in self._holders.get(symbol, ()):
            reason = self.check(strategy_id)
            if reason is not None:
                hits.append((strategy_id, reason, self.pnl(strategy_id)))
        return hits

    def check(self, strategy_id: int) -> ExitReason | None:
        """The limit the strategy's P&L hits now (each strategy hits at most once a day)."""
        book = self._books[strategy_id]
        if book.hit is not None or not book.limits.any:
            return None
        pnl = self.pnl(strategy_id)
        book.peak = max(book.peak, pnl)
        limits = book.limits
        reason: ExitReason | None = None
        if limits.stop_loss is not None and pnl <= -limits.stop_loss:
            reason = ExitReason.PORTFOLIO_STOP_LOSS
        elif limits.target is not None and pnl >= limits.target:
            reason = ExitReason.PORTFOLIO_TARGET
        elif (limits.trailing is not None and book.peak > 0
              and pnl <= book.peak - limits.trailing):
            reason = ExitReason.PORTFOLIO_TRAILING_STOP
        book.hit = reason
        return reason

    def threshold(self, strategy_id: int, reason: ExitReason) -> Decimal | None:
        """The amount of the limit behind ``reason`` (for messages)."""
        limits = self._books[strategy_id].limits
        return {ExitReason.PORTFOLIO_STOP_LOSS: limits.stop_loss,
                ExitReason.PORTFOLIO_TARGET: limits.target,
                ExitReason.PORTFOLIO_TRAILING_STOP: limits.trailing}.get(reason)

    def is_hit(self, strategy_id: int) -> bool:
        book = self._books.get(strategy_id)
        return book is not None and book.hit is not None

    def new_day(self, day: date) -> None:
        """Forget the previous day's realised P&L (also open trades' partial exits), peaks
        and hits."""
        self.day = day
        for book in self._books.values():
            book.closed.clear()
            book.peak, book.hit = ZERO, None
            book.open_realised = ZERO
