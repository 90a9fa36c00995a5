"""Position sizing (BRIEF §3.5, seed 003 requirement 4): fixed quantity, fixed value, or a
percent of the strategy's allocation that is not in use, rounded down to whole lots."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from tradewarden.domain.money import ZERO
from tradewarden.domain.strategy import SizingMode, StrategySettings

HUNDRED = Decimal(100)
#: ``Order.extra`` key of an entry that could not be sized: it is recorded and denied with
#: this text, so the trader sees why.
SIZING_DENIAL = "sizing_denial"


class SizingError(ValueError):
    """The entry cannot be sized (no price, or the money does not buy one lot)."""


def needs_price(settings: StrategySettings) -> bool:
    return settings.sizing is not SizingMode.FIXED_QUANTITY


def size_quantity(settings: StrategySettings, *, price: Decimal | None, lot_size: int = 1,
                  funds_in_use: Decimal = ZERO) -> int:
    """The entry quantity the strategy's sizing gives at ``price``."""
    if settings.sizing is SizingMode.FIXED_QUANTITY:
        if settings.sizing_value is None:
            raise SizingError("the strategy has no fixed quantity; send a quantity")
        return int(settings.sizing_value)
    if price is None or price <= 0:
        raise SizingError("no price to size the entry with")
    assert settings.sizing_value is not None  # the settings validator guarantees it
    if settings.sizing is SizingMode.FIXED_VALUE:
        money = settings.sizing_value
    else:
        available = max(ZERO, (settings.allocated_funds or ZERO) - funds_in_use)
        money = available * settings.sizing_value / HUNDRED
    lots = (money / (price * lot_size)).to_integral_value(rounding=ROUND_FLOOR)
    if lots < 1:
        raise SizingError(f"{money:.2f} buys less than one lot ({lot_size}) at {price}")
    return int(lots) * lot_size
