"""What a strategy's settings imply for one sample price (seed 003 requirement 7.6). Pure.

- position size per the sizing mode (fixed quantity / fixed value / percent of allocation),
  computed by the engine's own ``domain.sizing``;
- loss at stop per trade: quantity x distance to the first stop that would trigger (the
  stop-loss, or the trailing stop, which starts at entry - trail);
- worst-case portfolio loss: max open positions x loss at stop, capped by the portfolio stop-loss
  when one is set (a portfolio stop alone bounds it too; with neither it is unbounded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradewarden.domain.sizing import SizingError, size_quantity
from tradewarden.domain.strategy import (
    AmountKind,
    Level,
    LevelKind,
    PortfolioLimit,
    SizingMode,
    StrategySettings,
)

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RiskPreview:
    sample_price: Decimal
    quantity: int | None  # None: each alert brings its own quantity
    position_value: Decimal | None
    loss_at_stop: Decimal | None  # per trade; None without a stop (or without a quantity)
    gain_at_target: Decimal | None
    max_open_positions: int | None
    uncapped_loss: Decimal | None  # max open positions x loss at stop
    portfolio_stop: Decimal | None  # the portfolio stop-loss as an amount
    worst_case_loss: Decimal | None  # None: unbounded
    capped_by_portfolio_stop: bool
    warnings: list[str] = field(default_factory=list)


def position_size(settings: StrategySettings, price: Decimal) -> int | None:
    """Quantity for an entry at ``price`` per the engine's own sizing (None: fixed-quantity
    sizing without a default, so each alert brings one; 0: the sizing buys nothing)."""
    try:
        return size_quantity(settings, price=price)
    except SizingError:
        return None if settings.sizing is SizingMode.FIXED_QUANTITY else 0


def level_distance(level: Level | None, price: Decimal) -> Decimal | None:
    """A stop/target/trail as a price distance from ``price``."""
    if level is None:
        return None
    if level.kind is LevelKind.POINTS:
        return level.value
    return price * level.value / HUNDRED


def limit_amount(limit: PortfolioLimit | None, allocated: Decimal | None) -> Decimal | None:
    """A portfolio limit in rupees (percent limits are of the allocated funds)."""
    if limit is None:
        return None
    if limit.kind is AmountKind.AMOUNT:
        return limit.value
    return (allocated or Decimal(0)) * limit.value / HUNDRED


def risk_preview(settings: StrategySettings, sample_price: Decimal) -> RiskPreview:
    quantity = position_size(settings, sample_price)
    stops = [d for d in (level_distance(settings.stop_loss, sample_price),
                         level_distance(settings.trailing_stop, sample_price)) if d is not None]
    stop_distance = min(stops) if stops else None
    target_distance = level_distance(settings.target, sample_price)
    value = sample_price * quantity if quantity is not None else None
    loss = stop_distance * quantity if quantity is not None and stop_distance is not None else None
    gain = (target_distance * quantity
            if quantity is not None and target_distance is not None else None)
    positions = settings.max_open_positions
    uncapped = loss * positions if loss is not None and positions is not None else None
    portfolio_stop = limit_amount(settings.portfolio_stop_loss, settings.allocated_funds)
    worst, capped = uncapped, False
    if portfolio_stop is not None and (worst is None or portfolio_stop < worst):
        worst, capped = portfolio_stop, True
    return RiskPreview(
        sample_price=sample_price, quantity=quantity, position_value=value, loss_at_stop=loss,
        gain_at_target=gain, max_open_positions=positions, uncapped_loss=uncapped,
        portfolio_stop=portfolio_stop, worst_case_loss=worst, capped_by_portfolio_stop=capped,
        warnings=_warnings(settings, quantity, value, loss, sample_price))


def _warnings(settings: StrategySettings, quantity: int | None, value: Decimal | None,
              loss: Decimal | None, price: Decimal) -> list[str]:
    found: list[str] = []
    allocated = settings.allocated_funds
    if quantity == 0:
        found.append(f"At ₹{price} the sizing buys nothing: the quantity rounds down to 0.")
    if settings.stop_loss is None and settings.trailing_stop is None and (
            settings.portfolio_stop_loss is None):
        found.append("No stop-loss, trailing stop or portfolio stop-loss: losses are not "
                     "limited.")
    if allocated is not None and value is not None and value > allocated:
        found.append("One position needs more than the allocated funds.")
    elif (allocated is not None and value is not None and settings.max_open_positions
          and value * settings.max_open_positions > allocated):
        found.append(f"{settings.max_open_positions} open positions need "
                     f"₹{value * settings.max_open_positions:.2f}, more than the allocation.")
    if loss is not None and settings.daily_loss_limit is not None and (
            loss > settings.daily_loss_limit):
        found.append("A single stop-out loses more than the daily loss limit.")
    return found
