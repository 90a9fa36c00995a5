"""The official `openalgo` client, unchanged, against a running Tradewarden."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from openalgo import api

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey


def _ok(response: dict[str, Any]) -> dict[str, Any]:
    assert response.get("status") == "success", response
    return response


def test_official_client_round_trip(server: Server) -> None:
    server.simulator.exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2500"),
                                          InstrumentKey("NSE", "SBIN"): Decimal("800")})
    client = api(api_key=server.key, host=server.url)

    filled = _ok(client.placeorder(strategy="Python", symbol="RELIANCE", action="BUY",
                                   exchange="NSE", price_type="MARKET", product="MIS",
                                   quantity=5))
    server.wait_for(lambda: client.orderstatus(order_id=filled["orderid"], strategy="Python")
                    ["data"]["order_status"] == "complete")

    resting = _ok(client.placeorder(strategy="Python", symbol="SBIN", action="BUY",
                                    exchange="NSE", price_type="LIMIT", product="MIS",
                                    quantity=3, price="790"))
    status = _ok(client.orderstatus(order_id=resting["orderid"], strategy="Python"))
    assert status["data"]["order_status"] == "open" and status["data"]["price"] == 790.0

    _ok(client.modifyorder(order_id=resting["orderid"], strategy="Python", symbol="SBIN",
                           action="BUY", exchange="NSE", price_type="LIMIT", product="MIS",
                           quantity=3, price="795"))
    assert client.orderstatus(order_id=resting["orderid"], strategy="Python")["data"][
        "price"] == 795.0
    _ok(client.cancelorder(order_id=resting["orderid"], strategy="Python"))

    smart = _ok(client.placesmartorder(strategy="Python", symbol="RELIANCE", action="BUY",
                                       exchange="NSE", price_type="MARKET", product="MIS",
                                       quantity=0, position_size=8))
    assert "orderid" in smart
    server.wait_for(lambda: client.openposition(strategy="Python", symbol="RELIANCE",
                                                exchange="NSE", product="MIS")["quantity"]
                    == "8")

    another = _ok(client.placeorder(strategy="Python", symbol="SBIN", action="BUY",
                                    exchange="NSE", price_type="LIMIT", product="MIS",
                                    quantity=2, price="780"))
    cancelled = _ok(client.cancelallorder(strategy="Python"))
    assert another["orderid"] in cancelled["canceled_orders"]

    book = _ok(client.orderbook())
    assert {"orders", "statistics"} <= set(book["data"])
    assert book["data"]["statistics"]["total_buy_orders"] >= 3
    trades = _ok(client.tradebook())
    assert sum(t["quantity"] for t in trades["data"]) == 8
    positions = _ok(client.positionbook())
    assert any(p["symbol"] == "RELIANCE" and p["quantity"] == "8" for p in positions["data"])
    _ok(client.holdings())
    funds = _ok(client.funds())
    assert Decimal(funds["data"]["availablecash"]) < Decimal("1000000")

    _ok(client.closeposition(strategy="Python"))
    server.wait_for(lambda: client.openposition(strategy="Python", symbol="RELIANCE",
                                                exchange="NSE", product="MIS")["quantity"]
                    == "0")


def test_official_client_sees_errors_as_error_dicts(server: Server) -> None:
    client = api(api_key="tw_not_a_real_key_000000000000", host=server.url)
    response = client.funds()
    assert response["status"] == "error" and "403" in response["message"]
    good = api(api_key=server.key, host=server.url)
    missing = good.orderstatus(order_id="01NOPE", strategy="Python")
    assert missing["status"] == "error" and "404" in missing["message"]
