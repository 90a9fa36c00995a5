"""Property test: the engine and the naive per-trade loop agree, tick by tick.

Random trades (both directions; stop, target, points and percent trails; levels on either side
of the price, so some cross at once) are added, updated and removed between random ticks on a
0.25 price grid (so prices land exactly on levels). After every operation both engines must
agree on triggers, registered trades, symbols, best prices, trailing levels and drained
changes. A last test removes the heaps' slack so that stale-entry compaction runs constantly.
"""

from __future__ import annotations

import random
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradewarden.engine.triggers import TradeLevels, TrailKind, TriggerEngine, book, trailing
from tradewarden.engine.triggers.naive import NaiveTriggerEngine

SYMBOLS = ("NSE:A", "NSE:B", "NSE:C")
GRID = 0.25
MAX_ID = 24

offsets = st.none() | st.integers(-8, 60)  # grid steps away from the price, protective side
trails = st.one_of(
    st.none(),
    st.tuples(st.just(TrailKind.POINTS), st.integers(1, 40).map(lambda n: n * GRID)),
    st.tuples(st.just(TrailKind.PERCENT),
              st.sampled_from([0.25, 0.5, 1.0, 2.5, 5.0, 10.0]) | st.floats(0.01, 30.0)),
)
trade_ids = st.integers(0, MAX_ID)
symbol_ids = st.integers(0, len(SYMBOLS) - 1)
levels = st.tuples(st.booleans(), offsets, offsets, trails, st.integers(-8, 20))
operations = st.one_of(
    st.tuples(st.just("tick"), symbol_ids, st.integers(-12, 12)),
    st.tuples(st.just("tick"), symbol_ids, st.integers(-80, 80)),
    st.tuples(st.just("burst"), st.lists(st.tuples(symbol_ids, st.integers(-6, 6)),
                                         max_size=12)),
    st.tuples(st.just("add"), trade_ids, symbol_ids, levels),
    st.tuples(st.just("update"), trade_ids, symbol_ids, levels),
    st.tuples(st.just("remove"), trade_ids),
    st.tuples(st.just("drain")),
)


class Pair:
    """Drives both engines with the same operations and compares them after each one."""

    def __init__(self) -> None:
        self.fast = TriggerEngine()
        self.naive = NaiveTriggerEngine()
        self.prices = dict.fromkeys(SYMBOLS, 100.0)

    def step(self, symbol_id: int, steps: int) -> tuple[str, float]:
        symbol = SYMBOLS[symbol_id]
        price = min(400.0, max(10.0, self.prices[symbol] + steps * GRID))
        self.prices[symbol] = price
        return symbol, price

    def levels(self, trade_id: int, symbol_id: int, spec: tuple[Any, ...]) -> TradeLevels:
        long, stop_off, target_off, trail, best_off = spec
        symbol = SYMBOLS[symbol_id]
        price, sign = self.prices[symbol], 1 if long else -1
        stop = None if stop_off is None else price - sign * stop_off * GRID
        target = None if target_off is None else price + sign * target_off * GRID
        best = max(GRID, price + sign * best_off * GRID)
        kind, distance = trail if trail is not None else (None, None)
        return TradeLevels(trade_id, symbol, long, stop, target, distance, kind, best)

    def both(self, method: str, *args: Any) -> Any:
        results = []
        for engine in (self.fast, self.naive):
            try:
                results.append(("ok", getattr(engine, method)(*args)))
            except (KeyError, ValueError) as error:
                results.append(("error", type(error)))
        assert results[0] == results[1], (method, args)
        self.check_heaps()
        return results[0][1]

    def check_heaps(self) -> None:
        """Stale heap entries stay bounded: at most half of any heap, plus the slack."""
        for side_book in [*self.fast._longs, *self.fast._shorts]:
            limit = 2 * side_book.count + book.SLACK
            for heap in (side_book.stops, side_book.targets, side_book.bests, side_book.levels):
                assert len(heap) <= limit

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "tick":
            self.both("on_tick", *self.step(op[1], op[2]))
        elif kind == "burst":
            self.both("on_ticks", [self.step(s, n) for s, n in op[1]])
        elif kind in ("add", "update"):
            self.both(kind, self.levels(op[1], op[2], op[3]))
        elif kind == "remove":
            self.both("remove", op[1])
        else:
            self.both("drain_changed")
        self.compare_state()

    def compare_state(self) -> None:
        assert len(self.fast) == len(self.naive)
        assert self.fast.symbols() == self.naive.symbols()
        for trade_id in range(MAX_ID + 1):
            assert (trade_id in self.fast) == (trade_id in self.naive)
            if trade_id in self.naive:
                assert self.fast.trail_state(trade_id) == self.naive.trail_state(trade_id)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=30, max_size=200))
def test_engine_matches_the_naive_loop(ops: list[tuple[Any, ...]]) -> None:
    pair = Pair()
    for op in ops:
        pair.apply(op)
    pair.both("drain_changed")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(40, 200))
def test_engine_matches_the_naive_loop_on_long_busy_runs(seed: int, trades: int) -> None:
    """Many trades on two symbols and long walks: group merges and deep heaps."""
    _busy_run(random.Random(seed), trades)


def test_heap_compaction_keeps_the_answers() -> None:
    """With no slack, stale heap entries are compacted all the time; answers stay the same."""
    with (mock.patch.object(book, "SLACK", 0), mock.patch.object(trailing, "SLACK", 0),
          mock.patch.object(book, "_rebuilt", wraps=book._rebuilt) as rebuilt,
          mock.patch.object(trailing, "_alive", wraps=trailing._alive) as alive):
        for seed in range(12):
            _busy_run(random.Random(seed), 60)
    assert rebuilt.call_count > 0 and alive.call_count > 0


def _busy_run(rng: random.Random, trades: int) -> None:
    pair = Pair()
    next_id = 0
    for _ in range(1500):
        roll = rng.random()
        if roll < 0.06:
            spec = (rng.random() < 0.5, _maybe(rng, rng.randint(-4, 60)),
                    _maybe(rng, rng.randint(-4, 80)), _random_trail(rng), rng.randint(-4, 12))
            if len(pair.naive) < trades:
                pair.both("add", pair.levels(next_id, rng.randint(0, 1), spec))
                next_id += 1
            else:
                pair.both("update", pair.levels(rng.randrange(next_id), rng.randint(0, 1), spec))
        elif roll < 0.08:
            pair.both("remove", rng.randrange(next_id + 1))
        elif roll < 0.09:
            pair.both("drain_changed")
        else:
            pair.both("on_tick", *pair.step(rng.randint(0, 1), rng.randint(-4, 4)))
    for trade_id in range(next_id):
        if trade_id in pair.naive:
            assert pair.fast.trail_state(trade_id) == pair.naive.trail_state(trade_id)
    pair.both("drain_changed")


def _maybe(rng: random.Random, value: int) -> int | None:
    return None if rng.random() < 0.3 else value


def _random_trail(rng: random.Random) -> tuple[TrailKind, float] | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.65:
        return TrailKind.POINTS, rng.randint(1, 30) * GRID
    return TrailKind.PERCENT, rng.choice([0.25, 0.5, 1.0, 2.5, 5.0, rng.uniform(0.05, 20.0)])
