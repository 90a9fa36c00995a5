"""OpenAlgo-compatible routes over real HTTP against the in-process paper broker."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey

RELIANCE = InstrumentKey("NSE", "RELIANCE")
ORDER = {"strategy": "script", "exchange": "NSE", "symbol": "RELIANCE", "action": "BUY",
         "quantity": "5", "pricetype": "MARKET", "product": "MIS"}


def _status(server: Server, orderid: str) -> dict[str, object]:
    response = server.openalgo("orderstatus", orderid=orderid, strategy="script")
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()["data"]
    return data


def test_placeorder_fills_at_the_broker_and_reports_complete(server: Server) -> None:
    server.simulator.exchange.set_prices({RELIANCE: Decimal("2500")})
    response = server.openalgo("placeorder", **ORDER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and isinstance(body["orderid"], str)
    server.wait_for(lambda: _status(server, body["orderid"])["order_status"] == "complete")
    data = _status(server, body["orderid"])
    assert data["average_price"] == 2500.0 and data["quantity"] == "5"
    tags = [o.tag for _, o in server.simulator.exchange.all_orders("paper-1")]
    detail = server.client().get(f"/api/v1/orders/{body['orderid']}").json()
    assert tags.count(detail["client_order_id"]) == 1
    assert [e["type"] for e in detail["events"]][:2] == ["OrderCreated", "OrderSubmitted"]
    assert detail["status"] == "filled"
    position = server.openalgo("openposition", strategy="script", exchange="NSE",
                               symbol="RELIANCE", product="MIS").json()
    assert position == {"status": "success", "quantity": "5"}
    other = server.openalgo("openposition", strategy="other", exchange="NSE",
                            symbol="RELIANCE", product="MIS").json()
    assert other["quantity"] == "0", "positions belong to the strategy label"


def test_denied_order_answers_error_and_stays_visible(server: Server) -> None:
    first = server.openalgo("placeorder", **ORDER)
    second = server.openalgo("placeorder", **ORDER)
    assert first.status_code == 200
    assert second.status_code == 400
    denied = second.json()
    assert denied["status"] == "error" and denied["reason_code"] == "duplicate_blocked"
    book = server.openalgo("orderbook").json()["data"]
    row = next(o for o in book["orders"] if o["orderid"] == denied["orderid"])
    assert row["order_status"] == "rejected" and row["status"] == "denied"
    native = server.client().get("/api/v1/orders", params={"status": "denied"}).json()
    assert [o["orderid"] for o in native["items"]] == [denied["orderid"]]
    assert native["items"][0]["reason_code"] == "duplicate_blocked"


def test_bad_input_is_400_and_writes_nothing(server: Server) -> None:
    cases = [
        {**ORDER, "quantity": "2.5"},
        {**ORDER, "pricetype": "ICEBERG"},
        {**ORDER, "exchange": "NYSE"},
        {**ORDER, "action": ""},
        {k: v for k, v in ORDER.items() if k != "symbol"},
        {**ORDER, "stoploss": "10"},
    ]
    for body in cases:
        response = server.openalgo("placeorder", **body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["status"] == "error" and response.json()["message"]
    raw = server.client().post("/api/v1/placeorder", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert raw.status_code == 400 and "malformed JSON" in raw.json()["message"]
    stats = server.client().get("/api/v1/orders/stats").json()
    assert stats["total"] == 0


def test_off_tick_price_is_denied_before_the_broker(server: Server) -> None:
    response = server.openalgo("placeorder", **{**ORDER, "pricetype": "LIMIT",
                                                "price": "2500.03"})
    assert response.status_code == 400
    assert response.json()["reason_code"] == "validation_failed"
    assert "tick size" in response.json()["message"]
    assert server.simulator.exchange.all_orders("paper-1") == []


def test_bad_or_missing_key_is_403(server: Server) -> None:
    assert server.openalgo("orderbook", key="tw_wrong_key_0000000000000000").status_code == 403
    no_key = server.client().post("/api/v1/funds", json={}, headers={"X-API-Key": ""})
    assert no_key.status_code == 403
    assert no_key.json() == {"status": "error", "message": "Invalid openalgo apikey"}
    assert server.client(key="nope").get("/api/v1/orders").status_code == 403


def test_failed_authentication_is_rate_limited(server: Server) -> None:
    codes = [server.openalgo("funds", key=f"tw_bad_{i:030d}").status_code for i in range(12)]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429]
    # a valid key is never held back by failures (someone else's, from the same address)
    assert server.openalgo("funds").status_code == 200
    assert server.openalgo("funds", key="tw_bad_again_0000000000000000000").status_code == 429


def test_other_users_orders_are_404_everywhere(server: Server) -> None:
    placed = server.openalgo("placeorder", **{**ORDER, "pricetype": "LIMIT", "price": "2400"})
    orderid = placed.json()["orderid"]
    bob = server.add_user("bob", "bob-paper")
    assert server.openalgo("orderstatus", key=bob, orderid=orderid,
                           strategy="x").status_code == 404
    assert server.openalgo("cancelorder", key=bob, orderid=orderid,
                           strategy="x").status_code == 404
    assert server.openalgo("modifyorder", key=bob, orderid=orderid, strategy="x",
                           exchange="NSE", symbol="RELIANCE", action="BUY", product="MIS",
                           pricetype="LIMIT", price="2410", quantity="5").status_code == 404
    with server.client(bob) as client:
        assert client.get(f"/api/v1/orders/{orderid}").status_code == 404
        assert client.post(f"/api/v1/orders/{orderid}/retry").status_code == 404
        assert client.delete(f"/api/v1/orders/{orderid}").status_code == 404
        assert client.post(f"/api/v1/orders/{orderid}/cancel").status_code == 404
        assert client.get("/api/v1/orders").json()["total"] == 0
    assert server.openalgo("orderbook", key=bob).json()["data"]["orders"] == []
    assert _status(server, orderid)["order_status"] == "open"


def test_cancel_and_modify_a_resting_limit_order(server: Server) -> None:
    server.simulator.exchange.set_prices({RELIANCE: Decimal("2500")})
    placed = server.openalgo("placeorder", **{**ORDER, "pricetype": "LIMIT", "price": "2400"})
    orderid = placed.json()["orderid"]
    server.wait_for(lambda: _status(server, orderid)["status"] == "open")
    modified = server.openalgo("modifyorder", orderid=orderid, strategy="script", exchange="NSE",
                               symbol="RELIANCE", action="BUY", product="MIS",
                               pricetype="LIMIT", price="2410", quantity="5")
    assert modified.json() == {"status": "success", "orderid": orderid}
    assert _status(server, orderid)["price"] == 2410.0
    (broker_order,) = [o for _, o in server.simulator.exchange.all_orders("paper-1")]
    assert broker_order.price == Decimal("2410")
    cancelled = server.openalgo("cancelorder", orderid=orderid, strategy="script")
    assert cancelled.json() == {"status": "success", "orderid": orderid}
    server.wait_for(lambda: _status(server, orderid)["order_status"] in ("cancelled", "open"))
    again = server.openalgo("cancelorder", orderid=orderid, strategy="script")
    assert again.status_code == 400


def test_modify_can_change_the_price_type_and_is_validated_like_a_new_order(
        server: Server) -> None:
    server.simulator.exchange.set_prices({RELIANCE: Decimal("2500")})
    placed = server.openalgo("placeorder", **{**ORDER, "pricetype": "LIMIT", "price": "2400"})
    orderid = placed.json()["orderid"]
    server.wait_for(lambda: _status(server, orderid)["status"] == "open")
    fields = {"orderid": orderid, "strategy": "script", "exchange": "NSE", "symbol": "RELIANCE",
              "action": "BUY", "product": "MIS", "quantity": "5"}

    def broker_order() -> Any:
        (only,) = [o for _, o in server.simulator.exchange.all_orders("paper-1")]
        return only

    off_grid = server.openalgo("modifyorder", **fields, pricetype="LIMIT", price="2410.03")
    assert off_grid.status_code == 400 and "tick" in off_grid.json()["message"]
    no_trigger = server.openalgo("modifyorder", **fields, pricetype="SL", price="2410")
    assert no_trigger.status_code == 400 and "trigger" in no_trigger.json()["message"]
    assert broker_order().price == Decimal("2400")  # nothing was sent
    assert _status(server, orderid)["pricetype"] == "LIMIT"

    to_market = server.openalgo("modifyorder", **fields, pricetype="MARKET", price="0")
    assert to_market.json() == {"status": "success", "orderid": orderid}
    server.wait_for(lambda: _status(server, orderid)["order_status"] == "complete")
    status = _status(server, orderid)
    assert status["pricetype"] == "MARKET" and status["average_price"] == 2500.0
    assert broker_order().order_type.value == "MARKET"
    events = server.client().get(f"/api/v1/orders/{orderid}").json()["events"]
    # the invalid changes were refused before anything was recorded or sent
    assert [e["type"] for e in events].count("OrderModifyRequested") == 1
    assert "OrderModifyRejected" not in [e["type"] for e in events]
    modified = [e for e in events if e["type"] == "OrderModified"]
    assert modified[-1]["payload"]["changes"]["order_type"] == {"old": "LIMIT", "new": "MARKET"}
    assert modified[-1]["payload"]["changes"]["price"] == {"old": "2400", "new": None}


def test_split_basket_and_smart_orders(server: Server) -> None:
    server.simulator.exchange.set_prices({RELIANCE: Decimal("2500"),
                                          InstrumentKey("NSE", "SBIN"): Decimal("800")})
    split = server.openalgo("splitorder", **{**ORDER, "quantity": "25", "splitsize": "10"}).json()
    assert split["status"] == "success" and split["total_quantity"] == 25
    assert [(r["quantity"], r["status"]) for r in split["results"]] == [
        (10, "success"), (10, "success"), (5, "success")], "split children are not duplicates"
    basket = server.openalgo("basketorder", strategy="basket", orders=[
        {"exchange": "NSE", "symbol": "SBIN", "action": "SELL", "quantity": "1"},
        {"exchange": "NSE", "symbol": "SBIN", "action": "BUY", "quantity": "2"},
    ]).json()
    assert [r["status"] for r in basket["results"]] == ["success", "success"]

    def position() -> str:
        return str(server.openalgo("openposition", strategy="script", exchange="NSE",
                                   symbol="RELIANCE", product="MIS").json()["quantity"])

    server.wait_for(lambda: position() == "25")
    smart = server.openalgo("placesmartorder", **{**ORDER, "quantity": "0",
                                                  "position_size": "10"}).json()
    assert smart["status"] == "success" and "orderid" in smart
    server.wait_for(lambda: position() == "10")
    matched = server.openalgo("placesmartorder", **{**ORDER, "quantity": "0",
                                                    "position_size": "10"}).json()
    assert matched == {"status": "success",
                       "message": "Positions Already Matched. No Action needed."}
    closed = server.openalgo("closeposition", strategy="script").json()
    assert closed["status"] == "success"
    server.wait_for(lambda: position() == "0")
    assert server.openalgo("closeposition", strategy="script").json()["message"] == (
        "No open positions to close")


def test_books_and_ping(server: Server) -> None:
    server.simulator.exchange.set_prices({RELIANCE: Decimal("2500")})
    server.openalgo("placeorder", **ORDER)
    server.wait_for(lambda: len(server.openalgo("tradebook").json()["data"]) == 1)
    (trade,) = server.openalgo("tradebook").json()["data"]
    assert trade["quantity"] == 5 and trade["average_price"] == 2500.0
    positions = server.openalgo("positionbook").json()["data"]
    assert positions[0]["quantity"] == "5" and isinstance(positions[0]["average_price"], str)
    funds = server.openalgo("funds").json()["data"]
    assert set(funds) == {"availablecash", "collateral", "m2mrealized", "m2munrealized",
                          "utiliseddebits"}
    assert all(isinstance(v, str) for v in funds.values())
    holdings = server.openalgo("holdings").json()
    assert holdings["status"] == "success" and "statistics" in holdings["data"]
    assert server.openalgo("ping").json() == {"status": "success",
                                              "data": {"message": "pong", "broker": "paper"}}
    assert server.client().get("/api/v1/ping").status_code == 200
