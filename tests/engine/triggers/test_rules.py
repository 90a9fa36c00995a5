"""Each exit rule of the tick trigger engine, for long and short trades.

Every test runs against the fast engine and the naive reference, so the reference used by the
property tests is itself held to the rules.
"""

from __future__ import annotations

import math

import pytest

from tradewarden.engine.triggers import ExitReason, TradeLevels, TrailKind, Trigger, TriggerEngine
from tradewarden.engine.triggers.naive import NaiveTriggerEngine

Engine = TriggerEngine | NaiveTriggerEngine
SYMBOL = "NSE:RELIANCE"
STOP, TARGET, TRAIL = ExitReason.STOP_LOSS, ExitReason.TARGET, ExitReason.TRAILING_STOP


@pytest.fixture(params=[TriggerEngine, NaiveTriggerEngine], ids=["engine", "naive"])
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.param()
    return engine


def trade(trade_id: int = 1, *, long: bool = True, stop: float | None = None,
          target: float | None = None, points: float | None = None,
          percent: float | None = None, best: float = 100.0,
          symbol: str = SYMBOL) -> TradeLevels:
    trail = points if points is not None else percent
    kind = TrailKind.POINTS if points is not None else TrailKind.PERCENT if percent else None
    return TradeLevels(trade_id, symbol, long, stop, target, trail, kind, best)


def ticks(engine: Engine, *prices: float) -> list[Trigger]:
    return engine.on_ticks((SYMBOL, p) for p in prices)


@pytest.mark.parametrize(("long", "stop", "quiet", "hit"), [(True, 95.0, 95.5, 95.0),
                                                            (False, 105.0, 104.5, 105.0)])
def test_stop_loss(engine: Engine, long: bool, stop: float, quiet: float, hit: float) -> None:
    engine.add(trade(long=long, stop=stop))
    assert engine.on_tick(SYMBOL, quiet) == []
    assert engine.on_tick(SYMBOL, hit) == [Trigger(1, STOP, stop, hit)]


@pytest.mark.parametrize(("long", "target", "quiet", "hit"), [(True, 110.0, 109.5, 111.0),
                                                              (False, 90.0, 90.5, 89.0)])
def test_target(engine: Engine, long: bool, target: float, quiet: float, hit: float) -> None:
    engine.add(trade(long=long, target=target))
    assert engine.on_tick(SYMBOL, quiet) == []
    assert engine.on_tick(SYMBOL, hit) == [Trigger(1, TARGET, target, hit)]


def test_long_trailing_points_follows_the_high(engine: Engine) -> None:
    engine.add(trade(points=5.0))
    assert engine.trail_state(1) == (100.0, 95.0)
    assert ticks(engine, 110.0, 106.0) == []
    assert engine.trail_state(1) == (110.0, 105.0)
    assert engine.on_tick(SYMBOL, 105.0) == [Trigger(1, TRAIL, 105.0, 105.0)]


def test_short_trailing_points_follows_the_low(engine: Engine) -> None:
    engine.add(trade(long=False, points=5.0))
    assert engine.trail_state(1) == (100.0, 105.0)
    assert ticks(engine, 90.0, 94.0) == []
    assert engine.trail_state(1) == (90.0, 95.0)
    assert engine.on_tick(SYMBOL, 95.5) == [Trigger(1, TRAIL, 95.0, 95.5)]


def test_long_trailing_percent(engine: Engine) -> None:
    engine.add(trade(percent=25.0))
    assert engine.trail_state(1) == (100.0, 75.0)
    assert ticks(engine, 200.0, 151.0) == []
    assert engine.trail_state(1) == (200.0, 150.0)
    assert engine.on_tick(SYMBOL, 150.0) == [Trigger(1, TRAIL, 150.0, 150.0)]


def test_short_trailing_percent(engine: Engine) -> None:
    engine.add(trade(long=False, percent=25.0))
    assert engine.trail_state(1) == (100.0, 125.0)
    assert ticks(engine, 80.0, 99.0) == []
    assert engine.trail_state(1) == (80.0, 100.0)
    assert engine.on_tick(SYMBOL, 100.0) == [Trigger(1, TRAIL, 100.0, 100.0)]


@pytest.mark.parametrize("long", [True, False])
def test_trailing_level_never_loosens(engine: Engine, long: bool) -> None:
    sign = 1 if long else -1
    engine.add(trade(long=long, points=5.0))
    ticks(engine, 100 + sign * 10)
    level = engine.trail_state(1)[1]
    assert ticks(engine, 100 + sign * 7, 100 + sign * 8, 100 + sign * 6) == []
    assert engine.trail_state(1) == (100 + sign * 10, level)
    ticks(engine, 100 + sign * 12)
    assert engine.trail_state(1) == (100 + sign * 12, 100 + sign * 7)


def test_a_new_high_does_not_fire_its_own_trailing_level(engine: Engine) -> None:
    engine.add(trade(points=0.5, percent=None))
    assert ticks(engine, 100.5, 101.0, 150.0) == []
    assert engine.trail_state(1) == (150.0, 149.5)


@pytest.mark.parametrize(("long", "stop", "climb", "gap", "reason", "level"), [
    (True, 97.0, None, 90.0, STOP, 97.0),     # stop above the trailing level (95)
    (True, 97.0, 110.0, 90.0, TRAIL, 105.0),  # trailing level (105) above the stop
    (True, 95.0, None, 90.0, STOP, 95.0),     # tie: stop
    (False, 103.0, None, 110.0, STOP, 103.0),
    (False, 103.0, 90.0, 110.0, TRAIL, 95.0),
    (False, 105.0, None, 110.0, STOP, 105.0),
])
def test_gap_through_stop_and_trailing_level_fires_once(
        engine: Engine, long: bool, stop: float, climb: float | None, gap: float,
        reason: ExitReason, level: float) -> None:
    engine.add(trade(long=long, stop=stop, points=5.0))
    if climb is not None:
        assert engine.on_tick(SYMBOL, climb) == []
    assert engine.on_tick(SYMBOL, gap) == [Trigger(1, reason, level, gap)]


def test_protective_levels_win_over_a_crossed_target(engine: Engine) -> None:
    engine.add(trade(stop=100.0, target=95.0))  # inverted levels: both cross at 97
    assert engine.on_tick(SYMBOL, 97.0) == [Trigger(1, STOP, 100.0, 97.0)]


def test_fired_trade_never_fires_again(engine: Engine) -> None:
    engine.add(trade(stop=95.0, target=110.0, points=2.0))
    assert len(ticks(engine, 94.0)) == 1
    assert ticks(engine, 90.0, 120.0, 80.0) == []
    assert 1 not in engine
    assert len(engine) == 0
    with pytest.raises(KeyError):
        engine.trail_state(1)


def test_triggers_of_one_tick_come_by_trade_id(engine: Engine) -> None:
    for trade_id in (7, 3, 5):
        engine.add(trade(trade_id, stop=95.0 + trade_id / 10))
    engine.add(trade(4, long=False, target=96.0))
    engine.add(trade(9, long=False, stop=110.0))
    fired = engine.on_tick(SYMBOL, 95.0)
    assert [t.trade_id for t in fired] == [3, 4, 5, 7]
    assert engine.on_tick(SYMBOL, 95.0) == []


@pytest.mark.parametrize("long", [True, False])
def test_update_keeps_the_better_best(engine: Engine, long: bool) -> None:
    sign = 1 if long else -1
    engine.add(trade(long=long, points=5.0))
    ticks(engine, 100 + sign * 10)
    engine.update(trade(long=long, points=3.0, best=100.0))
    assert engine.trail_state(1) == (100 + sign * 10, 100 + sign * 7)
    engine.update(trade(long=long, points=3.0, best=100 + sign * 20))
    assert engine.trail_state(1) == (100 + sign * 20, 100 + sign * 17)
    assert engine.on_tick(SYMBOL, 100 + sign * 17) == [Trigger(1, TRAIL, 100 + sign * 17,
                                                               100 + sign * 17)]


def test_update_replaces_stop_and_target(engine: Engine) -> None:
    engine.add(trade(stop=95.0, target=110.0))
    engine.update(trade(stop=90.0, target=None))
    assert ticks(engine, 94.0, 120.0) == []
    assert engine.on_tick(SYMBOL, 90.0) == [Trigger(1, STOP, 90.0, 90.0)]


def test_update_errors(engine: Engine) -> None:
    with pytest.raises(KeyError):
        engine.update(trade())
    engine.add(trade())
    with pytest.raises(ValueError):
        engine.update(trade(long=False))
    with pytest.raises(ValueError):
        engine.update(trade(symbol="NSE:TCS"))
    with pytest.raises(ValueError):
        engine.add(trade())


def test_remove(engine: Engine) -> None:
    engine.add(trade(1, stop=95.0))
    engine.add(trade(2, stop=95.0))
    engine.remove(1)
    engine.remove(1)
    engine.remove(42)
    assert 1 not in engine and 2 in engine
    assert engine.on_tick(SYMBOL, 90.0) == [Trigger(2, STOP, 95.0, 90.0)]


def test_symbols_follow_the_trades(engine: Engine) -> None:
    engine.add(trade(1, stop=95.0))
    engine.add(trade(2, symbol="NSE:TCS"))
    engine.add(trade(3, symbol="NSE:TCS", long=False))
    assert engine.symbols() == {SYMBOL, "NSE:TCS"}
    engine.remove(2)
    assert engine.symbols() == {SYMBOL, "NSE:TCS"}
    engine.remove(3)
    assert engine.symbols() == {SYMBOL}
    engine.on_tick(SYMBOL, 90.0)
    assert engine.symbols() == set()


def test_drain_changed_reports_moved_bests_once(engine: Engine) -> None:
    engine.add(trade(1, points=5.0))
    engine.add(trade(2, long=False, percent=25.0, symbol="NSE:TCS"))
    engine.add(trade(3, stop=50.0))
    engine.add(trade(4, points=5.0, best=130.0))
    assert engine.drain_changed() == []
    ticks(engine, 120.0)
    engine.on_tick("NSE:TCS", 80.0)
    assert engine.drain_changed() == [(1, 120.0, 115.0), (2, 80.0, 100.0), (3, 120.0, None)]
    assert engine.drain_changed() == []
    ticks(engine, 119.0)
    assert engine.drain_changed() == []
    engine.update(trade(1, points=2.0, best=100.0))  # the engine knows better than the caller
    assert engine.drain_changed() == [(1, 120.0, 118.0)]


def test_unknown_symbol_and_nan_ticks_change_nothing(engine: Engine) -> None:
    engine.add(trade(stop=95.0, points=5.0))
    assert engine.on_tick("NSE:UNKNOWN", 1.0) == []
    assert engine.on_tick(SYMBOL, math.nan) == []
    assert engine.trail_state(1) == (100.0, 95.0)


def test_on_ticks_matches_on_tick_in_order(engine: Engine) -> None:
    engine.add(trade(1, stop=95.0))
    engine.add(trade(2, target=105.0, symbol="NSE:TCS"))
    fired = engine.on_ticks([(SYMBOL, 96.0), ("NSE:TCS", 106.0), (SYMBOL, 94.0)])
    assert fired == [Trigger(2, TARGET, 105.0, 106.0), Trigger(1, STOP, 95.0, 94.0)]


@pytest.mark.parametrize("kwargs", [
    {"best": 0.0}, {"best": math.nan}, {"stop": math.inf}, {"target": math.nan},
    {"points": -1.0}, {"points": 0.0}, {"percent": 100.0},
])
def test_invalid_levels_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        trade(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TradeLevels(1, SYMBOL, True, None, None, 1.0, None, 100.0)
