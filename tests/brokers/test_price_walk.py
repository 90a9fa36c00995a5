"""The paper broker's simulated prices: a realistic reference price for every instrument of the
master and a seeded walk from it, only while the session is open."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.walk import PriceWalk, reference_price
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import is_multiple_of

SBIN = InstrumentKey("NSE", "SBIN")


@pytest.fixture
def exchange() -> Iterator[PaperExchange]:
    paper = PaperExchange(None, clock="manual")  # memory only, session closed
    yield paper
    paper.close()


def _prices(exchange: PaperExchange) -> dict[InstrumentKey, Decimal]:
    keys = [i.key for i in exchange.instruments]
    return {k: q.last_price for k, q in exchange.quotes(keys).items()}


def test_every_instrument_gets_a_realistic_price_on_its_tick_grid(
    exchange: PaperExchange,
) -> None:
    PriceWalk(exchange).prime()
    prices = _prices(exchange)
    instruments = list(exchange.instruments)
    assert set(prices) == {i.key for i in instruments}
    for instrument in instruments:
        price = prices[instrument.key]
        assert price > 0 and is_multiple_of(price, instrument.tick_size), instrument
    assert prices[SBIN] == Decimal("820")
    assert prices[InstrumentKey("NSE", "MRF")] > Decimal("100000")
    nifty = [i for i in instruments if i.symbol.startswith("NIFTY")]
    future = next(i for i in nifty if i.instrument_type == "FUT")
    assert Decimal("20000") < prices[future.key] < Decimal("32000")
    for option in (i for i in nifty if i.instrument_type in ("CE", "PE")):
        assert prices[option.key] < prices[future.key] / 10, option  # a premium, not a level


def test_reference_prices_are_stable_across_runs(exchange: PaperExchange) -> None:
    first = {i.key: reference_price(i) for i in exchange.instruments}
    assert first == {i.key: reference_price(i) for i in exchange.instruments}
    assert len(set(first.values())) > 100  # not one price for everything
    unlisted = Instrument(exchange="NSE", symbol="NOTBUNDLED")  # a master of one's own
    assert reference_price(unlisted) == reference_price(unlisted)
    assert Decimal("50") <= reference_price(unlisted) <= Decimal("5000")


def test_the_walk_moves_prices_only_in_the_open_session(exchange: PaperExchange) -> None:
    walk = PriceWalk(exchange, seed=7)
    walk.prime()
    before = _prices(exchange)
    assert walk.step() is False and _prices(exchange) == before  # closed
    exchange.set_session(SessionName.OPEN)
    assert walk.step() is True
    after = _prices(exchange)
    assert set(after) == set(before)
    assert sum(after[k] != before[k] for k in before) > len(before) / 2
    assert all(abs(after[k] / before[k] - 1) < Decimal("0.05") for k in before)


def test_the_walk_is_seeded_and_continues_from_a_price_set_by_hand(
    exchange: PaperExchange,
) -> None:
    exchange.set_session(SessionName.OPEN)
    other = PaperExchange(None, clock="manual")
    try:
        other.set_session(SessionName.OPEN)
        for paper in (exchange, other):
            walk = PriceWalk(paper, seed=11)
            walk.prime()
            walk.step()
        assert _prices(exchange) == _prices(other)
    finally:
        other.close()
    exchange.set_prices({SBIN: Decimal("1000")})
    PriceWalk(exchange).step()
    assert Decimal("950") < _prices(exchange)[SBIN] < Decimal("1050")
