"""Trades keep working through a dropped price stream, a restart, and a database outage
(issue 6 acceptance), with real processes: a standalone paper broker and Tradewarden."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.crash.harness import Stack
from tests.pgserver import PrivatePostgres, unavailable_reason
from tests.trades.harness import FAST_ENV, Trading, wait_for

pytestmark = pytest.mark.slow


def _readyz(stack: Stack) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{stack.url}/readyz", timeout=10).json()
    return body


def _open(trading: Trading, strategy: dict[str, Any], symbol: str, quantity: int,
          action: str = "BUY") -> int:
    leg = trading.signal(strategy, symbol, action, quantity)
    trade = trading.trade_of(str(leg["orderid"]))
    trade_id = int(trade["trade_id"])
    wait_for(lambda: (trading.live(trade_id) or {}).get("ltp"), f"a live price for {symbol}")
    return trade_id


def test_stream_drop_falls_back_to_polling_and_still_exits(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env=FAST_ENV)
    stack.start_broker()
    stack.start_service()
    try:
        trading = Trading(stack)
        strategy = trading.strategy("feed", stop_loss={"kind": "points", "value": 5})
        trading.prices(HDFCBANK=1500)
        trade_id = _open(trading, strategy, "HDFCBANK", 2)
        assert _readyz(stack)["degraded"]["price_feeds_down"] == 0

        stack.control("faults", {"drop_stream": True})
        wait_for(lambda: _readyz(stack)["degraded"]["price_feeds_down"] == 1,
                 "the feed to notice the dropped stream")
        trading.prices(HDFCBANK=1498)
        wait_for(lambda: (trading.live(trade_id) or {}).get("ltp") == "1498.00",
                 "a polled price while the stream is down")
        trading.prices(HDFCBANK=1490)  # through the stop-loss (1495) during the outage
        closed = trading.closed(trade_id)
        assert closed["exit_reason"] == "stop_loss"
        assert len(trading.exits_at_broker("HDFCBANK", "SELL")) == 1

        stack.control("faults", {})
        wait_for(lambda: _readyz(stack)["degraded"]["price_feeds_down"] == 0,
                 "the stream to reconnect", timeout=60)
        metrics = httpx.get(f"{stack.url}/metrics", timeout=10).text
        reconnects = [line for line in metrics.splitlines()
                      if line.startswith("tradewarden_price_feed_reconnects_total")]
        assert reconnects and float(reconnects[0].split()[-1]) >= 1
    finally:
        stack.stop()


def test_restart_restores_levels_and_detects_positions_closed_outside(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env=FAST_ENV)
    stack.start_broker()
    stack.start_service()
    try:
        trading = Trading(stack)
        strategy = trading.strategy("restart", stop_loss={"kind": "points", "value": 20},
                                    trailing_stop={"kind": "percent", "value": 1})
        trading.prices(ICICIBANK=1000, AXISBANK=700)
        kept = _open(trading, strategy, "ICICIBANK", 5)
        gone = _open(trading, strategy, "AXISBANK", 3)
        trading.prices(ICICIBANK=1050)  # new best: trailing level 1039.50
        wait_for(lambda: (trading.live(kept) or {}).get("trailing_level") == "1039.50",
                 "the trailing level to follow")
        before = trading.live(kept)
        assert before is not None

        assert stack.terminate_service()  # SIGTERM: intake stops, state is flushed
        # while Tradewarden is down, the AXISBANK position is sold at the broker's own app
        stack.control("manual/orders", {"account": "paper-1", "exchange": "NSE",
                                        "symbol": "AXISBANK", "side": "SELL", "quantity": 3,
                                        "order_type": "MARKET", "product": "MIS"})
        stack.start_service()

        outside = trading.closed(gone)
        assert outside["exit_reason"] == "closed_outside"
        after = wait_for(lambda: trading.live(kept), "the restored trade")
        for field in ("stop_loss", "trailing_stop", "best_price", "trailing_level",
                      "entry_price", "quantity"):
            assert after[field] == before[field], field

        trading.prices(ICICIBANK=1045)  # above the restored trailing level: nothing happens
        trading.prices(ICICIBANK=1039)  # below it: the restored level fires
        closed = trading.closed(kept)
        assert closed["exit_reason"] == "trailing_stop"
        assert Decimal(closed["realised_pnl"]) == Decimal("195.00")  # (1039 - 1000) x 5
    finally:
        stack.stop()


@pytest.fixture
def private_pg() -> Any:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a private PostgreSQL server is needed under CI: {reason}")
        pytest.skip(reason)
    server = PrivatePostgres()
    server.init()
    server.start()
    yield server
    server.destroy()


def test_database_outage_exits_still_placed_and_state_written_after(
        tmp_path: Path, private_pg: PrivatePostgres) -> None:
    stack = Stack(tmp_path, env={**FAST_ENV, "TRADEWARDEN_DATABASE_URL": private_pg.url})
    stack.start_broker()
    stack.start_service()
    try:
        trading = Trading(stack)
        strategy = trading.strategy("outage", stop_loss={"kind": "points", "value": 10},
                                    trailing_stop={"kind": "points", "value": 15})
        trading.prices(LT=3000, BHARTIARTL=1600)
        stopped = _open(trading, strategy, "LT", 2)
        trailed = _open(trading, strategy, "BHARTIARTL", 4)

        private_pg.stop()
        outage_start = time.monotonic()
        wait_for(lambda: _readyz(stack)["checks"]["database"] is False, "the outage to show")
        trading.prices(BHARTIARTL=1610)  # a new best while the database is away
        trading.prices(LT=2985)  # through LT's stop-loss (2990; the trailing level is 2985)
        exits = wait_for(lambda: trading.exits_at_broker("LT", "SELL"),
                         "the exit order to reach the broker without the database")
        assert len(exits) == 1 and exits[0]["tag"].startswith("TW")
        wait_for(lambda: _readyz(stack)["degraded"]["database_degraded"],
                 "the degraded state to show in /readyz")
        while time.monotonic() - outage_start < 30:  # ticks keep coming during the outage
            trading.prices(BHARTIARTL=1612)
            time.sleep(1)
        assert len(trading.exits_at_broker("LT", "SELL")) == 1

        private_pg.start()
        closed = trading.closed(stopped, timeout=60)
        assert closed["exit_reason"] == "stop_loss"
        assert Decimal(closed["realised_pnl"]) == Decimal("-30.00")  # (2985 - 3000) x 2
        exit_order = stack.order(closed["exit_order_id"])
        assert exit_order["status"] == "filled"
        assert exit_order["client_order_id"] == exits[0]["tag"]
        wait_for(lambda: not _readyz(stack)["degraded"]["database_degraded"],
                 "the queue to drain")
        assert stack.terminate_service()
        stack.start_service()  # what the engine derived during the outage was written
        restored = wait_for(lambda: trading.live(trailed), "the restored trade")
        assert restored["best_price"] == "1612.00"
        assert restored["trailing_level"] == "1597.00"
    finally:
        stack.stop()


def test_a_denied_exit_is_retried_until_it_goes_through(tmp_path: Path) -> None:
    stack = Stack(tmp_path, env=FAST_ENV, clock="manual")
    stack.start_broker()
    stack.control("clock", {"session": "open"})
    stack.start_service()
    try:
        trading = Trading(stack)
        strategy = trading.strategy("retry-exit", stop_loss={"kind": "points", "value": 5})
        trading.prices(KOTAKBANK=1800)
        trade_id = _open(trading, strategy, "KOTAKBANK", 2)

        stack.control("clock", {"session": "closed"})
        trading.prices(KOTAKBANK=1790)  # the stop fires, but the market is closed
        refused = wait_for(lambda: [o for o in stack.our_orders() if o["origin"] == "trade_exit"
                                    and o["status"] in ("denied", "rejected")],
                           "the exit to be refused")
        assert len(refused) >= 1
        live = trading.live(trade_id)
        assert live is not None and live["status"] == "exiting"  # not forgotten
        assert "retrying the exit" in (tmp_path / "tradewarden.log").read_text()

        stack.control("clock", {"session": "open"})
        closed = trading.closed(trade_id, timeout=60)
        assert closed["exit_reason"] == "stop_loss"
        sells = trading.exits_at_broker("KOTAKBANK", "SELL")
        assert [o["filled_quantity"] for o in sells if o["filled_quantity"]] == [2]  # sold once
    finally:
        stack.stop()


def test_an_exit_whose_record_died_with_the_process_is_adopted_after_restart(
        tmp_path: Path, private_pg: PrivatePostgres) -> None:
    """kill -9 while the database is down loses the queued record of a directly placed exit;
    after the restart reconciliation finds our tag at the broker with no order behind it and
    records it (once) as an external order, so the broker's truth is in the database."""
    env = {**FAST_ENV, "TRADEWARDEN_DATABASE_URL": private_pg.url,
           "TRADEWARDEN_MONITOR_ORPHAN_GRACE_S": "2"}
    stack = Stack(tmp_path, env=env)
    stack.start_broker()
    stack.start_service()
    try:
        trading = Trading(stack)
        strategy = trading.strategy("orphan", stop_loss={"kind": "points", "value": 10})
        trading.prices(LT=3000)
        trade_id = _open(trading, strategy, "LT", 2)

        private_pg.stop()
        wait_for(lambda: _readyz(stack)["checks"]["database"] is False, "the outage to show")
        trading.prices(LT=2985)  # through the stop-loss
        (exit_at_broker,) = wait_for(lambda: trading.exits_at_broker("LT", "SELL"),
                                     "the exit order to reach the broker without the database")
        stack.kill_service()  # its record was only queued in memory
        private_pg.start()
        stack.start_service()

        def adopted() -> list[dict[str, Any]]:
            return [o for o in stack.our_orders()
                    if o["origin"] == "external" and o["symbol"] == "LT"]

        (external,) = wait_for(adopted, "the orphaned exit to be recorded", timeout=60)
        assert external["side"] == "SELL" and external["quantity"] == 2
        assert external["broker_order_id"] == exit_at_broker["broker_order_id"]
        assert external["status"] == "filled"
        closed = trading.closed(trade_id, timeout=60)  # the position is gone at the broker
        assert closed["exit_reason"] == "closed_outside"
        time.sleep(3)  # more cycles: recorded once, and no order of ours went to the broker
        assert len(adopted()) == 1
        assert len(trading.exits_at_broker("LT", "SELL")) == 1
    finally:
        stack.stop()
