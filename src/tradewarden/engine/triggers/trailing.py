"""Registered trades and trailing groups, in a side book's price space.

Every price here is in *book space*: the price itself for long trades, its negation for short
trades, so that "favourable" is always "up" and every exit level below the price is a stop.

Trades of one book whose best prices have met share a :class:`TrailGroup` and its best price
``best``: a new extreme raises the best of every group below it by merging them into one, so a
rising market costs one heap operation per tick, not one per trade. Inside a group the trade
with the smallest trailing distance fires first, so each group keeps its members in two heaps
(points distances and percentages) and exposes one trigger ``level``.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush

SLACK = 8
"""A group's member heaps are rebuilt once they hold more than ``2 * live + SLACK`` entries."""

NO_LEVEL = -math.inf
"""Level of a group without trailing members: no price reaches it."""

# Member heap entries: (distance or percent, serial, trade); serials keep tuples from ever
# comparing trades.
Member = tuple[float, int, "Tracked"]


class Tracked:
    """One registered trade in book space; ``alive`` is cleared when it fires or is removed.

    ``distance`` is the points trail (``inf`` when the trade has none, so it only tracks its
    best price); ``percent`` and ``factor`` describe a percent trail, whose level is
    ``best * factor``. Stop and target are book-space prices or ``None``.
    """

    __slots__ = (
        "alive", "distance", "factor", "group", "long", "percent", "serial", "side", "stop",
        "symbol_id", "target", "trade_id",
    )

    def __init__(self, trade_id: int, serial: int, symbol_id: int, long: bool,
                 stop: float | None, target: float | None, distance: float,
                 percent: float | None, factor: float) -> None:
        self.trade_id = trade_id
        self.serial = serial
        self.symbol_id = symbol_id
        self.long = long
        self.side = 1.0 if long else -1.0
        self.stop = stop
        self.target = target
        self.distance = distance
        self.percent = percent
        self.factor = factor
        self.alive = True
        self.group: TrailGroup | None = None

    def trailing_level(self, best: float) -> float | None:
        """This trade's trailing level (book space) for a group best, or ``None``."""
        if self.percent is not None:
            return best * self.factor
        if self.distance != math.inf:
            return best - self.distance
        return None


class TrailGroup:
    """Trades of one book sharing a best price; see the module docstring.

    ``live`` counts members still alive. ``best_serial`` and ``level_serial`` name the one valid
    entry of this group in its book's best and level heaps (``-1``: none), so stale entries are
    recognised in O(1) and dropped lazily. ``gap`` and ``factor`` cache the first-to-fire
    members' distance and percent factor, as of the last :meth:`current_level`.
    """

    __slots__ = ("best", "best_serial", "factor", "gap", "level", "level_serial", "live",
                 "percents", "points")

    def __init__(self, best: float) -> None:
        self.best = best
        self.points: list[Member] = []
        self.percents: list[Member] = []
        self.live = 0
        self.level = NO_LEVEL
        self.best_serial = -1
        self.level_serial = -1
        self.gap = math.inf
        self.factor: float | None = None

    def join(self, trade: Tracked) -> None:
        """Add a trade to this group."""
        if trade.percent is not None:
            heappush(self.percents, (trade.percent, trade.serial, trade))
        else:
            heappush(self.points, (trade.distance, trade.serial, trade))
        trade.group = self
        self.live += 1

    def size(self) -> int:
        """Heap entries held (live members plus not yet dropped dead ones)."""
        return len(self.points) + len(self.percents)

    def absorb(self, other: TrailGroup) -> None:
        """Move ``other``'s live members here (call it on the larger group); ``other`` dies."""
        for source, target in ((other.points, self.points), (other.percents, self.percents)):
            for entry in source:
                trade = entry[2]
                if trade.alive:
                    trade.group = self
                    heappush(target, entry)
        self.live += other.live
        other.retire()

    def retire(self) -> None:
        """Mark the group dead: its heap entries become stale."""
        self.live = 0
        self.points = []
        self.percents = []
        self.best_serial = self.level_serial = -1

    def current_level(self) -> float:
        """Drop dead members from the heap tops and return the group's trigger level."""
        points, percents = self.points, self.percents
        if len(points) + len(percents) > 2 * self.live + SLACK:
            self.points = points = _alive(points)
            self.percents = percents = _alive(percents)
        while points and not points[0][2].alive:
            heappop(points)
        while percents and not percents[0][2].alive:
            heappop(percents)
        self.gap = points[0][0] if points else math.inf
        self.factor = percents[0][2].factor if percents else None
        return self.cached_level()

    def cached_level(self) -> float:
        """The trigger level at the current best, from the cached first-to-fire members."""
        level = self.best - self.gap
        if self.factor is not None:
            by_percent = self.best * self.factor
            if by_percent > level:
                return by_percent
        return level

    def fire(self, price: float, fired: list[tuple[Tracked, float]]) -> None:
        """Pop the members whose trailing level is at or above ``price`` into ``fired``."""
        best = self.best
        points = self.points
        while points:
            distance, _, trade = points[0]
            if trade.alive and best - distance < price:
                break
            heappop(points)
            if trade.alive:
                fired.append((trade, best - distance))
        percents = self.percents
        while percents:
            trade = percents[0][2]
            if trade.alive and best * trade.factor < price:
                break
            heappop(percents)
            if trade.alive:
                fired.append((trade, best * trade.factor))

    def members(self) -> list[Tracked]:
        """The group's live trades."""
        return [e[2] for e in self.points + self.percents if e[2].alive and e[2].group is self]


def _alive(entries: list[Member]) -> list[Member]:
    kept = [e for e in entries if e[2].alive]
    heapify(kept)
    return kept
