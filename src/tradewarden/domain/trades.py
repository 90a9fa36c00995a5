"""Managed trades (BRIEF §3.5): a position opened by a filled entry order, guarded by a
stop-loss, a target and a trailing stop, and closed by exit orders.

Pure: no I/O. Prices are ``Decimal``; the tick engine works on floats and reports back here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from tradewarden.clock import IST
from tradewarden.domain.money import ZERO, round_to_step
from tradewarden.domain.orders import Side
from tradewarden.domain.strategy import Level, LevelKind

HUNDRED = Decimal(100)


class TradeSide(StrEnum):
    LONG = "long"
    SHORT = "short"

    @classmethod
    def of_entry(cls, side: Side) -> TradeSide:
        return cls.LONG if side is Side.BUY else cls.SHORT

    @property
    def exit_side(self) -> Side:
        return Side.SELL if self is TradeSide.LONG else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is TradeSide.LONG else -1


class TradeStatus(StrEnum):
    ACTIVE = "active"
    EXITING = "exiting"
    CLOSED = "closed"


class ExitReason(StrEnum):
    STOP_LOSS = "stop_loss"
    TARGET = "target"
    TRAILING_STOP = "trailing_stop"
    PORTFOLIO_STOP_LOSS = "portfolio_stop_loss"
    PORTFOLIO_TARGET = "portfolio_target"
    PORTFOLIO_TRAILING_STOP = "portfolio_trailing_stop"
    MANUAL_EXIT = "manual_exit"
    SQUARE_OFF = "square_off"
    CLOSED_OUTSIDE = "closed_outside"


EXIT_REASON_TEXT: dict[ExitReason, str] = {
    ExitReason.STOP_LOSS: "stop-loss hit",
    ExitReason.TARGET: "target reached",
    ExitReason.TRAILING_STOP: "trailing stop hit",
    ExitReason.PORTFOLIO_STOP_LOSS: "the strategy's portfolio stop-loss was hit",
    ExitReason.PORTFOLIO_TARGET: "the strategy's portfolio target was reached",
    ExitReason.PORTFOLIO_TRAILING_STOP: "the strategy's portfolio trailing stop was hit",
    ExitReason.MANUAL_EXIT: "exited on request",
    ExitReason.SQUARE_OFF: "intraday square-off",
    ExitReason.CLOSED_OUTSIDE: "the position was closed outside Tradewarden",
}


class TradeError(ValueError):
    """A trade request that cannot be honoured (bad levels, wrong state)."""


@dataclass(slots=True)
class Trade:
    """One managed trade. ``quantity`` is the filled entry quantity; ``exited_quantity`` what
    exit orders have filled so far."""

    id: int
    user_id: int
    account_id: int
    strategy_id: int | None
    exchange: str
    symbol: str
    side: TradeSide
    product: str
    quantity: int
    entry_order_id: str
    entry_price: Decimal
    opened_at: datetime
    updated_at: datetime
    stop_loss: Decimal | None = None
    target: Decimal | None = None
    trailing_stop: Level | None = None
    best_price: Decimal | None = None
    trailing_level: Decimal | None = None
    status: TradeStatus = TradeStatus.ACTIVE
    exit_reason: ExitReason | None = None
    exit_order_id: str | None = None
    exited_quantity: int = 0
    exit_value: Decimal = ZERO  # sum of exit fill price * quantity
    exit_price: Decimal | None = None
    realised_pnl: Decimal = ZERO
    closed_at: datetime | None = None
    version: int = 1
    booked_strategy_id: int | None = None  # where the entry's orders are booked (see exits)
    booked_label: str | None = None
    #: the realised P&L it had before its first exit of ``day_base_date`` (IST trading day)
    day_base_pnl: Decimal | None = None
    day_base_date: date | None = None

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    @property
    def open_quantity(self) -> int:
        return self.quantity - self.exited_quantity

    def unrealised_pnl(self, last_price: Decimal | None) -> Decimal:
        if last_price is None:
            return ZERO
        return (last_price - self.entry_price) * self.open_quantity * self.side.sign

    def pnl_of_exit(self, quantity: int, price: Decimal) -> Decimal:
        return (price - self.entry_price) * quantity * self.side.sign

    def realised_on(self, day: date) -> Decimal:
        """What the trade realised on trading day ``day`` (its exits of that day)."""
        if self.day_base_date != day:
            return ZERO
        return self.realised_pnl - (self.day_base_pnl or ZERO)

    def before_realised_change(self, moment: datetime) -> None:
        """Call before booking an exit at ``moment``: the first one of a trading day keeps
        what was realised before it, so :meth:`realised_on` tells that day's part."""
        day = moment.astimezone(IST).date()
        if self.day_base_date != day:
            self.day_base_pnl, self.day_base_date = self.realised_pnl, day


def level_price(entry: Decimal, level: Level, *, side: TradeSide, above: bool,
                tick: Decimal) -> Decimal:
    """The price ``level`` away from ``entry``, above or below it, on the tick grid (rounded
    away from the entry so a level is never tighter than asked)."""
    distance = level.value if level.kind is LevelKind.POINTS else entry * level.value / HUNDRED
    price = entry + distance if above else entry - distance
    return round_to_step(price, tick, "up" if above else "down")


def initial_levels(entry: Decimal, side: TradeSide, stop_loss: Level | None,
                   target: Level | None, tick: Decimal) -> tuple[Decimal | None, Decimal | None]:
    """Stop-loss and target prices for a new trade from its risk settings."""
    long = side is TradeSide.LONG
    stop = None if stop_loss is None else level_price(entry, stop_loss, side=side,
                                                       above=not long, tick=tick)
    goal = None if target is None else level_price(entry, target, side=side, above=long,
                                                   tick=tick)
    if stop is not None and stop <= 0:
        raise TradeError("the stop-loss would be at or below zero")
    if goal is not None and goal <= 0:
        raise TradeError("the target would be at or below zero")
    return stop, goal


def trailing_level_of(best: Decimal, trail: Level, side: TradeSide) -> Decimal:
    """The trailing stop's level for the best price so far."""
    distance = trail.value if trail.kind is LevelKind.POINTS else best * trail.value / HUNDRED
    return best - distance if side is TradeSide.LONG else best + distance


@dataclass(frozen=True, slots=True)
class Loosening:
    """A protective level an edit moves away from safety: ``level`` is ``stop_loss`` or
    ``trailing_level``; ``after`` is ``None`` when the edit removes it."""

    level: str
    before: Decimal
    after: Decimal | None

    def describe(self) -> str:
        name = "stop-loss" if self.level == "stop_loss" else "trailing level"
        after = "none" if self.after is None else f"{self.after:.2f}"
        return f"{name} {self.before:.2f} \u2192 {after}"


def loosening(side: TradeSide, level: str, before: Decimal | None,
              after: Decimal | None) -> Loosening | None:
    """The loosening of one protective level (lower for a long, higher for a short, or
    removed), or ``None`` when the edit keeps or tightens it. Compared to 6 decimal places
    (a trailing level comes from float ticks)."""
    if before is None:
        return None
    places = Decimal("0.000001")
    if after is not None and (after.quantize(places) - before.quantize(places)) * side.sign >= 0:
        return None
    return Loosening(level, before, after)


def loosening_refused(side: TradeSide, found: Loosening) -> TradeError:
    """The refusal of an edit that loosens ``found`` without ``allow_loosen``."""
    name = "stop_loss" if found.level == "stop_loss" else "the trailing stop's level"
    way = "lower" if side is TradeSide.LONG else "higher"
    change = "removing it" if found.after is None else f"{way} {found.after:.2f}"
    return TradeError(f"{name} is {found.before:.2f} and only tightens ({change} would loosen "
                      f"it); send allow_loosen: true to loosen it on purpose")


def check_levels(side: TradeSide, last_price: Decimal | None, stop_loss: Decimal | None,
                 target: Decimal | None) -> None:
    """Refuse levels that would fire at once or make no sense for the side."""
    for name, value in (("stop_loss", stop_loss), ("target", target)):
        if value is not None and value <= 0:
            raise TradeError(f"{name} must be above zero")
    if stop_loss is not None and target is not None:
        if side is TradeSide.LONG and stop_loss >= target:
            raise TradeError("a long trade needs stop_loss below target")
        if side is TradeSide.SHORT and stop_loss <= target:
            raise TradeError("a short trade needs stop_loss above target")
    if last_price is None:
        return
    below, above = ("stop_loss", "target") if side is TradeSide.LONG else ("target", "stop_loss")
    low = stop_loss if side is TradeSide.LONG else target
    high = target if side is TradeSide.LONG else stop_loss
    if low is not None and low >= last_price:
        raise TradeError(f"{below} {low} must be below the last price {last_price}")
    if high is not None and high <= last_price:
        raise TradeError(f"{above} {high} must be above the last price {last_price}")
