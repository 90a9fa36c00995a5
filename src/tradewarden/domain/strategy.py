"""Strategy settings (BRIEF §3.5): sizing, limits, default trade risk, portfolio risk, windows.

Validated as one document; stored in ``strategies.settings``. Amounts are decimals; a "percent"
value is a percentage (2 = 2 %).
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrategyMode(StrEnum):
    LONG = "long"
    SHORT = "short"
    BOTH = "both"


class SizingMode(StrEnum):
    FIXED_QUANTITY = "fixed_quantity"
    FIXED_VALUE = "fixed_value"
    PERCENT_OF_ALLOCATION = "percent_of_allocation"


class LevelKind(StrEnum):
    POINTS = "points"
    PERCENT = "percent"


class AmountKind(StrEnum):
    AMOUNT = "amount"
    PERCENT = "percent"  # of the allocated funds


class Level(BaseModel):
    """A stop-loss / target / trailing distance from the entry (or best) price."""

    model_config = ConfigDict(extra="forbid")
    kind: LevelKind
    value: Decimal = Field(gt=0, le=Decimal("1e8"))

    @model_validator(mode="after")
    def _sane_percent(self) -> Level:
        if self.kind is LevelKind.PERCENT and self.value >= 100:
            raise ValueError("a percent level must be below 100")
        return self


class PortfolioLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: AmountKind
    value: Decimal = Field(gt=0)


class StrategySettings(BaseModel):
    """Everything configurable on a strategy besides its name, account and webhook secrets."""

    model_config = ConfigDict(extra="forbid")

    allocated_funds: Decimal | None = Field(default=None, ge=0)
    sizing: SizingMode = SizingMode.FIXED_QUANTITY
    sizing_value: Decimal | None = Field(default=None, gt=0)
    max_open_positions: int | None = Field(default=None, ge=1, le=1000)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    stop_loss: Level | None = None
    target: Level | None = None
    trailing_stop: Level | None = None
    portfolio_stop_loss: PortfolioLimit | None = None
    portfolio_target: PortfolioLimit | None = None
    portfolio_trailing_stop: PortfolioLimit | None = None
    window_start: time | None = None  # IST
    window_end: time | None = None  # IST
    square_off_time: time | None = time(15, 15)  # IST; None: no intraday square-off

    @model_validator(mode="after")
    def _consistent(self) -> StrategySettings:
        if self.sizing is not SizingMode.FIXED_QUANTITY and self.sizing_value is None:
            raise ValueError(f"sizing {self.sizing.value} needs sizing_value")
        if self.sizing is SizingMode.PERCENT_OF_ALLOCATION:
            if self.allocated_funds is None:
                raise ValueError("percent_of_allocation sizing needs allocated_funds")
            if self.sizing_value is not None and self.sizing_value > 100:
                raise ValueError("percent_of_allocation sizing_value must be at most 100")
        if self.sizing is SizingMode.FIXED_QUANTITY and self.sizing_value is not None and (
                self.sizing_value != self.sizing_value.to_integral_value()):
            raise ValueError("fixed_quantity sizing_value must be a whole number")
        percent_limits = [self.portfolio_stop_loss, self.portfolio_target,
                          self.portfolio_trailing_stop]
        if any(p is not None and p.kind is AmountKind.PERCENT for p in percent_limits) and (
                self.allocated_funds is None):
            raise ValueError("percent portfolio limits need allocated_funds")
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("window_start and window_end go together")
        if self.window_start and self.window_end and self.window_start >= self.window_end:
            raise ValueError("window_start must be before window_end")
        return self
