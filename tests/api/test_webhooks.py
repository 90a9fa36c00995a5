"""Webhooks: authentication, multi-leg intake with per-leg guard results, and bad input."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server
from tradewarden.domain.instruments import InstrumentKey


def _strategy(server: Server, **fields: Any) -> dict[str, Any]:
    response = server.client().post("/api/v1/strategies", json={"name": "breakout", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _post(server: Server, token: str, body: object, **headers: str) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{server.url}/webhook/{token}", content=raw,
                      headers={"Content-Type": "application/json", **headers}, timeout=30)


def _counts(server: Server) -> int:
    total: int = server.client().get("/api/v1/orders/stats").json()["total"]
    return total


def test_multi_leg_with_a_guarded_leg(server: Server) -> None:
    server.simulator.exchange.set_prices({InstrumentKey("NSE", "RELIANCE"): Decimal("2500"),
                                          InstrumentKey("NSE", "SBIN"): Decimal("800")})
    strategy = _strategy(server, mode="long")
    body = {"execution_type": "entry", "secret_key": strategy["webhook_secret"], "legs": [
        {"symbol": "RELIANCE", "exchange": "NSE", "action": "BUY", "quantity": 2,
         "pricetype": "MARKET", "product": "MIS"},
        {"symbol": "SBIN", "exchange": "NSE", "action": "SELL", "quantity": 3,
         "pricetype": "MARKET", "product": "MIS"},
    ]}
    response = _post(server, strategy["webhook_token"], body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "accepted" and answer["alert_id"]
    first, second = answer["orders"]
    assert (first["leg"], second["leg"]) == (0, 1)
    assert first["status"] in ("created", "submitting", "open", "filled")
    assert second["status"] == "denied" and second["reason_code"] == "guard_blocked"
    denied = server.client().get("/api/v1/orders", params={"status": "denied"}).json()
    assert [o["orderid"] for o in denied["items"]] == [second["orderid"]]
    assert denied["items"][0]["origin"] == "webhook"

    def reliance_filled() -> bool:
        return server.client().get(f"/api/v1/orders/{first['orderid']}").json()[
            "status"] == "filled"

    server.wait_for(reliance_filled)
    at_broker = [o for _, o in server.simulator.exchange.all_orders("paper-1")]
    assert [(o.symbol, o.quantity) for o in at_broker] == [("RELIANCE", 2)]

    # the strategy now holds RELIANCE: an exit leg takes side and quantity from the position
    exit_body = {"execution_type": "exit", "secret_key": strategy["webhook_secret"],
                 "legs": [{"symbol": "RELIANCE", "exchange": "NSE", "product": "MIS"}]}
    (exit_leg,) = _post(server, strategy["webhook_token"], exit_body).json()["orders"]
    detail = server.client().get(f"/api/v1/orders/{exit_leg['orderid']}").json()
    assert (detail["side"], detail["quantity"], detail["execution_type"]) == ("SELL", 2, "exit")


def test_hmac_signature_and_single_shape(server: Server) -> None:
    strategy = _strategy(server)
    raw = json.dumps({"symbol": "SBIN", "exchange": "NSE", "action": "BUY",
                      "quantity": "1"}).encode()
    signature = hmac.new(strategy["webhook_secret"].encode(), raw, hashlib.sha256).hexdigest()
    response = _post(server, strategy["webhook_token"], raw, **{"X-Signature": signature})
    assert response.status_code == 200, response.text
    assert len(response.json()["orders"]) == 1


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("unknown token", 401, "unknown webhook token"),
        ("wrong secret", 403, "wrong secret_key"),
        ("bad hmac", 403, "bad X-Signature"),
        ("no secret", 401, "missing secret_key"),
        ("malformed json", 422, "malformed JSON"),
        ("bad leg", 422, "quantity"),
        ("oversized", 413, "larger than"),
    ],
)
def test_bad_requests_write_nothing(server: Server, case: str, status: int,
                                    message: str) -> None:
    strategy = _strategy(server)
    token, secret = strategy["webhook_token"], strategy["webhook_secret"]
    good = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
            "secret_key": secret}
    headers: dict[str, str] = {}
    body: object = good
    if case == "unknown token":
        token = "no-such-token"
    elif case == "wrong secret":
        body = {**good, "secret_key": "guess"}
    elif case == "bad hmac":
        body, headers = {k: v for k, v in good.items() if k != "secret_key"}, {
            "X-Signature": "00" * 32}
    elif case == "no secret":
        body = {k: v for k, v in good.items() if k != "secret_key"}
    elif case == "malformed json":
        body = b'{"symbol": "SBIN", '
    elif case == "bad leg":
        body = {**good, "quantity": "-3"}
    elif case == "oversized":
        body = {**good, "padding": "x" * 70_000}
    response = _post(server, token, body, **headers)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]
    assert _counts(server) == 0


def test_strategy_crud_and_isolation(server: Server) -> None:
    created = _strategy(server, settings={"sizing": "fixed_quantity", "sizing_value": "5",
                                          "stop_loss": {"kind": "percent", "value": "2"}})
    assert created["webhook_url"].endswith(f"/webhook/{created['webhook_token']}")
    with server.client() as client:
        bad = client.post("/api/v1/strategies", json={
            "name": "pct", "settings": {"sizing": "percent_of_allocation", "sizing_value": "10"}})
        assert bad.status_code == 422 and "allocated_funds" in bad.text
        assert client.post("/api/v1/strategies", json={"name": "breakout"}).status_code == 409
        patched = client.patch(f"/api/v1/strategies/{created['id']}",
                               json={"is_paused": True, "rotate_secret": True}).json()
        assert patched["is_paused"] and patched["webhook_secret"] != created["webhook_secret"]
        assert [s["name"] for s in client.get("/api/v1/strategies").json()] == ["breakout"]
    bob = server.add_user("bob", "bob-paper")
    with server.client(bob) as client:
        assert client.get(f"/api/v1/strategies/{created['id']}").status_code == 404
        assert client.patch(f"/api/v1/strategies/{created['id']}",
                            json={"is_paused": False}).status_code == 404
        assert client.delete(f"/api/v1/strategies/{created['id']}").status_code == 404
        assert client.get("/api/v1/strategies").json() == []
    # a paused strategy's alerts are recorded and denied with a risk reason
    answer = _post(server, created["webhook_token"], {
        "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
        "secret_key": patched["webhook_secret"]}).json()
    assert answer["orders"][0]["reason_code"] == "risk_blocked"
    assert server.client().delete(f"/api/v1/strategies/{created['id']}").status_code == 204
    assert _post(server, created["webhook_token"], {"secret_key": "x"}).status_code == 401
