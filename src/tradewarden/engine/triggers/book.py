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
from heapq import heapify, heappop, heappush, heapreplace
from typing import Any

from tradewarden.engine.triggers.model import ExitReason
from tradewarden.engine.triggers.trailing import NO_LEVEL, Tracked, TrailGroup

INF = math.inf
SERIALS = itertools.count()
"""Unique heap-entry serials: entries never compare their payloads, and stale ones show."""

SLACK = 32
"""A heap is rebuilt once it holds more than ``2 * live + SLACK`` entries (half are stale)."""

Fired = dict[Tracked, tuple[ExitReason, float]]
"""Trades crossed by one tick, with the reason and book-space level that will be reported."""


class SideBook:
    """Stops, targets and trailing groups of one symbol and direction; see the module doc."""

    __slots__ = ("_dirty", "_fresh", "_stale", "bests", "count", "down", "levels", "stops",
                 "targets", "up")

    def __init__(self, dirty: set[TrailGroup]) -> None:
        self.stops: list[tuple[float, int, Tracked]] = []  # (-stop): highest stop on top
        self.targets: list[tuple[float, int, Tracked]] = []  # lowest target on top
        self.bests: list[tuple[float, int, TrailGroup]] = []  # lowest group best on top
        self.levels: list[tuple[float, int, TrailGroup]] = []  # (-level): highest level on top
        self.count = 0
        self.down = -INF
        self.up = INF
        self._dirty = dirty  # groups whose bests moved since the last drain (engine-wide)
        self._fresh: dict[float, TrailGroup] = {}  # groups by the best they were created at
        self._stale: list[TrailGroup] = []  # groups that lost members since the last tidy

    def add(self, trade: Tracked, best: float, moved: bool) -> None:
        """Register a live trade at ``best``; ``moved``: its best differs from the caller's.

        Trades registered at the same best share a group from the start (a restart restores
        many trades at their entry price).
        """
        self.count += 1
        if trade.stop is not None:
            heappush(self.stops, (-trade.stop, trade.serial, trade))
        if trade.target is not None:
            heappush(self.targets, (trade.target, trade.serial, trade))
        fresh = self._fresh
        group = None if moved else fresh.get(best)
        if group is not None and group.live and group.best == best and group not in self._dirty:
            group.join(trade)
            self._relevel(group)
        else:
            group = TrailGroup(best)
            group.join(trade)
            self._place(group)
            if moved:
                self._dirty.add(group)
            else:
                fresh[best] = group
                if len(fresh) > 2 * self.count + SLACK:
                    self._fresh = {b: g for b, g in fresh.items() if g.live and g.best == b}
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

    def cross(self, price: float, fired: Fired) -> bool:
        """Apply a book-space price: raise the bests below it, then collect crossed levels.

        A trade crossed by both its stop and its trailing level reports the higher level (the
        first one met on the way down; stop on a tie); target only when nothing else crossed.
        Afterwards, discard the fired trades and call :meth:`tidy`; when nothing fired and this
        returns False (no groups merged), :meth:`settle` is enough.
        """
        merged = False
        bests = self.bests
        if bests and bests[0][0] < price:
            merged = self._raise(price)
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
        return merged

    def tidy(self) -> None:
        """Re-level groups that lost members, drop stale heap tops, recompute down/up."""
        if self._stale:
            for group in self._stale:
                if group.live:
                    self._relevel(group)
            self._stale.clear()
        limit = 2 * self.count + SLACK
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
        self.settle()

    def settle(self) -> None:
        """Recompute ``down`` and ``up`` from the heap tops (which must be current)."""
        stops, targets, bests, levels = self.stops, self.targets, self.bests, self.levels
        down = -stops[0][0] if stops else -INF
        if levels and -levels[0][0] > down:
            down = -levels[0][0]
        up = targets[0][0] if targets else INF
        if bests:
            up = min(up, math.nextafter(bests[0][0], INF))
        self.down, self.up = down, up

    def _raise(self, price: float) -> bool:
        """Merge every group whose best is below ``price`` into one group at ``price``.

        Returns whether groups merged (their old heap entries may now top the heaps)."""
        bests = self.bests
        _, serial, group = bests[0]
        size = len(bests)
        if serial == group.best_serial and (size < 2 or bests[1][0] >= price) and (
                size < 3 or bests[2][0] >= price):
            # The common case: one group, already on top, makes a new best.
            group.best = price
            heapreplace(bests, (price, serial, group))
            self._dirty.add(group)
            self._relevel(group, group.cached_level())
            return False
        raised: list[TrailGroup] = []
        while bests and bests[0][0] < price:
            _, serial, group = heappop(bests)
            if serial == group.best_serial:
                raised.append(group)
        if not raised:
            return True
        survivor = raised[0]
        if len(raised) > 1:
            survivor = max(raised, key=TrailGroup.size)
            for group in raised:
                if group is not survivor:
                    survivor.absorb(group)
                    self._dirty.discard(group)
        survivor.best = price
        self._dirty.add(survivor)
        serial = next(SERIALS)
        survivor.best_serial = serial
        heappush(bests, (price, serial, survivor))
        self._relevel(survivor)
        return True

    def _place(self, group: TrailGroup) -> None:
        """Give a new group its entries in the best and level heaps."""
        serial = next(SERIALS)
        group.best_serial = serial
        heappush(self.bests, (group.best, serial, group))
        self._relevel(group)

    def _relevel(self, group: TrailGroup, level: float | None = None) -> None:
        """Recompute a group's level; give it a fresh level entry if the level changed.

        ``level`` may be passed when the group's member heaps are known to be clean."""
        if level is None:
            level = group.current_level()
        current = group.level_serial
        if level == group.level and (current != -1 or level == NO_LEVEL):
            return
        levels = self.levels
        if level == NO_LEVEL:
            group.level_serial = -1
        elif current != -1 and level > group.level and levels[0][1] == current:
            # Already the highest level and rising: it stays on top, replace it in place.
            levels[0] = (-level, current, group)
        else:
            serial = next(SERIALS)
            group.level_serial = serial
            heappush(levels, (-level, serial, group))
            if len(levels) > 2 * self.count + SLACK:  # rises below the top leave stale entries
                self.levels = _rebuilt(levels, _level_current)
        group.level = level


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
