"""Manual activity at the broker's own app, seen through the standalone paper broker (issue 5)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.crash.harness import API_KEY, Stack


@pytest.mark.slow
def test_manual_cancel_modify_external_order_and_holding(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env={"TRADEWARDEN_MONITOR_INTERVAL_S": "0.5",
                                 "TRADEWARDEN_MONITOR_IDLE_INTERVAL_S": "0.5"})
    stack.start_broker()
    stack.control("prices", {"prices": {"NSE:SBIN": 800, "NSE:INFY": 1500}})
    stack.control("manual/holdings", {"account": "paper-1", "symbol": "INFY",
                                      "exchange": "NSE", "quantity": 7})  # held from before
    stack.start_service()
    headers = {"X-API-Key": API_KEY}
    try:
        placed = []
        for price in ("790", "780"):
            placed.append(httpx.post(f"{stack.url}/api/v1/placeorder", json={
                "apikey": API_KEY, "strategy": "manual", "exchange": "NSE", "symbol": "SBIN",
                "action": "BUY", "quantity": "5", "pricetype": "LIMIT", "product": "MIS",
                "price": price}, timeout=30).json()["orderid"])
        stack.wait_settled()
        deadline = time.monotonic() + 30
        while not httpx.get(f"{stack.url}/api/v1/positions/events", headers=headers,
                            timeout=30).json():  # the holding from before is noticed first
            assert time.monotonic() < deadline, "existing holding not noticed"
            time.sleep(0.5)
        cancelled, modified = (stack.order(o)["broker_order_id"] for o in placed)
        stack.control("manual/cancel", {"broker_order_id": cancelled})
        stack.control("manual/modify", {"broker_order_id": modified, "price": 775})
        external = stack.control("manual/orders", {
            "account": "paper-1", "exchange": "NSE", "symbol": "INFY", "side": "BUY",
            "quantity": 2, "order_type": "LIMIT", "price": 1400, "product": "CNC"})
        stack.control("manual/holdings", {"account": "paper-1", "symbol": "INFY",
                                          "exchange": "NSE", "quantity": 4})  # sold elsewhere

        def settled() -> bool:
            first, second = (stack.order(o) for o in placed)
            externals = httpx.get(f"{stack.url}/api/v1/orders", params={"origin": "external"},
                                  headers=headers, timeout=30).json()["items"]
            events = httpx.get(f"{stack.url}/api/v1/positions/events", headers=headers,
                               timeout=30).json()
            return (first["status"] == "cancelled" and second["price"] == "775"
                    and len(externals) == 1 and len(events) == 2)

        deadline = time.monotonic() + 30
        while not settled():
            assert time.monotonic() < deadline, "manual activity not reconciled in time"
            time.sleep(0.5)
        first, second = (stack.order(o) for o in placed)
        assert (first["cancelled_by"], first["events"][-1]["source"]) == ("manual", "manual")
        assert second["events"][-1]["type"] == "OrderModified"
        assert second["events"][-1]["source"] == "manual"
        (ext,) = httpx.get(f"{stack.url}/api/v1/orders", params={"origin": "external"},
                           headers=headers, timeout=30).json()["items"]
        assert ext["broker_order_id"] == external["broker_order_id"]
        assert (ext["symbol"], ext["status"], ext["account_id"]) == ("INFY", "open", 1)
        sold, held = httpx.get(f"{stack.url}/api/v1/positions/events", headers=headers,
                               timeout=30).json()  # newest first
        assert (held["kind"], held["symbol"], held["quantity"]) == ("manual_buy", "INFY", 7)
        assert (sold["kind"], sold["symbol"], sold["quantity"]) == ("manual_sell", "INFY", 3)
    finally:
        stack.stop()
