"""Value types of the tick trigger engine: what a trade's levels are, and what fired."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class ExitReason(StrEnum):
    """Why the engine asks for a trade's exit (same strings as the domain's exit reasons)."""

    STOP_LOSS = "stop_loss"
    TARGET = "target"
    TRAILING_STOP = "trailing_stop"


class TrailKind(StrEnum):
    """How a trailing distance is expressed: price points, or percent of the best price."""

    POINTS = "points"
    PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class TradeLevels:
    """The exit levels of one managed trade, in float prices.

    ``best`` is the best price since entry (the entry price for a new trade, the persisted value
    after a restart). ``trail`` is a distance in points, or a percentage (``1.5`` = 1.5 %) when
    ``trail_kind`` is ``PERCENT``. Raises ``ValueError`` for levels the engine cannot honour.
    """

    trade_id: int
    symbol: str
    long: bool
    stop: float | None
    target: float | None
    trail: float | None
    trail_kind: TrailKind | None
    best: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.best) and self.best > 0):
            raise ValueError(f"trade {self.trade_id}: best price must be positive and finite")
        for name in ("stop", "target"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"trade {self.trade_id}: {name} must be finite")
        if (self.trail is None) != (self.trail_kind is None):
            raise ValueError(f"trade {self.trade_id}: trail and trail_kind go together")
        if self.trail is not None:
            if not (math.isfinite(self.trail) and self.trail > 0):
                raise ValueError(f"trade {self.trade_id}: trail must be positive and finite")
            if self.trail_kind is TrailKind.PERCENT and self.trail >= 100:
                raise ValueError(f"trade {self.trade_id}: a percent trail must be below 100")


@dataclass(frozen=True, slots=True)
class Trigger:
    """One exit decision: ``level`` is the level that was crossed, ``price`` the tick's price."""

    trade_id: int
    reason: ExitReason
    level: float
    price: float

