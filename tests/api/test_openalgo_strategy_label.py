"""The OpenAlgo ``strategy`` field naming one of the caller's configured strategies means that
strategy (issue 13, item 8): positions, closeposition, cancelallorder and placement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey

INFY = InstrumentKey("NSE", "INFY")
Json = dict[str, Any]


def _strategy(server: Server, name: str) -> Json:
    response = server.client().post("/api/v1/strategies",
                                    json={"name": name, "position_guards": False})
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def _webhook(server: Server, strategy: Json, **leg: Any) -> Json:
    response = httpx.post(f"{server.url}/webhook/{strategy['webhook_token']}", json={
        "secret_key": strategy["webhook_secret"], "symbol": "INFY", "exchange": "NSE",
        "product": "MIS", **leg}, timeout=30)
    assert response.status_code == 200, response.text
    (order,) = response.json()["orders"]
    assert order["status"] != "denied", order
    result: Json = order
    return result


def _order(server: Server, orderid: str) -> Json:
    detail: Json = server.client().get(f"/api/v1/orders/{orderid}").json()
    return detail


def _until(server: Server, orderid: str, status: str) -> Json:
    server.wait_for(lambda: _order(server, orderid)["status"] == status)
    return _order(server, orderid)


def _position(server: Server, strategy: str) -> str:
    response = server.openalgo("openposition", strategy=strategy, exchange="NSE",
                               symbol="INFY", product="MIS")
    assert response.status_code == 200, response.text
    quantity: str = response.json()["quantity"]
    return quantity


def _placed(server: Server, strategy: str, **fields: Any) -> str:
    response = server.openalgo("placeorder", strategy=strategy, exchange="NSE", symbol="INFY",
                               product="MIS", **fields)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    orderid: str = body["orderid"]
    return orderid


def test_a_label_naming_a_configured_strategy_means_that_strategy(server: Server) -> None:
    server.simulator.exchange.set_prices({INFY: Decimal("1500")})
    # placed under the label before a strategy of that name existed: stays a free label
    early = _placed(server, "acc-tv", action="BUY", quantity="1", pricetype="MARKET")
    assert _until(server, early, "filled")["strategy_id"] is None
    strategy = _strategy(server, "acc-tv")

    bought = _webhook(server, strategy, action="BUY", quantity=3)
    assert _until(server, bought["orderid"], "filled")["strategy_id"] == strategy["id"]
    other = _placed(server, "scalper", action="BUY", quantity="2", pricetype="MARKET")
    _until(server, other, "filled")

    assert _position(server, "acc-tv") == "4"  # the strategy's 3 and the label's earlier 1
    assert _position(server, "scalper") == "2"

    # placing with the strategy's name books the order to the strategy
    more = _placed(server, "acc-tv", action="BUY", quantity="5", pricetype="MARKET")
    assert _until(server, more, "filled")["strategy_id"] == strategy["id"]
    assert _position(server, "acc-tv") == "9"
    smart = server.openalgo("placesmartorder", strategy="acc-tv", exchange="NSE", symbol="INFY",
                            product="MIS", action="BUY", quantity="1", position_size="7",
                            pricetype="MARKET")
    assert smart.status_code == 200, smart.text
    sold = _until(server, smart.json()["orderid"], "filled")
    assert (sold["side"], sold["quantity"], sold["strategy_id"]) == ("SELL", 2, strategy["id"])
    assert _position(server, "acc-tv") == "7"

    # cancelallorder: the strategy's resting orders (webhook and OpenAlgo), nobody else's
    resting = _webhook(server, strategy, action="BUY", quantity=4, pricetype="LIMIT",
                       price=1400)
    mine = _placed(server, "acc-tv", action="BUY", quantity="6", pricetype="LIMIT",
                   price="1390")
    theirs = _placed(server, "scalper", action="BUY", quantity="7", pricetype="LIMIT",
                     price="1380")
    for orderid in (resting["orderid"], mine, theirs):
        _until(server, orderid, "open")
    cancelled = server.openalgo("cancelallorder", strategy="acc-tv")
    assert cancelled.status_code == 200, cancelled.text
    assert sorted(cancelled.json()["canceled_orders"]) == sorted([resting["orderid"], mine])
    for orderid in (resting["orderid"], mine):
        _until(server, orderid, "cancelled")
    assert _order(server, theirs)["status"] == "open"

    # closeposition: each part closed where it is booked, the other label untouched
    closed = server.openalgo("closeposition", strategy="acc-tv")
    assert closed.status_code == 200, closed.text
    exits = [_until(server, orderid, "filled") for orderid in closed.json()["orderids"]]
    assert sorted((e["side"], e["quantity"], e["strategy_id"]) for e in exits) == sorted([
        ("SELL", 6, strategy["id"]), ("SELL", 1, None)])
    assert _position(server, "acc-tv") == "0"
    assert _position(server, "scalper") == "2"
    again = server.openalgo("closeposition", strategy="acc-tv").json()
    assert again["message"] == "No open positions to close"

    # the strategy's own books agree: flat, nothing working, so it can be deleted
    deleted = server.client().delete(f"/api/v1/strategies/{strategy['id']}")
    assert deleted.status_code == 204, deleted.text
