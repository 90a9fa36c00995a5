"""The price feed against the standalone paper broker over real HTTP/WebSocket: reference
counted subscriptions, stream delivery, polling while the stream is down, reconnection with
backoff, staleness, shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.brokers.conftest import Control, PaperServer
from tradewarden.brokers.base import BrokerAdapter, Quote
from tradewarden.brokers.errors import BrokerServerError
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperAdapter, RemotePaperBroker
from tradewarden.brokers.paper.faults import FaultConfig
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.engine.price_feed import PriceCallback, PriceFeed
from tradewarden.metrics import Metrics

SBIN = InstrumentKey("NSE", "SBIN")
INFY = InstrumentKey("NSE", "INFY")
WAIT_S = 30.0


class CountingAdapter(RemotePaperAdapter):
    """The real HTTP adapter, recording what the feed asks of it."""

    def __init__(self, broker: RemotePaperBroker, account: str) -> None:
        super().__init__(broker, account)
        self.subscribed: list[frozenset[InstrumentKey]] = []
        self.unsubscribed: list[frozenset[InstrumentKey]] = []
        self.quote_calls = 0

    async def subscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        keys = frozenset(instruments)
        self.subscribed.append(keys)
        await super().subscribe(keys)

    async def unsubscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        keys = frozenset(instruments)
        self.unsubscribed.append(keys)
        await super().unsubscribe(keys)

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        self.quote_calls += 1
        return await super().quotes(instruments)


class Prices:
    """An ``on_price`` callback that records what it is given, and on which thread."""

    def __init__(self) -> None:
        self.seen: list[tuple[InstrumentKey, D, datetime]] = []
        self.threads: set[int] = set()

    def __call__(self, key: InstrumentKey, price: D, at: datetime) -> None:
        self.threads.add(threading.get_ident())
        self.seen.append((key, price, at))

    def of(self, key: InstrumentKey) -> list[D]:
        return [p for k, p, _ in self.seen if k == key]


def fast_feed(
    adapter: BrokerAdapter, on_price: PriceCallback, metrics: Metrics | None = None
) -> PriceFeed:
    """A feed with test-sized intervals: poll 0.2 s, backoff 0.1 s doubling to 1 s."""
    return PriceFeed(adapter, on_price, poll_interval_s=0.2, backoff_base_s=0.1,
                     backoff_max_s=1.0, metrics=metrics)


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds (generous timeout; never a timing assertion)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def price_arrives(
    control: Control, prices: Prices, key: InstrumentKey, value: str
) -> None:
    """Set ``value`` until it arrives: a new subscription reaches the server's stream
    asynchronously, so the first ticks after subscribing may legitimately be missed."""
    deadline = time.monotonic() + WAIT_S
    while D(value) not in prices.of(key):
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} {value} never arrived: {prices.of(key)}")
        control.prices({str(key): value})
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
def paper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperServer]:
    root = tmp_path_factory.mktemp("price-feed-server")
    server = PaperServer(root / "state.db", root / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def control(paper_server: PaperServer) -> Iterator[Control]:
    ctl = Control(paper_server.url)
    ctl.reset()
    yield ctl
    ctl.reset()
    ctl.close()


@pytest.fixture
async def adapter(paper_server: PaperServer) -> AsyncIterator[CountingAdapter]:
    broker = RemotePaperBroker(paper_server.url, timeout_s=2.0)
    counting = CountingAdapter(broker, "feed-1")
    yield counting
    await counting.aclose()
    await broker.aclose()


@pytest.fixture
async def started(adapter: CountingAdapter) -> AsyncIterator[tuple[PriceFeed, Prices]]:
    prices = Prices()
    feed = fast_feed(adapter, prices)
    feed.start()
    await eventually(lambda: feed.connected, "the first connection")
    yield feed, prices
    await feed.stop()


async def test_one_broker_subscription_per_symbol(
    control: Control, adapter: CountingAdapter, started: tuple[PriceFeed, Prices]
) -> None:
    feed, prices = started
    feed.subscribe(SBIN)  # trade 1
    await feed.synced()
    feed.subscribe(SBIN)  # trade 2, same symbol
    feed.subscribe(INFY)
    await feed.synced()
    assert adapter.subscribed == [frozenset({SBIN}), frozenset({INFY})]
    assert (feed.subscriptions, feed.users(SBIN), feed.users(INFY)) == (2, 2, 1)

    await price_arrives(control, prices, SBIN, "800")
    await price_arrives(control, prices, INFY, "1500")
    for value in ("801", "801.5", "802"):
        control.prices({"NSE:SBIN": value})
    await eventually(lambda: D("802") in prices.of(SBIN), "the third price")
    assert prices.of(SBIN)[-3:] == [D("801"), D("801.5"), D("802")]  # arrival order
    assert feed.last_price(SBIN) == D("802")
    assert prices.threads == {threading.get_ident()}  # on the event-loop thread
    assert feed.prices_from_stream >= 5

    feed.unsubscribe(SBIN)  # trade 1 closes: trade 2 still needs it
    await feed.synced()
    assert adapter.unsubscribed == []
    feed.unsubscribe(SBIN)  # the last user leaves
    await feed.synced()
    assert adapter.unsubscribed == [frozenset({SBIN})]
    assert (feed.subscriptions, feed.users(SBIN), feed.last_price(SBIN)) == (1, 0, None)
    feed.unsubscribe(SBIN)  # one too many: ignored
    await feed.synced()
    assert adapter.unsubscribed == [frozenset({SBIN})]

    before = len(prices.of(SBIN))
    control.prices({"NSE:SBIN": 900})
    control.prices({"NSE:INFY": 1600})
    await eventually(lambda: D("1600") in prices.of(INFY), "INFY after SBIN")
    assert len(prices.of(SBIN)) == before  # nothing for a symbol nobody watches


async def test_new_symbol_gets_its_current_price_at_once(
    control: Control, started: tuple[PriceFeed, Prices]
) -> None:
    feed, prices = started
    control.prices({"NSE:SBIN": 777})  # traded before anyone subscribed
    feed.subscribe(SBIN)
    await eventually(lambda: prices.of(SBIN) == [D("777")], "the snapshot quote")
    assert feed.prices_from_quotes == 1


async def test_dropped_stream_polls_then_reconnects(
    control: Control,
    adapter: CountingAdapter,
    started: tuple[PriceFeed, Prices],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tradewarden.engine.price_feed")
    feed, prices = started
    feed.subscribe(SBIN)
    await price_arrives(control, prices, SBIN, "800")
    reconnects = feed.reconnects

    control.faults(drop_stream=True)
    await eventually(lambda: not feed.connected and feed.polling, "the feed to notice")
    polled = feed.prices_from_quotes
    control.prices({"NSE:SBIN": 805})  # during the outage
    await eventually(lambda: D("805") in prices.of(SBIN), "a polled price")
    assert feed.prices_from_quotes > polled
    control.prices({"NSE:SBIN": 806})
    await eventually(lambda: D("806") in prices.of(SBIN), "a second polled price")
    assert not feed.connected  # streams are still refused
    assert feed.reconnects == reconnects
    await asyncio.sleep(1.0)  # a few failed reconnection attempts

    control.faults()  # {} clears the faults
    await eventually(lambda: feed.connected and not feed.polling, "the reconnection")
    assert feed.reconnects > reconnects
    from_stream = feed.prices_from_stream
    control.prices({"NSE:SBIN": 810})
    await eventually(lambda: feed.prices_from_stream > from_stream, "a streamed price")
    assert prices.of(SBIN)[-1] == D("810")
    assert feed.last_price(SBIN) == D("810")

    await asyncio.sleep(1.0)  # let the catch-up snapshot after the reconnect settle
    calls = adapter.quote_calls
    await asyncio.sleep(1.0)  # five poll intervals
    assert adapter.quote_calls == calls  # polling stopped
    records = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [level for level, _ in records] == [logging.WARNING, logging.INFO], records
    assert "tick stream down" in records[0][1] and "restored" in records[1][1]


async def test_feed_started_while_streams_are_refused(
    control: Control, adapter: CountingAdapter
) -> None:
    control.faults(drop_stream=True)
    control.prices({"NSE:SBIN": 700})
    prices = Prices()
    feed = fast_feed(adapter, prices)
    feed.subscribe(SBIN)
    feed.start()
    try:
        await eventually(lambda: feed.polling, "polling")
        await eventually(lambda: prices.of(SBIN) == [D("700")], "the polled price")
        control.faults()
        await eventually(lambda: feed.connected, "the first connection")
        assert feed.reconnects == 0  # never connected before: not a reconnection
        await price_arrives(control, prices, SBIN, "701")
    finally:
        await feed.stop()


async def test_stale_symbols(control: Control, started: tuple[PriceFeed, Prices]) -> None:
    feed, prices = started
    feed.stale_after_s = 0.5
    feed.subscribe(SBIN)
    feed.subscribe(INFY)
    await price_arrives(control, prices, SBIN, "800")
    arrived = feed.last_update(SBIN)
    assert arrived is not None and arrived.tzinfo is not None
    assert SBIN not in feed.stale_symbols(arrived + timedelta(seconds=0.4))
    assert SBIN in feed.stale_symbols(arrived + timedelta(seconds=0.6))
    assert feed.last_update(INFY) is None  # never priced: stale counting from subscription
    await eventually(lambda: set(feed.stale_symbols()) == {SBIN, INFY}, "both stale")
    await price_arrives(control, prices, SBIN, "801")
    assert SBIN not in feed.stale_symbols(feed.last_update(SBIN))


async def test_stop_leaves_nothing_running(
    adapter: CountingAdapter, started: tuple[PriceFeed, Prices]
) -> None:
    feed, _ = started
    feed.subscribe(SBIN)
    await feed.stop()
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(n.startswith("price-feed") for n in names)
    assert not feed.connected and not feed.polling
    assert feed.subscriptions == 1  # kept for a later start
    feed.start()
    await eventually(lambda: feed.connected, "the restart")
    assert adapter.subscribed[-1] == frozenset({SBIN})  # re-subscribed on the new stream


async def test_in_process_broker_and_faulty_quotes(tmp_path: Path) -> None:
    broker = LocalPaperBroker.open(tmp_path / "paper.db", clock="manual")
    metrics = Metrics()
    calls = 0

    def flaky(key: InstrumentKey, price: D, at: datetime) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in a subscriber")

    feed = fast_feed(broker.adapter("local-1"), flaky, metrics)
    feed.start()
    try:
        await eventually(lambda: feed.connected, "the connection")
        feed.subscribe(SBIN)
        broker.exchange.set_prices({SBIN: D("800")})
        broker.exchange.set_prices({SBIN: D("801")})
        await eventually(lambda: feed.last_price(SBIN) == D("801"), "both ticks")
        assert feed.callback_errors == 1  # logged, the feed carried on

        # the stream drops and quotes fail too: the feed keeps trying without crashing
        broker.exchange.configure_faults(FaultConfig(drop_stream=True, error_5xx=1.0))
        await eventually(lambda: feed.polling, "polling")
        with pytest.raises(BrokerServerError):
            await broker.adapter("local-1").quotes([SBIN])
        broker.exchange.set_prices({SBIN: D("802")})
        await asyncio.sleep(0.5)
        broker.exchange.configure_faults(FaultConfig(drop_stream=True))
        await eventually(lambda: feed.last_price(SBIN) == D("802"), "a polled price")
        broker.exchange.configure_faults(FaultConfig())
        await eventually(lambda: feed.connected and feed.reconnects == 1, "the reconnection")
        text = metrics.render()
        assert 'tradewarden_price_feed_connected{feed="local-1"} 1' in text
        assert 'tradewarden_price_feed_subscriptions{feed="local-1"} 1' in text
        assert 'tradewarden_price_feed_reconnects_total{feed="local-1"} 1' in text
    finally:
        await feed.stop()
        await broker.aclose()
