"""Last traded prices (``quotes``): the standalone server over HTTP, the HTTP adapter, the
in-process adapter and the instrumented wrapper."""

from __future__ import annotations

from decimal import Decimal as D

import httpx
import pytest

from tests.brokers.conftest import Control, PaperServer
from tradewarden.brokers.errors import BrokerServerError, RateLimitedError
from tradewarden.brokers.instrumented import InstrumentedAdapter
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker
from tradewarden.brokers.paper.faults import FaultConfig
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.metrics import Metrics

SBIN = InstrumentKey("NSE", "SBIN")
INFY = InstrumentKey("NSE", "INFY")
TCS = InstrumentKey("NSE", "TCS")


async def test_remote_quotes_answer_known_prices_only(
    control: Control, remote: RemotePaperBroker
) -> None:
    control.prices({"NSE:SBIN": 800.05, "NSE:INFY": "1500"})
    quotes = await remote.adapter("paper-1").quotes([SBIN, INFY, TCS])
    assert set(quotes) == {SBIN, INFY}  # TCS has no price yet
    assert quotes[SBIN].last_price == D("800.05")
    assert quotes[INFY].last_price == D("1500")
    assert quotes[SBIN].key == SBIN
    assert quotes[SBIN].timestamp.tzinfo is not None
    control.prices({"NSE:SBIN": 801})
    again = await remote.adapter("paper-1").quotes([SBIN])
    assert again[SBIN].last_price == D("801")
    assert again[SBIN].timestamp >= quotes[SBIN].timestamp
    assert await remote.adapter("paper-1").quotes([]) == {}


def test_quotes_route_wire_format(control: Control, paper_server: PaperServer) -> None:
    control.prices({"NSE:SBIN": 800.5})
    url = f"{paper_server.url}/api/quotes"
    answer = httpx.get(url, params={"instruments": "NSE:SBIN,NSE:TCS,nse:sbin-eq"})
    assert answer.status_code == 200
    [row] = answer.json()["quotes"]
    assert row["exchange"] == "NSE" and row["symbol"] == "SBIN"
    assert row["last_price"] == "800.5"  # decimals travel as strings
    assert row["timestamp"].endswith("+00:00")
    assert httpx.get(url).json() == {"quotes": []}
    bad = httpx.get(url, params={"instruments": "SBIN"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"


async def test_remote_quotes_split_long_lists(control: Control, remote: RemotePaperBroker) -> None:
    control.prices({"NSE:SBIN": 800, "NSE:INFY": 1500})
    unknown = [InstrumentKey("NSE", f"NOSUCH{i:04d}") for i in range(450)]
    quotes = await remote.adapter("paper-1").quotes([*unknown, SBIN, INFY])
    assert {k: q.last_price for k, q in quotes.items()} == {SBIN: D("800"), INFY: D("1500")}


async def test_quotes_go_through_rest_faults_but_not_drop_stream(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = remote.adapter("paper-1")
    control.prices({"NSE:SBIN": 800})
    control.faults(rate_limit=1)
    with pytest.raises(RateLimitedError):
        await a.quotes([SBIN])
    control.faults(error_5xx=1)
    with pytest.raises(BrokerServerError):
        await a.quotes([SBIN])
    control.faults(drop_stream=True)
    assert (await a.quotes([SBIN]))[SBIN].last_price == D("800")
    control.faults()
    assert (await a.quotes([SBIN]))[SBIN].last_price == D("800")


async def test_local_quotes_match_the_remote_ones(
    control: Control, remote: RemotePaperBroker, local: LocalPaperBroker
) -> None:
    prices = {SBIN: D("799.95"), INFY: D("1501.5")}
    control.prices({str(k): str(v) for k, v in prices.items()})
    local.exchange.set_prices(prices)
    there = await remote.adapter("paper-1").quotes([SBIN, INFY, TCS])
    here = await local.adapter("paper-1").quotes([SBIN, INFY, TCS])
    assert {k: q.last_price for k, q in here.items()} == prices
    assert {k: q.last_price for k, q in there.items()} == prices


async def test_local_quotes_faults(local: LocalPaperBroker) -> None:
    a = local.adapter("paper-1")
    assert await a.quotes([SBIN]) == {}
    local.exchange.set_prices({SBIN: D("800")})
    local.exchange.configure_faults(FaultConfig(rate_limit=1.0))
    with pytest.raises(RateLimitedError):
        await a.quotes([SBIN])
    local.exchange.configure_faults(FaultConfig(drop_stream=True))
    assert (await a.quotes([SBIN]))[SBIN].last_price == D("800")


async def test_instrumented_adapter_times_quotes(local: LocalPaperBroker) -> None:
    metrics = Metrics()
    local.exchange.set_prices({SBIN: D("800")})
    wrapped = InstrumentedAdapter(local.adapter("paper-1"), metrics)
    quotes = await wrapped.quotes([SBIN])
    assert quotes[SBIN].last_price == D("800")
    assert 'tradewarden_broker_call_seconds_count{broker="paper",call="quotes"} 1' in (
        metrics.render()
    )
