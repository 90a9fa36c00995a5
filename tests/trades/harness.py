"""Driving trades through real processes: a standalone paper broker and Tradewarden."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from tests.crash.harness import API_KEY, Stack

T = TypeVar("T")

FAST_ENV = {"TRADEWARDEN_MONITOR_INTERVAL_S": "0.3", "TRADEWARDEN_MONITOR_IDLE_INTERVAL_S": "0.3"}


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Trading:
    """API calls a test needs around trades, against a running :class:`Stack`."""

    def __init__(self, stack: Stack, key: str = API_KEY) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.url, timeout=30, headers={"X-API-Key": key})

    def prices(self, **prices: float) -> None:
        self.stack.control("prices", {"prices": {f"NSE:{s}": p for s, p in prices.items()}})

    def strategy(self, name: str, **settings: Any) -> dict[str, Any]:
        body = {"name": name, "settings": settings, "position_guards": False}
        response = self.http.post("/api/v1/strategies", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def signal(self, strategy: dict[str, Any], symbol: str, action: str,
               quantity: int) -> dict[str, Any]:
        response = self.http.post(f"/webhook/{strategy['webhook_token']}", json={
            "secret_key": strategy["webhook_secret"], "symbol": symbol, "exchange": "NSE",
            "action": action, "product": "MIS", **({"quantity": quantity} if quantity else {})})
        assert response.status_code == 200, response.text
        leg: dict[str, Any] = response.json()["orders"][0]
        return leg

    def active(self, strategy_id: int | None = None) -> list[dict[str, Any]]:
        params = {"strategy_id": strategy_id} if strategy_id else {}
        body = self.http.get("/api/v1/activetrades", params=params).json()
        trades: list[dict[str, Any]] = body["data"]["trades"]
        return trades

    def history(self, strategy_id: int | None = None) -> list[dict[str, Any]]:
        params = {"strategy_id": strategy_id} if strategy_id else {}
        trades: list[dict[str, Any]] = self.http.get(
            "/api/v1/tradehistory", params=params).json()["data"]["trades"]
        return trades

    def trade_of(self, order_id: str) -> dict[str, Any]:
        """The trade opened by entry order ``order_id`` (waits for it)."""
        def probe() -> dict[str, Any] | None:
            for trade in self.active() + self.history():
                if trade["entry_order_id"] == order_id:
                    return trade
            return None
        return wait_for(probe, f"a trade for order {order_id}")

    def closed(self, trade_id: int, timeout: float = 30) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            return next((t for t in self.history() if t["trade_id"] == trade_id), None)
        return wait_for(probe, f"trade {trade_id} to close", timeout)

    def live(self, trade_id: int) -> dict[str, Any] | None:
        return next((t for t in self.active() if t["trade_id"] == trade_id), None)

    def exits_at_broker(self, symbol: str, side: str) -> list[dict[str, Any]]:
        return [o for o in self.stack.broker_orders()
                if o["symbol"] == symbol and o["side"] == side]

    # --- helpers for the trades API and strategy-limit suites (appended) -----------------

    def price(self, symbol: str, price: float, volume: int | None = None) -> None:
        """Set one NSE price; ``volume`` limits the quantity available at it."""
        body: dict[str, Any] = {"prices": {f"NSE:{symbol}": price}}
        if volume is not None:
            body["volume"] = volume
        self.stack.control("prices", body)

    def call(self, endpoint: str, body: dict[str, Any] | None = None,
             key: str | None = None) -> httpx.Response:
        """``POST /api/v1/{endpoint}``; ``key`` replaces the client's API key header."""
        headers = {"X-API-Key": key} if key is not None else None
        return self.http.post(f"/api/v1/{endpoint}", json=body or {}, headers=headers)

    def entry(self, strategy: dict[str, Any], symbol: str, action: str, quantity: int,
              pricetype: str = "MARKET", price: float | None = None) -> dict[str, Any]:
        """A single-leg webhook entry with an order type and price."""
        body: dict[str, Any] = {
            "secret_key": strategy["webhook_secret"], "symbol": symbol, "exchange": "NSE",
            "action": action, "quantity": quantity, "product": "MIS", "pricetype": pricetype}
        if price is not None:
            body["price"] = price
        response = self.http.post(f"/webhook/{strategy['webhook_token']}", json=body)
        assert response.status_code == 200, response.text
        leg: dict[str, Any] = response.json()["orders"][0]
        return leg

    def order_when(self, order_id: str, check: Callable[[dict[str, Any]], bool],
                   what: str) -> dict[str, Any]:
        """Wait until ``GET /api/v1/orders/{id}`` satisfies ``check``."""
        def probe() -> dict[str, Any] | None:
            order = self.stack.order(order_id)
            return order if check(order) else None
        return wait_for(probe, f"order {order_id}: {what}")
