"""The retry queue end to end: insufficient funds → retry_pending → more cash → filled."""

from __future__ import annotations

from decimal import Decimal

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey

BUY = {"strategy": "swing", "exchange": "NSE", "symbol": "RELIANCE", "action": "BUY",
       "quantity": "10", "pricetype": "LIMIT", "price": "2500", "product": "CNC"}


def _order(server: Server, orderid: str) -> dict[str, object]:
    detail: dict[str, object] = server.client().get(f"/api/v1/orders/{orderid}").json()
    return detail


def test_insufficient_funds_is_retried_with_a_new_attempt(server: Server) -> None:
    exchange = server.simulator.exchange
    exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2500")})
    exchange.set_cash("paper-1", Decimal("1000"))
    orderid = server.openalgo("placeorder", **BUY).json()["orderid"]
    server.wait_for(lambda: _order(server, orderid)["status"] == "retry_pending")
    queued = _order(server, orderid)
    assert queued["reason_code"] == "insufficient_funds"
    assert queued["first_failed_at"] is not None and queued["next_retry_at"] is not None
    first_tag = queued["client_order_id"]
    listed = server.client().get("/api/v1/orders", params={"status": "retry_pending"}).json()
    assert [o["orderid"] for o in listed["items"]] == [orderid]

    exchange.set_cash("paper-1", Decimal("1000000"))
    retried = server.client().post(f"/api/v1/orders/{orderid}/retry")
    assert retried.status_code == 200, retried.text
    server.wait_for(lambda: _order(server, orderid)["status"] == "filled")
    done = _order(server, orderid)
    assert done["retry_count"] == 1 and done["last_retry_at"] is not None
    assert done["client_order_id"] != first_tag
    tags = [o.tag for _, o in exchange.all_orders("paper-1")]
    assert tags.count(first_tag) <= 1 and tags.count(done["client_order_id"]) == 1
    types = [e["type"] for e in done["events"]]  # type: ignore[union-attr]
    assert types.count("OrderSubmitted") == 2 and "OrderRetryScheduled" in types
    # only failed / retry_pending orders can be retried or dropped
    assert server.client().post(f"/api/v1/orders/{orderid}/retry").status_code == 409
    assert server.client().delete(f"/api/v1/orders/{orderid}").status_code == 409


def test_drop_cancels_with_a_reason(server: Server) -> None:
    exchange = server.simulator.exchange
    exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2500")})
    exchange.set_cash("paper-1", Decimal("10"))
    orderid = server.openalgo("placeorder", **BUY).json()["orderid"]
    server.wait_for(lambda: _order(server, orderid)["status"] == "retry_pending")
    dropped = server.client().delete(f"/api/v1/orders/{orderid}")
    assert dropped.status_code == 200
    body = dropped.json()
    assert body["status"] == "cancelled" and body["cancelled_by"] == "user"
    assert body["reason"] == "dropped from retry queue"


def test_cli_retry_and_drop(server: Server) -> None:
    from tests.procs import tradewarden

    exchange = server.simulator.exchange
    exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2500")})
    exchange.set_cash("paper-1", Decimal("100"))
    data_dir = str(server.settings.data_dir)
    first = server.openalgo("placeorder", **BUY).json()["orderid"]
    second = server.openalgo("placeorder", **{**BUY, "quantity": "11"}).json()["orderid"]
    server.wait_for(lambda: all(_order(server, o)["status"] == "retry_pending"
                                for o in (first, second)))
    dropped = tradewarden("orders", "drop", second, "--data-dir", data_dir)
    assert dropped.returncode == 0, dropped.stderr
    assert "retry_pending -> cancelled" in dropped.stdout
    exchange.set_cash("paper-1", Decimal("1000000"))
    retried = tradewarden("orders", "retry", first, "--data-dir", data_dir)
    assert retried.returncode == 0, retried.stderr
    server.wait_for(lambda: _order(server, first)["status"] == "filled", timeout=30)
    again = tradewarden("orders", "drop", first, "--data-dir", data_dir)
    assert again.returncode == 2 and "only failed or retry_pending" in again.stderr
    missing = tradewarden("orders", "retry", "NOPE", "--data-dir", data_dir)
    assert missing.returncode == 2 and "no order NOPE" in missing.stderr
