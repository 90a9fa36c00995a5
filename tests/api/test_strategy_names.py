"""The strategy-name cache of the OpenAlgo intake path: answers expire, forgetting wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tradewarden.api.strategy_names import StrategyNames
from tradewarden.clock import use_clock

START = datetime(2030, 1, 7, 4, 0, tzinfo=UTC)


def test_an_answer_is_kept_for_its_lifetime_then_read_again() -> None:
    now = [START]
    with use_clock(lambda: now[0]):
        names = StrategyNames(ttl=timedelta(seconds=5))
        names.put(1, "trend", (7, 3), names.generation)
        names.put(1, "scalper", None, names.generation)  # "no such strategy" is kept too
        assert names.get(1, "trend") == (True, (7, 3))
        assert names.get(1, "scalper") == (True, None)
        assert names.get(2, "trend") == (False, None)
        now[0] = START + timedelta(seconds=5)
        assert names.get(1, "trend") == (False, None)
        now[0] = START - timedelta(seconds=1)  # a clock set back does not keep it forever
        assert names.get(1, "scalper") == (False, None)


def test_forgetting_drops_the_users_answers_and_a_read_begun_before_it() -> None:
    names = StrategyNames()
    names.put(1, "trend", (7, 3), names.generation)
    names.put(2, "trend", (8, 4), names.generation)
    begun = names.generation  # a read of user 1's "trend" starts here ...
    names.forget(1)  # ... the strategy is renamed meanwhile ...
    names.put(1, "trend", (7, 3), begun)  # ... so what it read is not kept
    assert names.get(1, "trend") == (False, None)
    assert names.get(2, "trend") == (True, (8, 4))
