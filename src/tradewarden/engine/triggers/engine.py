"""The tick trigger engine: which managed trades must exit on a price tick, and why.

Per symbol the engine keeps a long and a short :class:`~.book.SideBook` and two thresholds,
``lo`` and ``hi``: a price strictly between them crosses no level and moves no best price, so
:meth:`TriggerEngine.on_tick` answers it with two list lookups and two comparisons. Other ticks
pop only the crossed heap entries (O(k log n)); a new extreme merges trailing groups instead of
updating every trailing trade.

Not thread-safe: use one engine from one thread (the asyncio loop's).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from operator import attrgetter

from tradewarden.engine.triggers.book import SERIALS, Fired, SideBook
from tradewarden.engine.triggers.model import TradeLevels, TrailKind, Trigger
from tradewarden.engine.triggers.trailing import Tracked, TrailGroup

INF = math.inf
_by_trade_id = attrgetter("trade_id")


class TriggerEngine:
    """In-memory stop-loss, target and trailing-stop evaluation over price ticks.

    Prices are floats. A trade fires at most once: its :class:`Trigger` is returned by the tick
    that crossed a level, and the trade is forgotten at that moment.
    """

    def __init__(self) -> None:
        self._symbol_ids: dict[str, int] = {}
        self._lo: list[float] = []
        self._hi: list[float] = []
        self._longs: list[SideBook] = []
        self._shorts: list[SideBook] = []
        self._trades: dict[int, Tracked] = {}
        self._dirty: set[TrailGroup] = set()

    # -- registration -------------------------------------------------------------------------

    def add(self, levels: TradeLevels) -> None:
        """Register a trade; ``ValueError`` if its id is already registered."""
        if levels.trade_id in self._trades:
            raise ValueError(f"trade {levels.trade_id} is already registered")
        side = 1.0 if levels.long else -1.0
        self._register(levels, side * levels.best, moved=False)

    def remove(self, trade_id: int) -> None:
        """Forget a trade; nothing happens if it is not registered (e.g. it already fired)."""
        trade = self._trades.pop(trade_id, None)
        if trade is not None:
            book = self._book(trade)
            book.discard(trade)
            book.tidy()
            self._refresh(trade.symbol_id)

    def update(self, levels: TradeLevels) -> None:
        """Replace a trade's levels, keeping the better of its tracked best and ``levels.best``.

        ``KeyError`` if the trade is not registered (it may have fired); ``ValueError`` if the
        symbol or the direction differ from the registered ones.
        """
        old = self._trades[levels.trade_id]
        if self._symbol_ids.get(levels.symbol) != old.symbol_id or levels.long != old.long:
            raise ValueError(f"trade {levels.trade_id}: symbol and direction cannot change")
        assert old.group is not None
        given = old.side * levels.best
        best = max(old.group.best, given)
        self.remove(levels.trade_id)
        self._register(levels, best, moved=best != given)

    def _register(self, levels: TradeLevels, best: float, moved: bool) -> None:
        symbol_id = self._symbol_ids.get(levels.symbol)
        if symbol_id is None:
            symbol_id = self._symbol_ids[levels.symbol] = len(self._lo)
            self._lo.append(-INF)
            self._hi.append(INF)
            self._longs.append(SideBook(self._dirty))
            self._shorts.append(SideBook(self._dirty))
        side = 1.0 if levels.long else -1.0
        distance, percent, factor = INF, None, 1.0
        if levels.trail is not None:
            if levels.trail_kind is TrailKind.PERCENT:
                percent = levels.trail
                factor = 1 - percent / 100 if levels.long else 1 + percent / 100
            else:
                distance = levels.trail
        trade = Tracked(
            levels.trade_id, next(SERIALS), symbol_id, levels.long,
            None if levels.stop is None else side * levels.stop,
            None if levels.target is None else side * levels.target,
            distance, percent, factor,
        )
        self._trades[levels.trade_id] = trade
        self._book(trade).add(trade, best, moved)
        self._refresh(symbol_id)

    # -- ticks --------------------------------------------------------------------------------

    def on_tick(self, symbol: str, price: float) -> list[Trigger]:
        """Apply one tick; the triggers it caused, by trade id (usually none)."""
        symbol_id = self._symbol_ids.get(symbol)
        if symbol_id is None or self._lo[symbol_id] < price < self._hi[symbol_id]:
            return []
        return self._cross(symbol_id, price)

    def on_ticks(self, ticks: Iterable[tuple[str, float]]) -> list[Trigger]:
        """Apply ticks in order; all their triggers, tick by tick."""
        triggers: list[Trigger] = []
        symbol_ids, lo, hi, cross = self._symbol_ids.get, self._lo, self._hi, self._cross
        for symbol, price in ticks:
            symbol_id = symbol_ids(symbol)
            if symbol_id is None or lo[symbol_id] < price < hi[symbol_id]:
                continue
            fired = cross(symbol_id, price)
            if fired:
                triggers += fired
        return triggers

    def _cross(self, symbol_id: int, price: float) -> list[Trigger]:
        """The slow path: a price at or beyond one of the symbol's thresholds."""
        triggers: list[Trigger] = []
        if price != price:  # NaN crosses nothing
            return triggers
        longs, shorts = self._longs[symbol_id], self._shorts[symbol_id]
        fired: Fired = {}
        long_moved = not longs.down < price < longs.up
        long_merged = long_moved and longs.cross(price, fired)
        short_moved = not shorts.down < -price < shorts.up
        short_merged = short_moved and shorts.cross(-price, fired)
        if fired:
            trades = self._trades
            for trade, (reason, level) in fired.items():
                (longs if trade.long else shorts).discard(trade)
                del trades[trade.trade_id]
                triggers.append(Trigger(trade.trade_id, reason, trade.side * level, price))
            if len(triggers) > 1:
                triggers.sort(key=_by_trade_id)
        if long_moved:
            longs.tidy() if fired or long_merged else longs.settle()
        if short_moved:
            shorts.tidy() if fired or short_merged else shorts.settle()
        self._lo[symbol_id] = max(longs.down, -shorts.up)
        self._hi[symbol_id] = min(longs.up, -shorts.down)
        return triggers

    def _refresh(self, symbol_id: int) -> None:
        longs, shorts = self._longs[symbol_id], self._shorts[symbol_id]
        self._lo[symbol_id] = max(longs.down, -shorts.up)
        self._hi[symbol_id] = min(longs.up, -shorts.down)

    # -- state --------------------------------------------------------------------------------

    def trail_state(self, trade_id: int) -> tuple[float, float | None]:
        """(best price since entry, current trailing level or ``None``); ``KeyError`` if unknown."""
        trade = self._trades[trade_id]
        assert trade.group is not None
        best = trade.group.best
        level = trade.trailing_level(best)
        return trade.side * best, None if level is None else trade.side * level

    def drain_changed(self) -> list[tuple[int, float, float | None]]:
        """(trade id, best, trailing level) of the trades whose best differs from the one last
        drained or passed in through :meth:`add`/:meth:`update`, by trade id."""
        changed: list[tuple[int, float, float | None]] = []
        for group in self._dirty:
            best = group.best
            for trade in group.members():
                level = trade.trailing_level(best)
                changed.append((trade.trade_id, trade.side * best,
                                None if level is None else trade.side * level))
        self._dirty.clear()
        changed.sort(key=lambda row: row[0])
        return changed

    def __len__(self) -> int:
        return len(self._trades)

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._trades

    def symbols(self) -> set[str]:
        """Symbols with at least one registered trade (what the price feed must subscribe)."""
        longs, shorts = self._longs, self._shorts
        return {s for s, i in self._symbol_ids.items() if longs[i].count or shorts[i].count}

    def _book(self, trade: Tracked) -> SideBook:
        books = self._longs if trade.long else self._shorts
        return books[trade.symbol_id]
