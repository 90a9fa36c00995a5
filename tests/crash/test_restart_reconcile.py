"""Changes at the broker while Tradewarden is down are reconciled before it reports ready."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.crash.harness import API_KEY, Stack


@pytest.mark.slow
def test_startup_reconciles_what_happened_while_down(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.start_broker()
    stack.control("prices", {"prices": {"NSE:SBIN": 800}})
    stack.start_service()
    try:
        placed = []
        for price in ("790", "780", "770"):
            response = httpx.post(f"{stack.url}/api/v1/placeorder", json={
                "apikey": API_KEY, "strategy": "down", "exchange": "NSE", "symbol": "SBIN",
                "action": "BUY", "quantity": "5", "pricetype": "LIMIT", "product": "MIS",
                "price": price}, timeout=30)
            placed.append(response.json()["orderid"])
        stack.wait_settled()
        _, cancelled, modified = [stack.order(o)["broker_order_id"] for o in placed]
        stack.kill_service()

        stack.control("prices", {"prices": {"NSE:SBIN": 789}})  # fills the 790 buy
        stack.control("manual/cancel", {"broker_order_id": cancelled})
        stack.control("manual/modify", {"broker_order_id": modified, "price": 765})

        stack.start_service()
        # /healthz is 200 only after the startup reconciliation: the DB must agree right away
        statuses = {o: stack.order(o) for o in placed}
        assert statuses[placed[0]]["status"] == "filled"
        assert statuses[placed[1]]["status"] == "cancelled"
        assert statuses[placed[1]]["cancelled_by"] == "manual"
        assert statuses[placed[2]]["price"] == "765"
        log = (tmp_path / "tradewarden.log").read_text()
        report = log[log.rindex("startup:"):]
        for order_id in placed:
            assert order_id in report
    finally:
        stack.stop()
