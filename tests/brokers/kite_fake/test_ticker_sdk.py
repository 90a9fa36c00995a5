"""The fake's websocket read by the official ``KiteTicker`` (in a child process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from kiteconnect import KiteConnect

from tests.brokers.kite_fake.conftest import API_KEY, FakeServer


@pytest.mark.slow
def test_kite_ticker_decodes_full_ticks_and_order_updates(
    fake: FakeServer, kite: KiteConnect
) -> None:
    fake.control("prices", {"prices": {"NSE:INFY": 1500.75}})
    token = kite.ltp("NSE:INFY")["NSE:INFY"]["instrument_token"]
    ws_url = fake.url.replace("http://", "ws://")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.brokers.kite_fake.ticker_child",
            ws_url,
            API_KEY,
            str(kite.access_token),
            str(token),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    events: list[dict[str, Any]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            events.append(event)
            if event["kind"] == "connected":
                kite.place_order(
                    variety="regular",
                    exchange="NSE",
                    tradingsymbol="INFY",
                    transaction_type="BUY",
                    quantity=1,
                    product="CNC",
                    order_type="MARKET",
                    market_protection=-1,
                    tag="TWTICKER1",
                )
                fake.control("prices", {"prices": {"NSE:INFY": 1501}})
        assert child.wait(30) == 0
    finally:
        if child.poll() is None:
            child.kill()
    kinds = [e["kind"] for e in events]
    assert "closed" not in kinds, events
    ticks = [e["data"] for e in events if e["kind"] == "tick"]
    assert all(t["instrument_token"] == token for t in ticks)
    assert {t["mode"] for t in ticks} <= {"quote", "full"}
    assert any(t["mode"] == "full" and t["last_price"] in (1500.75, 1501.0) for t in ticks)
    orders = [e["data"] for e in events if e["kind"] == "order"]
    assert orders[-1]["status"] == "COMPLETE" and orders[-1]["tag"] == "TWTICKER1"
