"""The reference implementation: on every tick, look at every trade of the symbol.

Written for clarity, not speed. The property tests hold :class:`~.engine.TriggerEngine` to the
same answers, and the ``ticks`` benchmark measures how much faster the engine is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradewarden.engine.triggers.model import ExitReason, TradeLevels, TrailKind, Trigger


def trailing_level(levels: TradeLevels, best: float) -> float | None:
    """The trailing stop price implied by ``best``, or ``None`` without a trail."""
    if levels.trail is None:
        return None
    if levels.trail_kind is TrailKind.POINTS:
        return best - levels.trail if levels.long else best + levels.trail
    return best * (1 - levels.trail / 100) if levels.long else best * (1 + levels.trail / 100)


@dataclass
class _Trade:
    levels: TradeLevels
    best: float
    known_best: float  # the best the caller last saw (passed in, or drained)


class NaiveTriggerEngine:
    """Same interface and answers as :class:`~.engine.TriggerEngine`, one trade at a time."""

    def __init__(self) -> None:
        self._trades: dict[int, _Trade] = {}
        self._by_symbol: dict[str, dict[int, _Trade]] = {}

    def add(self, levels: TradeLevels) -> None:
        if levels.trade_id in self._trades:
            raise ValueError(f"trade {levels.trade_id} is already registered")
        self._store(_Trade(levels, levels.best, levels.best))

    def _store(self, trade: _Trade) -> None:
        self._trades[trade.levels.trade_id] = trade
        self._by_symbol.setdefault(trade.levels.symbol, {})[trade.levels.trade_id] = trade

    def remove(self, trade_id: int) -> None:
        trade = self._trades.pop(trade_id, None)
        if trade is not None:
            del self._by_symbol[trade.levels.symbol][trade_id]

    def update(self, levels: TradeLevels) -> None:
        trade = self._trades[levels.trade_id]
        if levels.symbol != trade.levels.symbol or levels.long != trade.levels.long:
            raise ValueError(f"trade {levels.trade_id}: symbol and direction cannot change")
        best = max(trade.best, levels.best) if levels.long else min(trade.best, levels.best)
        self._store(_Trade(levels, best, levels.best))

    def on_tick(self, symbol: str, price: float) -> list[Trigger]:
        triggers = []
        for trade in self._by_symbol.get(symbol, {}).values():
            trigger = self._check(trade, price)
            if trigger is not None:
                triggers.append(trigger)
        for trigger in triggers:
            self.remove(trigger.trade_id)
        return sorted(triggers, key=lambda t: t.trade_id)

    def on_ticks(self, ticks: Iterable[tuple[str, float]]) -> list[Trigger]:
        return [trigger for symbol, price in ticks for trigger in self.on_tick(symbol, price)]

    @staticmethod
    def _check(trade: _Trade, price: float) -> Trigger | None:
        """Move the trade's best, then check its levels (stop or trailing before target)."""
        lv = trade.levels
        if (lv.long and price > trade.best) or (not lv.long and price < trade.best):
            trade.best = price
        trail = trailing_level(lv, trade.best)
        if lv.long:
            stop_hit = lv.stop is not None and price <= lv.stop
            trail_hit = trail is not None and price <= trail
            target_hit = lv.target is not None and price >= lv.target
        else:
            stop_hit = lv.stop is not None and price >= lv.stop
            trail_hit = trail is not None and price >= trail
            target_hit = lv.target is not None and price <= lv.target
        if stop_hit and trail_hit:
            # Both crossed in one gap: report the level met first on the way (stop on a tie).
            assert lv.stop is not None and trail is not None
            trail_first = trail > lv.stop if lv.long else trail < lv.stop
            stop_hit = not trail_first
            trail_hit = trail_first
        if stop_hit:
            assert lv.stop is not None
            return Trigger(lv.trade_id, ExitReason.STOP_LOSS, lv.stop, price)
        if trail_hit:
            assert trail is not None
            return Trigger(lv.trade_id, ExitReason.TRAILING_STOP, trail, price)
        if target_hit:
            assert lv.target is not None
            return Trigger(lv.trade_id, ExitReason.TARGET, lv.target, price)
        return None

    def trail_state(self, trade_id: int) -> tuple[float, float | None]:
        trade = self._trades[trade_id]
        return trade.best, trailing_level(trade.levels, trade.best)

    def drain_changed(self) -> list[tuple[int, float, float | None]]:
        changed = []
        for trade_id, trade in sorted(self._trades.items()):
            if trade.best != trade.known_best:
                changed.append((trade_id, trade.best, trailing_level(trade.levels, trade.best)))
                trade.known_best = trade.best
        return changed

    def __len__(self) -> int:
        return len(self._trades)

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._trades

    def symbols(self) -> set[str]:
        return {symbol for symbol, trades in self._by_symbol.items() if trades}

