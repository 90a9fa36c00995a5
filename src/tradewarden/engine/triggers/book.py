"""One symbol's trades of one direction, kept in heaps so a tick touches only what it crosses.

A :class:`SideBook` works in book space (see :mod:`.trailing`): long books see prices as they
are, short books see them negated, so stops and trailing levels are always below the price and
targets above it. ``down`` and ``up`` summarise the book: a price strictly between them crosses
nothing and makes no new best, which is what lets the engine skip a tick in O(1).

Removal is lazy: a dead trade's heap entries stay until they reach a heap top, where
:meth:`SideBook.tidy` drops them; heaps that are more than half stale are rebuilt.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from typing import Any

from tradewarden.engine.triggers.model import ExitReason
from tradewarden.engine.triggers.trailing import NO_LEVEL, Tracked, TrailGroup

INF = math.inf
SERIALS = itertools.count()
"""Unique heap-entry serials: entries never compare their payloads, and stale ones show."""

Fired = dict[Tracked, tuple[ExitReason, float]]
"""Trades crossed by one tick, with the reason and book-space level that will be reported."""


class SideBook:
    """Stops, targets and trailing groups of one symbol and direction; see the module doc."""

    __slots__ = ("_dirty", "_stale", "bests", "count", "down", "levels", "stops", "targets", "up")

    def __init__(self, dirty: set[TrailGroup]) -> None:
        self.stops: list[tuple[float, int, Tracked]] = []  # (-stop): highest stop on top
        self.targets: list[tuple[float, int, Tracked]] = []  # lowest target on top
        self.bests: list[tuple[float, int, TrailGroup]] = []  # lowest group best on top
        self.levels: list[tuple[float, int, TrailGroup]] = []  # (-level): highest level on top
        self.count = 0
        self.down = -INF
        self.up = INF
        self._dirty = dirty
        self._stale: list[TrailGroup] = []

    def add(self, trade: Tracked, best: float, moved: bool) -> None:
        """Register a live trade in a group of its own at ``best``; ``moved`` marks it changed."""
        self.count += 1
        if trade.stop is not None:
            heappush(self.stops, (-trade.stop, trade.serial, trade))
        if trade.target is not None:
            heappush(self.targets, (trade.target, trade.serial, trade))
        group = TrailGroup(best)
        group.join(trade)
        self._place(group)
        if moved:
            self._dirty.add(group)
        self.tidy()

    def discard(self, trade: Tracked) -> None:
        """Forget a trade (fired or removed); call :meth:`tidy` once the batch is done."""
        trade.alive = False
        self.count -= 1
        group = trade.group
        assert group is not None
        group.live -= 1
        if group.live == 0:
            group.retire()
            self._dirty.discard(group)
        else:
            self._stale.append(group)

    def cross(self, price: float, fired: Fired) -> None:
        """Apply a book-space price: raise the bests below it, then collect crossed levels.

        A trade crossed by both its stop and its trailing level reports the higher level (the
        first one met on the way down; stop on a tie); target only when nothing else crossed.
        """
        bests = self.bests
        if bests and bests[0][0] < price:
            self._raise(price)
        stops = self.stops
        while stops and -stops[0][0] >= price:
            key, _, trade = heappop(stops)
            if trade.alive:
                fired[trade] = (ExitReason.STOP_LOSS, -key)
        levels = self.levels
        if levels and -levels[0][0] >= price:
            crossed: list[tuple[Tracked, float]] = []
            while levels and -levels[0][0] >= price:
                _, serial, group = heappop(levels)
                if serial == group.level_serial:
                    group.level_serial = -1
                    group.fire(price, crossed)
                    self._stale.append(group)
            for trade, level in crossed:
                previous = fired.get(trade)
                if previous is None or level > previous[1]:
                    fired[trade] = (ExitReason.TRAILING_STOP, level)
        targets = self.targets
        while targets and targets[0][0] <= price:
            level, _, trade = heappop(targets)
            if trade.alive and trade not in fired:
                fired[trade] = (ExitReason.TARGET, level)

    def tidy(self) -> None:
        """Re-level groups that lost members, drop stale heap tops, recompute down/up."""
        for group in self._stale:
            if group.live:
                self._relevel(group)
        self._stale.clear()
        limit = 2 * self.count + 32
        stops, targets, bests, levels = self.stops, self.targets, self.bests, self.levels
        if len(stops) > limit:
            self.stops = stops = _rebuilt(stops, _trade_alive)
        if len(targets) > limit:
            self.targets = targets = _rebuilt(targets, _trade_alive)
        if len(bests) > limit:
            self.bests = bests = _rebuilt(bests, _best_current)
        if len(levels) > limit:
            self.levels = levels = _rebuilt(levels, _level_current)
        while stops and not stops[0][2].alive:
            heappop(stops)
        while targets and not targets[0][2].alive:
            heappop(targets)
        while bests and bests[0][1] != bests[0][2].best_serial:
            heappop(bests)
        while levels and levels[0][1] != levels[0][2].level_serial:
            heappop(levels)
        down = -stops[0][0] if stops else -INF
        if levels and -levels[0][0] > down:
            down = -levels[0][0]
        up = targets[0][0] if targets else INF
        if bests:
            up = min(up, math.nextafter(bests[0][0], INF))
        self.down, self.up = down, up

    def _raise(self, price: float) -> None:
        """Merge every group whose best is below ``price`` into one group at ``price``."""
        bests = self.bests
        survivor: TrailGroup | None = None
        while bests and bests[0][0] < price:
            _, serial, group = heappop(bests)
            if serial != group.best_serial:
                continue
            if survivor is None:
                survivor = group
            else:
                merged = survivor.absorb(group)
                self._dirty.discard(group if merged is survivor else survivor)
                survivor = merged
        if survivor is not None:
            survivor.best = price
            self._dirty.add(survivor)
            self._place(survivor)

    def _place(self, group: TrailGroup) -> None:
        """Give a group fresh entries for its best and its level (old ones go stale)."""
        serial = next(SERIALS)
        group.best_serial = serial
        heappush(self.bests, (group.best, serial, group))
        group.level_serial = -1
        self._relevel(group)

    def _relevel(self, group: TrailGroup) -> None:
        level = group.current_level()
        if level == group.level and (group.level_serial != -1 or level == NO_LEVEL):
            return
        group.level = level
        group.level_serial = -1
        if level != NO_LEVEL:
            serial = next(SERIALS)
            group.level_serial = serial
            heappush(self.levels, (-level, serial, group))


def _trade_alive(entry: tuple[float, int, Tracked]) -> bool:
    return entry[2].alive


def _best_current(entry: tuple[float, int, TrailGroup]) -> bool:
    return entry[1] == entry[2].best_serial


def _level_current(entry: tuple[float, int, TrailGroup]) -> bool:
    return entry[1] == entry[2].level_serial


def _rebuilt(entries: list[Any], keep: Callable[[Any], bool]) -> list[Any]:
    kept = [e for e in entries if keep(e)]
    heapify(kept)
    return kept
