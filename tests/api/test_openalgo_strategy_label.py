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


def _smart(server: Server, strategy: str, position_size: str) -> Json:
    response = server.openalgo("placesmartorder", strategy=strategy, exchange="NSE",
                               symbol="INFY", product="MIS", action="BUY", quantity="0",
                               position_size=position_size, pricetype="MARKET")
    body: Json = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    return body


def test_a_smart_order_reduces_each_part_where_it_is_booked(server: Server) -> None:
    server.simulator.exchange.set_prices({INFY: Decimal("1500")})
    # a long of 10 under the free label, placed before the strategy of that name existed
    _until(server, _placed(server, "acc-tv", action="BUY", quantity="10"), "filled")
    strategy = _strategy(server, "acc-tv")

    # flattening sells the label's 10, booked to the label: the strategy gets no short
    flat = _smart(server, "acc-tv", "0")
    sold = _until(server, flat["orderid"], "filled")
    assert (sold["side"], sold["quantity"], sold["strategy_id"]) == ("SELL", 10, None)
    assert sold["execution_type"] == "exit"
    assert _position(server, "acc-tv") == "0"
    # so the strategy's own exit finds nothing to close (it would have bought 10)
    nothing = httpx.post(f"{server.url}/webhook/{strategy['webhook_token']}", json={
        "secret_key": strategy["webhook_secret"], "symbol": "INFY", "exchange": "NSE",
        "product": "MIS", "execution_type": "exit"}, timeout=30)
    assert nothing.status_code == 422 and "holds no INFY" in nothing.json()["message"]

    # a flip: the label's long is closed where it is booked, the new short is the strategy's
    _until(server, _placed(server, "swing", action="BUY", quantity="6"), "filled")
    swing = _strategy(server, "swing")
    _until(server, _webhook(server, swing, action="BUY", quantity=2)["orderid"], "filled")
    _until(server, _placed(server, "scalper", action="BUY", quantity="1"), "filled")
    assert _position(server, "swing") == "8"  # the strategy's 2 and the label's 6
    flip = _smart(server, "swing", "-3")
    orders = [_until(server, orderid, "filled") for orderid in flip["orderids"]]
    assert flip["orderid"] == flip["orderids"][-1]
    assert [(o["side"], o["quantity"], o["strategy_id"], o["execution_type"])
            for o in orders] == [("SELL", 6, None, "exit"),
                                 ("SELL", 5, swing["id"], "entry")]
    assert _position(server, "swing") == "-3"
    assert _position(server, "scalper") == "1"


def test_a_renamed_created_or_deleted_strategy_changes_what_its_label_means_at_once(
        server: Server) -> None:
    server.simulator.exchange.set_prices({INFY: Decimal("1500")})

    placed: list[str] = []

    def booked(label: str) -> int | None:  # each a new quantity: never a duplicate
        orderid = _placed(server, label, action="BUY", quantity=str(len(placed) + 1))
        placed.append(orderid)
        owner: int | None = _order(server, orderid)["strategy_id"]
        return owner

    assert booked("gamma") is None  # no strategy of that name (yet)
    strategy = _strategy(server, "gamma")
    assert booked("gamma") == strategy["id"]
    renamed = server.client().patch(f"/api/v1/strategies/{strategy['id']}",
                                     json={"name": "delta"})
    assert renamed.status_code == 200, renamed.text
    assert booked("gamma") is None
    assert booked("delta") == strategy["id"]
    server.openalgo("closeposition", strategy="delta")
    server.wait_for(lambda: _position(server, "delta") == "0")
    deleted = server.client().delete(f"/api/v1/strategies/{strategy['id']}")
    assert deleted.status_code == 204, deleted.text
    assert booked("delta") is None
