"""Broker faults during a stream of orders (BRIEF §9, issue 4): timeouts, 5xx and 429 on every
kind of broker call. Once the faults stop, everything converges to the broker's truth with no
duplicate tags at the broker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.crash.harness import API_KEY, Stack, check_consistency, converged

TOTAL = 300


@pytest.mark.slow
def test_orders_converge_after_broker_faults(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env={"TRADEWARDEN_BROKER_TIMEOUT_S": "1"})
    stack.start_broker()
    stack.control("prices", {"prices": {"NSE:SBIN": 800}})
    stack.start_service()
    try:
        stack.control("faults", {"timeout": 0.05, "error_5xx": 0.05, "rate_limit": 0.05,
                                 "retry_after_s": 0.2, "seed": 3})

        def place(i: int) -> str | None:
            body = {"apikey": API_KEY, "strategy": "chaos", "exchange": "NSE",
                    "symbol": "SBIN", "action": "BUY", "quantity": "1", "pricetype": "LIMIT",
                    "product": "MIS", "price": f"{(700 if i % 5 else 600) + i * 0.05:.2f}"}
            response = httpx.post(f"{stack.url}/api/v1/placeorder", json=body, timeout=30)
            return str(response.json()["orderid"]) if response.status_code == 200 else None

        with ThreadPoolExecutor(4) as pool:
            successes = [oid for oid in pool.map(place, range(TOTAL)) if oid is not None]
        assert len(successes) == TOTAL, "intake does not depend on the broker answering"
        stack.control("faults", {})
        stack.wait_settled(timeout=180)
        # every fifth price is outside the band: the broker rejects those after accepting them
        converged(lambda: check_consistency(stack, successes), timeout=90)
        log = (tmp_path / "tradewarden.log").read_text()
        assert "submission outcome unknown" in log, "the run must have exercised ambiguity"
    finally:
        stack.stop()
