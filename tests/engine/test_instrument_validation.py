"""Orders the instrument master refuses before anything is sent: instruments it does not know
(every exchange; the paper broker refuses them too) and CNC on a derivative contract. Also
the duplicate-signal denial text, which the OpenAlgo page quotes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.conftest import Server, serve
from tests.procs import free_port
from tests.seed import new_order, seed_owner
from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.errors import OrderRejectedError
from tradewarden.brokers.instruments import InstrumentMaster, bundled_master
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.config import Settings
from tradewarden.domain.instruments import Instrument, InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side
from tradewarden.domain.reasons import ReasonCode
from tradewarden.engine.guards import Guards, GuardSettings
from tradewarden.store.db import Database

DOCS = Path(__file__).resolve().parents[2] / "docs"
ORDER = {"strategy": "script", "exchange": "NSE", "symbol": "RELIANCE", "action": "BUY",
         "quantity": "5", "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with serve(Settings(data_dir=tmp_path / "data", port=free_port(), monitor_interval_s=0.3,
                        monitor_idle_interval_s=0.3)) as running:
        yield running


@pytest.mark.parametrize(("exchange", "symbol"), [
    ("NSE", "RELIANC"), ("NSE", "FOOBARXYZ"), ("BSE", "FOOBARXYZ"), ("NFO", "FOOBARXYZ")])
def test_an_unknown_instrument_is_denied_and_never_sent(server: Server, exchange: str,
                                                          symbol: str) -> None:
    response = server.openalgo("placeorder", **{**ORDER, "exchange": exchange,
                                                "symbol": symbol})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error" and body["reason_code"] == "validation_failed"
    assert body["message"] == f"unknown instrument {exchange}:{symbol}"
    status = server.openalgo("orderstatus", orderid=body["orderid"], strategy="script").json()
    assert status["data"]["order_status"] == "rejected" and status["data"]["status"] == "denied"
    assert server.simulator.exchange.all_orders() == []


def test_the_duplicate_denial_says_what_the_openalgo_page_says(server: Server) -> None:
    assert server.openalgo("placeorder", **ORDER).status_code == 200
    second = server.openalgo("placeorder", **ORDER)
    assert second.status_code == 400
    message = second.json()["message"]
    assert "identical" in message and "5 s" in message
    assert f'"message": "{message}"' in (DOCS / "api-openalgo.md").read_text("utf-8")


def test_the_paper_broker_refuses_instruments_it_does_not_know(tmp_path: Path) -> None:
    exchange = PaperExchange(tmp_path / "paper.db", clock="open")
    try:
        for key in (InstrumentKey("NSE", "FOOBARXYZ"), InstrumentKey("BSE", "RELIANC")):
            with pytest.raises(OrderRejectedError, match="Unknown instrument") as refused:
                exchange.place("acct", OrderRequest(
                    exchange=key.exchange, symbol=key.symbol, side=Side.BUY, quantity=1,
                    order_type=OrderType.MARKET, product=Product.CNC))
            assert refused.value.code == "invalid_instrument"
        assert exchange.all_orders() == []
    finally:
        exchange.close()


def _contract(exchange: str, underlying: str, expiry: date) -> Instrument:
    """A futures contract expiring ``expiry`` (always in the future: built from today)."""
    return Instrument(exchange=exchange, symbol=f"{underlying}{expiry:%d%b%y}FUT".upper(),
                      lot_size=1, series="FUT", instrument_type="FUT")


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("exchange", "underlying"), [
    ("NFO", "NIFTY"), ("BFO", "SENSEX"), ("MCX", "CRUDEOIL"), ("CDS", "USDINR")])
def test_cnc_on_a_derivative_is_denied_before_sending(db: Database, exchange: str,
                                                      underlying: str) -> None:
    contract = _contract(exchange, underlying, date.today() + timedelta(days=30))
    master = InstrumentMaster([*bundled_master(), contract])
    base = replace(new_order(seed_owner(db)), exchange=exchange, symbol=contract.symbol,
                   quantity=1, order_type=OrderType.MARKET, price=None)
    with db.read() as session:
        guards = Guards(session, master, None, GuardSettings(), datetime.now(UTC))
        cnc = guards.check(base, position_guards=False, allow_amo=False)
        nrml = guards.check(replace(base, product=Product.NRML), position_guards=False,
                            allow_amo=False)
    assert cnc.denial is not None and cnc.denial.code is ReasonCode.VALIDATION_FAILED
    assert cnc.denial.reason == (f"CNC is not allowed for the derivative {exchange}:"
                                 f"{contract.symbol}; use NRML or MIS")
    assert nrml.allowed
