"""The paper broker's simulated prices: a realistic reference price for every instrument of the
master and a seeded walk from it, only while the session is open, of the instruments watched or
traded and a few others in turn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from tradewarden.brokers.base import OrderRequest, SessionName
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.local import LocalPaperBroker
from tradewarden.brokers.paper.walk import PriceWalk, reference_price
from tradewarden.clock import IST, ist_today, use_clock
from tradewarden.domain.contracts import future_symbol, monthly_expiries
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.money import is_multiple_of
from tradewarden.domain.orders import OrderType, Product, Side
from tradewarden.domain.statuses import OrderStatus

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
    walk = PriceWalk(exchange, seed=7, sample_size=200)
    walk.prime()
    before = _prices(exchange)
    assert walk.step() is False and _prices(exchange) == before  # closed
    exchange.set_session(SessionName.OPEN)
    assert walk.step() is True
    after = _prices(exchange)
    assert set(after) == set(before)
    assert 50 < sum(after[k] != before[k] for k in before) <= 200
    assert all(abs(after[k] / before[k] - 1) < Decimal("0.05") for k in before)


def _order(key: InstrumentKey, order_type: OrderType, price: Decimal | None = None,
           quantity: int = 1) -> OrderRequest:
    return OrderRequest(exchange=key.exchange, symbol=key.symbol, side=Side.BUY,
                        quantity=quantity, order_type=order_type, product=Product.MIS,
                        price=price)


async def test_each_step_moves_what_is_watched_or_traded_and_a_few_others_in_turn(
    exchange: PaperExchange,
) -> None:
    broker = LocalPaperBroker(exchange)
    adapter = broker.adapter("walker", initial_cash=Decimal("10000000"))
    walk = PriceWalk(exchange, seed=3, volatility=0.01, watched=broker.watched, sample_size=40)
    walk.prime()
    exchange.set_session(SessionName.OPEN)
    await adapter.subscribe([SBIN])  # a trade's price feed
    working = InstrumentKey("NSE", "INFY")
    limit = (_prices(exchange)[working] * Decimal("0.9")).quantize(Decimal("0.05"))
    held = InstrumentKey("NSE", "TCS")
    await adapter.place(_order(working, OrderType.LIMIT, limit))
    await adapter.place(_order(held, OrderType.MARKET))
    active = {SBIN, working, held}
    assert walk.active() == active
    before = _prices(exchange)
    walk.step()
    after = _prices(exchange)
    moved = {k for k in before if after[k] != before[k]}
    assert active <= moved
    assert 0 < len(moved - active) <= 40  # the others: a few a step...
    for _ in range(len(before) // 40):
        walk.step()
    after = _prices(exchange)
    assert sum(after[k] != before[k] for k in before) > len(before) * 0.8  # ...all in turn
    await adapter.unsubscribe([SBIN])
    assert walk.active() == {working, held}


def test_a_new_days_contracts_are_priced_and_fill_at_market(exchange: PaperExchange) -> None:
    """The exchange's master follows the IST day; the walk prices what a new day lists, so a
    MARKET order fills for it although nobody watched it before."""
    expiry = monthly_expiries(ist_today(), 1)[0]
    expiring = InstrumentKey("NFO", future_symbol("NIFTY", expiry))
    walk = PriceWalk(exchange)
    with use_clock(_noon_ist(expiry)):
        walk.prime()
        listed = {i.key for i in exchange.instruments}
    assert expiring in listed
    with use_clock(_noon_ist(expiry + timedelta(days=1))):
        new = {i.key for i in exchange.instruments} - listed
        future = next(k for k in new if k.symbol.startswith("NIFTY") and k.symbol.endswith("FUT"))
        assert future not in exchange.quotes([future])
        walk.step()  # session closed: nothing moves, but the new contracts get their price
        assert set(exchange.quotes(new)) == new
        exchange.set_session(SessionName.OPEN)
        exchange.ensure_account("walker", Decimal("10000000"))
        lot = exchange.instruments.get(future)
        assert lot is not None
        order_id = exchange.place("walker", _order(future, OrderType.MARKET,
                                                   quantity=lot.lot_size))
        order = exchange.get_order("walker", order_id)
        assert order.status is OrderStatus.FILLED, order.rejection_reason


def _noon_ist(day: date) -> Callable[[], datetime]:
    return lambda: datetime.combine(day, time(12), IST)


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
