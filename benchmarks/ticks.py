"""Tick trigger benchmark (BRIEF §8): 100 000 trades over 2 000 symbols, 2 000 000 ticks.

Trades are long or short with a mix of stop-losses, targets and trailing stops (points and
percent) placed 0.5-3 % from entry; prices follow a random walk per symbol on the 0.05 tick grid,
the symbols of successive ticks drawn at random. The same tick sequence is fed to:

* a fresh :class:`TriggerEngine` through ``on_tick`` one call at a time -> ``ticks_per_s``;
* a fresh engine through ``on_ticks`` in batches -> ``batch_ticks_per_s``;
* a fresh engine with every ``on_tick`` call timed -> ``p99_latency_us`` (over the calls that
  returned a trigger) and the triggers of each tick;
* the naive per-trade loop over a fresh copy of the trades, for the first ``--naive-ticks``
  ticks -> ``naive_ticks_per_s``; its triggers must equal the engine's tick by tick
  (``mismatched_ticks`` = 0). ``speedup`` compares both over that same prefix;
* the naive loop again over the whole run, restricted to every 20th symbol (symbols are
  independent), so that stops and targets, which rarely fire early, are checked as well
  (``mismatched_ticks_full_run`` = 0).

``rss_mb`` is the process's resident memory once the engine holds every trade.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import resource
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tradewarden.engine.triggers import TradeLevels, TrailKind, Trigger, TriggerEngine
from tradewarden.engine.triggers.naive import NaiveTriggerEngine

TICK = 0.05
CHUNK = 100_000
Tick = tuple[str, float]


class Scenario:
    """Trades and a tick sequence, reproducible from a seed; ticks stored compactly."""

    def __init__(self, trades: int, symbols: int, ticks: int, seed: int, volatility: float):
        rng = random.Random(seed)
        self.names = [f"NSE:SYM{n:04d}" for n in range(symbols)]
        start = [_on_grid(math.exp(rng.uniform(math.log(50), math.log(5000))))
                 for _ in range(symbols)]
        self.trades = [_random_trade(rng, n, self.names, start) for n in range(trades)]
        self.symbol_ids = array("I")
        self.prices = array("d")
        walk = list(start)
        steps = [p * volatility for p in start]
        for _ in range(ticks):
            s = rng.randrange(symbols)
            walk[s] = max(TICK, walk[s] + rng.gauss(0.0, steps[s]))
            self.symbol_ids.append(s)
            self.prices.append(_on_grid(walk[s]))

    def only(self, symbol_ids: set[int]) -> Iterator[tuple[int, str, float]]:
        """(tick index, symbol, price) of the ticks of the given symbols."""
        names = self.names
        for index, (s, price) in enumerate(zip(self.symbol_ids, self.prices, strict=True)):
            if s in symbol_ids:
                yield index, names[s], price

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[list[Tick]]:
        """The ticks ``start:stop`` as lists of (symbol, price), ``CHUNK`` at a time."""
        stop = len(self.prices) if stop is None else stop
        names = self.names
        for i in range(start, stop, CHUNK):
            j = min(stop, i + CHUNK)
            yield [(names[s], p) for s, p in zip(self.symbol_ids[i:j], self.prices[i:j],
                                                 strict=True)]


def _on_grid(price: float) -> float:
    return max(TICK, round(price / TICK) * TICK)


def _random_trade(rng: random.Random, trade_id: int, names: list[str],
                  start: list[float]) -> TradeLevels:
    s = rng.randrange(len(names))
    long = rng.random() < 0.5
    sign = 1 if long else -1
    entry = start[s]
    # A third are restored trades whose best already moved in their favour (by less than the
    # smallest trail, or they would have exited before the restart).
    best = entry
    if rng.random() < 0.33:
        best = _on_grid(entry * (1 + sign * rng.uniform(0, 0.004)))
    stop = _on_grid(entry * (1 - sign * rng.uniform(0.005, 0.02))) if rng.random() < 0.8 else None
    target = _on_grid(entry * (1 + sign * rng.uniform(0.007, 0.03))) if rng.random() < 0.7 else None
    trail: float | None = None
    kind: TrailKind | None = None
    roll = rng.random()
    if roll < 0.25:
        kind, trail = TrailKind.POINTS, max(TICK, _on_grid(entry * rng.uniform(0.005, 0.025)))
    elif roll < 0.5:
        kind, trail = TrailKind.PERCENT, round(rng.uniform(0.5, 2.5), 2)
    return TradeLevels(trade_id, names[s], long, stop, target, trail, kind, best)


def _rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(factory: Callable[[], Any], trades: list[TradeLevels]) -> Any:
    engine = factory()
    for levels in trades:
        engine.add(levels)
    gc.collect()
    return engine


def _per_call(engine: Any, chunks: Iterator[list[Tick]]) -> tuple[float, int]:
    """Seconds spent in ``on_tick`` loops (one call per tick) and triggers seen."""
    on_tick = engine.on_tick
    elapsed, fired = 0.0, 0
    for chunk in chunks:
        began = time.perf_counter()
        for symbol, price in chunk:
            triggers = on_tick(symbol, price)
            if triggers:
                fired += len(triggers)
        elapsed += time.perf_counter() - began
    return elapsed, fired


def _batched(engine: TriggerEngine, chunks: Iterator[list[Tick]]) -> tuple[float, int]:
    elapsed, fired = 0.0, 0
    for chunk in chunks:
        began = time.perf_counter()
        fired += len(engine.on_ticks(chunk))
        elapsed += time.perf_counter() - began
    return elapsed, fired


def _recorded(engine: Any, chunks: Iterator[list[Tick]]) -> tuple[float, dict[int, list[Trigger]]]:
    """Like :func:`_per_call`, keeping the triggers by tick index."""
    on_tick = engine.on_tick
    elapsed = 0.0
    by_tick: dict[int, list[Trigger]] = {}
    index = 0
    for chunk in chunks:
        began = time.perf_counter()
        for symbol, price in chunk:
            triggers = on_tick(symbol, price)
            if triggers:
                by_tick[index] = triggers
            index += 1
        elapsed += time.perf_counter() - began
    return elapsed, by_tick


def _timed(engine: Any,
           chunks: Iterator[list[Tick]]) -> tuple[list[int], list[int], dict[int, list[Trigger]]]:
    """Per-call latencies (ns) of all ticks and of firing ticks; the triggers by tick index."""
    on_tick, clock = engine.on_tick, time.perf_counter_ns
    every: list[int] = []
    firing: list[int] = []
    by_tick: dict[int, list[Trigger]] = {}
    index = 0
    for chunk in chunks:
        for symbol, price in chunk:
            began = clock()
            triggers = on_tick(symbol, price)
            spent = clock() - began
            every.append(spent)
            if triggers:
                firing.append(spent)
                by_tick[index] = triggers
            index += 1
    return every, firing, by_tick


def _mismatches(engine: dict[int, list[Trigger]], naive: dict[int, list[Trigger]],
                keep: Callable[[int], bool]) -> int:
    """Ticks (among those ``keep`` selects) whose triggers differ between the two runs."""
    return sum(engine.get(i) != naive.get(i) for i in set(engine) | set(naive) if keep(i))


def _quantile_us(values: list[int], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 2)


def run(trades: int, symbols: int, ticks: int, naive_ticks: int, seed: int,
        volatility: float) -> dict[str, Any]:
    began = time.perf_counter()
    scenario = Scenario(trades, symbols, ticks, seed, volatility)
    setup_s = time.perf_counter() - began
    naive_ticks = max(1, min(naive_ticks, ticks))
    gc.collect()
    rss_before = _rss_mb()

    began = time.perf_counter()
    engine = _build(TriggerEngine, scenario.trades)
    add_s = time.perf_counter() - began
    rss_mb = _rss_mb()
    prefix_s, _ = _per_call(engine, scenario.chunks(0, naive_ticks))
    rest_s, _ = _per_call(engine, scenario.chunks(naive_ticks))
    engine_s = prefix_s + rest_s
    active_after = len(engine)
    del engine

    engine = _build(TriggerEngine, scenario.trades)
    batch_s, _ = _batched(engine, scenario.chunks())
    del engine

    engine = _build(TriggerEngine, scenario.trades)
    full_collections = gc.get_stats()[2]["collections"]
    every, firing, engine_fired = _timed(engine, scenario.chunks())
    full_collections = gc.get_stats()[2]["collections"] - full_collections
    fired = [t for triggers in engine_fired.values() for t in triggers]
    del engine

    naive = _build(NaiveTriggerEngine, scenario.trades)
    naive_s, naive_fired = _recorded(naive, scenario.chunks(0, naive_ticks))
    del naive
    mismatched = _mismatches(engine_fired, naive_fired, lambda i: i < naive_ticks)

    checked = set(range(0, symbols, 20))
    names = {scenario.names[s] for s in checked}
    naive = _build(NaiveTriggerEngine, [t for t in scenario.trades if t.symbol in names])
    naive_fired = {}
    for index, symbol, price in scenario.only(checked):
        triggers = naive.on_tick(symbol, price)
        if triggers:
            naive_fired[index] = triggers
    del naive
    full_mismatched = _mismatches(engine_fired, naive_fired,
                                  lambda i: scenario.symbol_ids[i] in checked)

    engine_rate = ticks / engine_s
    naive_rate = naive_ticks / naive_s
    prefix_rate = naive_ticks / prefix_s
    return {
        "benchmark": "ticks",
        "trades": trades,
        "symbols": symbols,
        "ticks": ticks,
        "triggers": len(fired),
        "triggers_by_reason": dict(sorted(Counter(t.reason.value for t in fired).items())),
        "firing_ticks": len(firing),
        "active_after": active_after,
        "ticks_per_s": round(engine_rate),
        "batch_ticks_per_s": round(ticks / batch_s),
        "naive_ticks": naive_ticks,
        "naive_ticks_per_s": round(naive_rate),
        "engine_prefix_ticks_per_s": round(prefix_rate),
        "speedup": round(prefix_rate / naive_rate, 1),
        "p50_latency_us": _quantile_us(firing, 0.50),
        "p99_latency_us": _quantile_us(firing, 0.99),
        "max_latency_us": _quantile_us(firing, 1.0),
        "p99_all_ticks_us": _quantile_us(every, 0.99),
        "max_all_ticks_us": _quantile_us(every, 1.0),
        "gc_full_collections": full_collections,
        "mismatched_ticks": mismatched,
        "full_run_checked_symbols": len(checked),
        "full_run_checked_triggers": sum(len(v) for v in naive_fired.values()),
        "mismatched_ticks_full_run": full_mismatched,
        "adds_per_s": round(trades / add_s),
        "rss_mb": round(rss_mb, 1),
        "engine_mb": round(rss_mb - rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "setup_s": round(setup_s, 1),
    }


def main(argv: Sequence[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ticks")
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=2_000)
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--naive-ticks", type=int, default=200_000,
                        help="ticks of the same sequence run through the naive loop")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--volatility", type=float, default=0.0002,
                        help="standard deviation of one tick's move, as a fraction of price")
    args = parser.parse_args(list(argv))
    result = run(args.trades, args.symbols, args.ticks, args.naive_ticks, args.seed,
                 args.volatility)
    print(f"engine {result['ticks_per_s']:,} ticks/s (batched {result['batch_ticks_per_s']:,}),"
          f" naive {result['naive_ticks_per_s']:,} ticks/s, speedup {result['speedup']}x,"
          f" p99 {result['p99_latency_us']} us over {result['triggers']:,} firing ticks,"
          f" rss {result['rss_mb']} MB, mismatched ticks {result['mismatched_ticks']}"
          f" (prefix) and {result['mismatched_ticks_full_run']} (full run, every 20th symbol)")
    return result
