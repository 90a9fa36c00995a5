"""Regressions from review: hostile input, batch isolation, leg order, cancel attribution."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.intents import OrderIntent
from tradewarden.domain.orders import OrderType, Side

SBIN = InstrumentKey("NSE", "SBIN")
ORDER = {"strategy": "s", "exchange": "NSE", "symbol": "SBIN", "action": "BUY",
         "quantity": "1", "pricetype": "LIMIT", "price": "790", "product": "MIS"}


def _total(server: Server) -> int:
    total: int = server.client().get("/api/v1/orders/stats").json()["total"]
    return total


@pytest.mark.parametrize("field, value", [
    ("price", "1000000000000000000000000000"), ("price", "1e600000"),
    ("quantity", "100000000000000000000"), ("quantity", "1e600000"), ("price", "NaN"),
    ("quantity", ["1"]),
])
def test_out_of_range_numbers_are_400_and_write_nothing(server: Server, field: str,
                                                        value: Any) -> None:
    response = server.openalgo("placeorder", **{**ORDER, field: value})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert _total(server) == 0
    assert server.openalgo("orderbook").status_code == 200


def test_strangers_get_403_before_any_parsing(server: Server) -> None:
    response = server.openalgo("placeorder", key="tw_wrong_0000000000000000000000",
                               **{**ORDER, "quantity": "1e600000"})
    assert response.status_code == 403


def test_one_unrecordable_signal_does_not_sink_its_batch(server: Server) -> None:
    intake = server.services.engine.intake
    account = server.run(server.services.engine.default_account(1))
    assert isinstance(account, int)

    def intent(quantity: int) -> OrderIntent:
        return OrderIntent(account_id=account, exchange="NSE", symbol="SBIN", side=Side.BUY,
                           quantity=quantity, order_type=OrderType.LIMIT,
                           price=Decimal("790"), strategy_label="batch")

    async def both() -> list[Any]:
        return await asyncio.gather(intake.submit(1, [intent(1)]),
                                    intake.submit(1, [intent(10**20)]),
                                    return_exceptions=True)

    good, bad = server.run(both())  # type: ignore[misc]
    assert isinstance(bad, Exception)
    assert good[0].order.status.value in ("created", "submitting", "open")
    assert _total(server) == 1


def test_cancel_refused_by_the_broker_is_an_error(server: Server) -> None:
    server.simulator.exchange.set_prices({SBIN: Decimal("800")})
    orderid = server.openalgo("placeorder", **ORDER).json()["orderid"]
    server.wait_for(lambda: server.client().get(f"/api/v1/orders/{orderid}").json()["status"]
                    == "open")
    server.simulator.exchange.set_prices({SBIN: Decimal("789")})  # fills at the broker
    response = server.openalgo("cancelorder", orderid=orderid, strategy="s")
    assert response.status_code == 400 and "refused" in response.json()["message"]


def _webhook(server: Server, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/webhook/{token}", content=json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"}, timeout=30)


def test_legs_reach_the_broker_in_the_signal_order(server: Server) -> None:
    symbols = ["SBIN", "INFY", "TCS", "ITC", "WIPRO", "HDFCBANK"]
    server.simulator.exchange.set_prices({InstrumentKey("NSE", s): Decimal("1000")
                                          for s in symbols})
    strategy = server.client().post("/api/v1/strategies", json={"name": "basket"}).json()
    body = {"secret_key": strategy["webhook_secret"], "legs": [
        {"symbol": s, "exchange": "NSE", "action": "BUY", "quantity": 1} for s in symbols]}
    answer = _webhook(server, strategy["webhook_token"], body).json()
    assert [o["leg"] for o in answer["orders"]] == list(range(6))

    def placed() -> list[str]:
        return [o.symbol for _, o in server.simulator.exchange.all_orders("paper-1")]

    server.wait_for(lambda: len(placed()) == 6)
    assert placed() == symbols


def test_smart_alert_that_flips_a_long_only_position(server: Server) -> None:
    server.simulator.exchange.set_prices({SBIN: Decimal("800")})
    strategy = server.client().post("/api/v1/strategies",
                                    json={"name": "longonly", "mode": "long"}).json()
    token, secret = strategy["webhook_token"], strategy["webhook_secret"]
    first = _webhook(server, token, {"symbol": "SBIN", "exchange": "NSE", "action": "BUY",
                                     "quantity": 10, "secret_key": secret}).json()
    orderid = first["orders"][0]["orderid"]
    server.wait_for(lambda: server.client().get(f"/api/v1/orders/{orderid}").json()["status"]
                    == "filled")
    flip = _webhook(server, token, {"symbol": "SBIN", "exchange": "NSE", "action": "SELL",
                                    "position_size": -5, "secret_key": secret}).json()
    exit_leg, entry_leg = flip["orders"]
    exit_order = server.client().get(f"/api/v1/orders/{exit_leg['orderid']}").json()
    assert (exit_order["side"], exit_order["quantity"], exit_order["execution_type"]) == (
        "SELL", 10, "exit")
    assert entry_leg["status"] == "denied" and entry_leg["reason_code"] == "guard_blocked"


@pytest.mark.parametrize("path", [
    "/api/v1/orders?strategy=%C2%B2",
    "/api/v1/orders?strategy=99999999999999999999",
])
def test_odd_filters_are_answered(server: Server, path: str) -> None:
    response = server.client().get(path)
    assert response.status_code == 200 and response.json()["total"] == 0


@pytest.mark.parametrize("path", [
    "/api/v1/orders?page=1000000000000000000",
    "/api/v1/orders?to_date=9999-12-31",
    "/api/v1/orders?from_date=0001-01-01",
    "/api/v1/strategies/99999999999999999999",
])
def test_out_of_range_queries_are_422(server: Server, path: str) -> None:
    assert server.client().get(path).status_code == 422


def test_non_ascii_signature_is_403(server: Server) -> None:
    strategy = server.client().post("/api/v1/strategies", json={"name": "sig"}).json()
    response = httpx.post(f"{server.url}/webhook/{strategy['webhook_token']}",
                          content=b'{"symbol": "SBIN"}',
                          headers={"X-Signature": "\u00e9\u00e9".encode()},
                          timeout=30)
    assert response.status_code == 403
    assert _total(server) == 0


def test_idempotency_key_blocks_a_repeat(server: Server) -> None:
    first = httpx.post(f"{server.url}/api/v1/placeorder", timeout=30,
                       headers={"Idempotency-Key": "sig-42"},
                       json={"apikey": server.key, **ORDER})
    assert first.status_code == 200
    later = {**ORDER, "price": "785", "idempotency_key": "sig-42"}  # different, same key
    again = server.openalgo("placeorder", **later)
    assert again.status_code == 400 and again.json()["reason_code"] == "duplicate_blocked"
    assert "idempotency key" in again.json()["message"]
    other = server.openalgo("placeorder", **{**ORDER, "price": "780", "idempotency_key": "x"})
    assert other.status_code == 200
    assert _total(server) == 3


def test_oversized_openalgo_body_is_413_and_writes_nothing(server: Server) -> None:
    body = json.dumps({**ORDER, "apikey": "x", "padding": "x" * 300_000})
    response = httpx.post(f"{server.url}/api/v1/placeorder", content=body,
                          headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 413
    assert response.json() == {"status": "error", "message": "request body too large"}
    assert _total(server) == 0


def test_unexpected_failure_on_the_openalgo_path_is_a_json_500(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(_user_id: int) -> int:
        raise RuntimeError("account directory unavailable")

    monkeypatch.setattr(server.services.engine, "default_account", broken)
    response = server.openalgo("placeorder", **ORDER)
    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "internal error"}
    assert "account directory" not in response.text
    # the native routes (FastAPI's own stack) still answer, and nothing was recorded
    assert _total(server) == 0


def test_other_methods_on_openalgo_paths_reach_fastapi(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/placeorder", timeout=10)
    assert response.status_code == 405
    assert server.openalgo("ping").json()["status"] == "success"
