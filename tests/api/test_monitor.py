"""The order monitor against the paper broker: our cancels, manual activity, partial fills."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from tests.api.conftest import Server
from tradewarden.brokers.base import ModifyRequest
from tradewarden.domain.instruments import InstrumentKey

SBIN = InstrumentKey("NSE", "SBIN")
LIMIT = {"strategy": "m", "exchange": "NSE", "symbol": "SBIN", "action": "BUY",
         "quantity": "10", "pricetype": "LIMIT", "price": "790", "product": "MIS"}


def _detail(server: Server, orderid: str) -> dict[str, Any]:
    detail: dict[str, Any] = server.client().get(f"/api/v1/orders/{orderid}").json()
    return detail


def _resting(server: Server, **fields: str) -> tuple[str, str]:
    server.simulator.exchange.set_prices({SBIN: Decimal("800")})
    orderid = server.openalgo("placeorder", **{**LIMIT, **fields}).json()["orderid"]
    server.wait_for(lambda: _detail(server, orderid)["status"] == "open")
    return orderid, str(_detail(server, orderid)["broker_order_id"])


def test_our_cancel_is_confirmed_by_the_monitor(server: Server) -> None:
    orderid, _ = _resting(server)
    assert server.client().post(f"/api/v1/orders/{orderid}/cancel").json()["status"] == (
        "pending_cancel")
    server.wait_for(lambda: _detail(server, orderid)["status"] == "cancelled")
    detail = _detail(server, orderid)
    assert detail["cancelled_by"] == "user"
    assert detail["events"][-1]["source"] == "reconciliation"


def test_manual_cancel_and_modify_at_the_broker(server: Server) -> None:
    cancelled, cancelled_at_broker = _resting(server)
    modified, modified_at_broker = _resting(server, price="785")
    server.simulator.exchange.cancel(None, cancelled_at_broker)
    server.simulator.exchange.modify(None, modified_at_broker,
                                     ModifyRequest(price=Decimal("780"), quantity=12))
    server.wait_for(lambda: _detail(server, cancelled)["status"] == "cancelled")
    gone = _detail(server, cancelled)
    assert gone["cancelled_by"] == "manual" and gone["events"][-1]["source"] == "manual"
    server.wait_for(lambda: _detail(server, modified)["price"] == "780")
    changed = _detail(server, modified)
    assert changed["quantity"] == 12 and changed["status"] == "open"
    event = changed["events"][-1]
    assert event["type"] == "OrderModified" and event["source"] == "manual"
    assert event["payload"]["changes"] == {"quantity": {"old": 10, "new": 12},
                                           "price": {"old": "785", "new": "780"}}


def test_partial_then_full_fill_records_each_fill_once(server: Server) -> None:
    orderid, _ = _resting(server)
    exchange = server.simulator.exchange
    exchange.set_prices({SBIN: Decimal("789")}, volume=3)
    server.wait_for(lambda: _detail(server, orderid)["filled_quantity"] == 3)
    time.sleep(1.0)  # several more monitor cycles with nothing new
    partial = _detail(server, orderid)
    assert partial["status"] == "partially_filled" and len(partial["fills"]) == 1
    exchange.set_prices({SBIN: Decimal("789")}, volume=100)
    server.wait_for(lambda: _detail(server, orderid)["status"] == "filled")
    done = _detail(server, orderid)
    assert done["filled_quantity"] == 10
    assert [f["quantity"] for f in done["fills"]] == [3, 7]


def test_an_order_placed_at_the_brokers_app_is_recorded_as_external(server: Server) -> None:
    from tradewarden.brokers.base import OrderRequest
    from tradewarden.domain.orders import OrderType, Product, Side

    server.simulator.exchange.set_prices({SBIN: Decimal("800")})
    ours, _ = _resting(server)  # our own orders must never be taken for external ones
    broker_id = server.simulator.exchange.place("paper-1", OrderRequest(
        exchange="NSE", symbol="SBIN", side=Side.SELL, quantity=4, order_type=OrderType.LIMIT,
        product=Product.MIS, price=Decimal("850")))

    def external() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = server.client().get(
            "/api/v1/orders", params={"origin": "external"}).json()["items"]
        return items

    server.wait_for(lambda: len(external()) == 1)
    (found,) = external()
    assert (found["broker_order_id"], found["status"], found["side"], found["quantity"]) == (
        broker_id, "open", "SELL", 4)
    assert found["account_id"] == _detail(server, ours)["account_id"]
    time.sleep(1.0)  # later cycles do not record it again
    assert len(external()) == 1
    assert server.client().get("/api/v1/orders").json()["total"] == 2


def test_metrics_show_orders_broker_calls_cycles_and_corrections(server: Server) -> None:
    orderid, broker_id = _resting(server)
    server.simulator.exchange.cancel(None, broker_id)
    server.wait_for(lambda: _detail(server, orderid)["status"] == "cancelled")
    response = server.client().get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'tradewarden_orders{status="cancelled"} 1' in text
    assert 'tradewarden_broker_call_seconds_count{broker="paper",call="place"} 1' in text
    assert "tradewarden_monitor_cycle_seconds_count" in text
    assert ('tradewarden_reconciliation_corrections_total{source="manual",'
            'type="OrderCancelled"} 1') in text
    assert "# TYPE tradewarden_broker_call_seconds histogram" in text


def test_holdings_changed_elsewhere_become_manual_buy_and_sell_events(server: Server) -> None:
    exchange = server.simulator.exchange
    exchange.set_prices({SBIN: Decimal("800")})
    bought = server.openalgo("placeorder", **{**LIMIT, "pricetype": "MARKET", "price": "0",
                                              "quantity": "5", "product": "CNC"})
    orderid = bought.json()["orderid"]
    server.wait_for(lambda: _detail(server, orderid)["status"] == "filled")

    def events() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = server.client().get("/api/v1/positions/events").json()
        return items

    time.sleep(2.5)  # holdings are compared every few cycles: our own buy explains itself
    assert events() == []
    exchange.set_holding("paper-1", SBIN, 3)  # bought at another broker app, say
    server.wait_for(lambda: len(events()) == 1)
    (first,) = events()
    assert (first["kind"], first["quantity"], first["expected"], first["actual"]) == (
        "manual_buy", 3, 5, 8)
    exchange.set_holding("paper-1", SBIN, 0)
    server.wait_for(lambda: len(events()) == 2)
    latest = events()[0]
    assert (latest["kind"], latest["quantity"]) == ("manual_sell", 3)
    time.sleep(2.5)
    assert len(events()) == 2, "a discrepancy is recorded once"
