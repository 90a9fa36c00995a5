"""Trades exit on stop-loss, target, trailing stop and portfolio limits, through a standalone
paper broker whose prices the tests set (issue 6 acceptance)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from tests.notify.sinks import JsonSink
from tests.trades.harness import Trading, wait_for

pytestmark = pytest.mark.slow



def _open(trading: Trading, strategy: dict[str, Any], symbol: str, action: str,
          quantity: int) -> dict[str, Any]:
    leg = trading.signal(strategy, symbol, action, quantity)
    assert leg["status"] != "denied", leg
    trade = trading.trade_of(str(leg["orderid"]))
    wait_for(lambda: (trading.live(int(trade["trade_id"])) or {}).get("ltp"),
             f"live price for {symbol}")
    return trade


def test_long_stop_loss_and_short_target(trading: Trading) -> None:
    long_sl = trading.strategy("long-sl", stop_loss={"kind": "points", "value": 10},
                               target={"kind": "points", "value": 20})
    short_tgt = trading.strategy("short-tgt", stop_loss={"kind": "percent", "value": 5},
                                 target={"kind": "percent", "value": 10})
    trading.prices(SBIN=100, INFY=200)
    long_trade = _open(trading, long_sl, "SBIN", "BUY", 10)
    short_trade = _open(trading, short_tgt, "INFY", "SELL", 4)
    assert (long_trade["side"], long_trade["stop_loss"], long_trade["target"]) == (
        "long", "90.00", "120.00")
    assert (short_trade["side"], short_trade["stop_loss"], short_trade["target"]) == (
        "short", "210.00", "180.00")

    trading.prices(SBIN=95, INFY=190)  # inside both ranges: nothing happens
    trading.prices(SBIN=89.5, INFY=179)
    closed_long = trading.closed(int(long_trade["trade_id"]))
    closed_short = trading.closed(int(short_trade["trade_id"]))

    assert closed_long["exit_reason"] == "stop_loss"
    assert Decimal(closed_long["exit_price"]) == Decimal("89.50")
    assert Decimal(closed_long["realised_pnl"]) == Decimal("-105.00")  # (89.5 - 100) x 10
    assert closed_short["exit_reason"] == "target"
    assert Decimal(closed_short["realised_pnl"]) == Decimal("84.00")  # (200 - 179) x 4
    assert len(trading.exits_at_broker("SBIN", "SELL")) == 1
    assert len(trading.exits_at_broker("INFY", "BUY")) == 1


def test_trailing_stop_never_loosens_and_a_gap_exits_once(trading: Trading) -> None:
    trail = trading.strategy("trail", stop_loss={"kind": "points", "value": 10},
                             trailing_stop={"kind": "points", "value": 5})
    trading.prices(TCS=300)
    trade = _open(trading, trail, "TCS", "BUY", 3)
    trade_id = int(trade["trade_id"])
    assert trade["trailing_level"] == "295.00"

    trading.prices(TCS=310)
    wait_for(lambda: (trading.live(trade_id) or {}).get("trailing_level") == "305.00",
             "the trailing level to follow the new high")
    trading.prices(TCS=307)  # a dip: the level must stay where it is
    live = wait_for(lambda: (lambda t: t if t and t["ltp"] == "307.00" else None)(
        trading.live(trade_id)), "the dip to arrive")
    assert live["trailing_level"] == "305.00"
    assert live["best_price"] == "310.00"

    trading.prices(TCS=280)  # a gap through the trailing level (305) and the stop (290)
    closed = trading.closed(trade_id)
    assert closed["exit_reason"] == "trailing_stop"  # the higher level is met first
    assert Decimal(closed["realised_pnl"]) == Decimal("-60.00")  # (280 - 300) x 3
    trading.prices(TCS=270)
    trading.prices(TCS=260)
    assert len(trading.exits_at_broker("TCS", "SELL")) == 1


def test_portfolio_stop_loss_exits_all_and_blocks_entries_other_strategy_untouched(
        trading: Trading) -> None:
    portfolio = trading.strategy(
        "portfolio", stop_loss={"kind": "points", "value": 100},
        portfolio_stop_loss={"kind": "amount", "value": "50"})
    bystander = trading.strategy("bystander")  # no trade defaults: plain orders
    trading.prices(ITC=400, WIPRO=500)
    first = _open(trading, portfolio, "ITC", "BUY", 5)
    second = _open(trading, portfolio, "WIPRO", "BUY", 5)
    other = trading.signal(bystander, "ITC", "BUY", 7)
    assert other["status"] != "denied", other

    trading.prices(ITC=396)  # -20: within the limit
    trading.prices(WIPRO=493)  # -20 - 35 = -55: the portfolio stop-loss (50) is hit
    for trade in (first, second):
        closed = trading.closed(int(trade["trade_id"]))
        assert closed["exit_reason"] == "portfolio_stop_loss"

    denied = trading.signal(portfolio, "LT", "BUY", 1)
    assert denied["status"] == "denied"
    assert "blocked" in str(denied["reason"])

    itc_sells = trading.exits_at_broker("ITC", "SELL")
    assert [o["quantity"] for o in itc_sells] == [5]  # the strategy's 5, not the account's 12
    positions = trading.stack.control_get("positions", account="paper-1")
    itc = [p for p in positions if p["symbol"] == "ITC"]
    assert sum(int(p["quantity"]) for p in itc) == 7  # the bystander's position is untouched


def test_entries_sized_by_value_and_denied_when_the_allocation_does_not_fit(
        trading: Trading) -> None:
    by_value = trading.strategy("by-value", sizing="fixed_value", sizing_value="10000",
                                stop_loss={"kind": "percent", "value": 2})
    by_share = trading.strategy("by-share", sizing="percent_of_allocation", sizing_value="100",
                                allocated_funds="1000", target={"kind": "points", "value": 50})
    trading.prices(MARUTI=333, NESTLEIND=2400)
    leg = trading.signal(by_value, "MARUTI", "BUY", 0)
    trade = trading.trade_of(str(leg["orderid"]))
    assert trade["quantity"] == 30  # floor(10000 / 333)

    denied = trading.signal(by_share, "NESTLEIND", "BUY", 0)  # 1000 buys no share at 2400
    assert denied["status"] == "denied"
    assert denied["reason_code"] == "risk_blocked"
    assert "funds not allocated" in str(denied["reason"])


def test_trade_and_portfolio_notifications_reach_a_channel(trading: Trading) -> None:
    sink = JsonSink().start()
    try:
        made = trading.http.post("/api/v1/notifications/channels",
                                 json={"name": "trades-sink", "url": sink.url})
        assert made.status_code in (200, 201), made.text
        strategy = trading.strategy("notified", stop_loss={"kind": "points", "value": 10},
                                    portfolio_stop_loss={"kind": "amount", "value": "30"})
        trading.prices(POWERGRID=300)
        trade = _open(trading, strategy, "POWERGRID", "BUY", 5)
        trading.prices(POWERGRID=293)  # -35: the portfolio stop (30) before the trade's (290)
        closed = trading.closed(int(trade["trade_id"]))
        assert closed["exit_reason"] == "portfolio_stop_loss"

        def seen(*words: str) -> bool:
            return any(all(w in line for w in words) for line in sink.lines())

        sink.wait_for(lambda: seen("Trade opened", "POWERGRID")
                      and seen("Trade closed", "POWERGRID", "portfolio stop loss")
                      and seen("Portfolio", "notified"))
        opened = [line for line in sink.lines() if "Trade opened" in line]
        assert len(opened) == 1 and "300" in opened[0]
    finally:
        sink.stop()


def test_a_position_closed_by_a_webhook_exit_is_not_exited_again(trading: Trading) -> None:
    strategy = trading.strategy("exit-leg", stop_loss={"kind": "points", "value": 10})
    trading.prices(ADANIPORTS=1200)
    trade = _open(trading, strategy, "ADANIPORTS", "BUY", 6)
    response = trading.http.post(f"/webhook/{strategy['webhook_token']}", json={
        "secret_key": strategy["webhook_secret"], "execution_type": "exit",
        "legs": [{"symbol": "ADANIPORTS", "exchange": "NSE", "product": "MIS"}]})
    assert response.status_code == 200, response.text
    closed = trading.closed(int(trade["trade_id"]))
    assert closed["exit_reason"] == "manual_exit"  # closed by the strategy's own exit signal
    trading.prices(ADANIPORTS=1180)  # through the old stop: nothing may be sold again
    trading.prices(ADANIPORTS=1170)
    time.sleep(1.5)
    sells = trading.exits_at_broker("ADANIPORTS", "SELL")
    assert [o["quantity"] for o in sells] == [6]


def test_entry_fills_after_the_exit_are_exited_too(trading: Trading) -> None:
    strategy = trading.strategy("late-fill", stop_loss={"kind": "points", "value": 10})
    trading.price("ULTRACEMCO", 1000, volume=4)
    leg = trading.entry(strategy, "ULTRACEMCO", "BUY", 10, "LIMIT", 1000)
    trade = trading.trade_of(str(leg["orderid"]))
    assert trade["quantity"] == 4  # 4 of 10 filled so far
    trading.price("ULTRACEMCO", 985, volume=100)  # the stop fires; the entry's rest fills too
    trade_id = int(trade["trade_id"])
    # the exit of 4 may be recorded before the entry's other 6: the trade then reopens and
    # its rest goes out too, whichever order the fills are seen in
    closed = wait_for(lambda: next((t for t in trading.history() if t["trade_id"] == trade_id
                                    and t["quantity"] == 10), None),
                      "the whole entry to be exited", timeout=60)
    assert closed["open_quantity"] == 0
    positions = trading.stack.control_get("positions", account="paper-1")
    assert sum(int(p["quantity"]) for p in positions if p["symbol"] == "ULTRACEMCO") == 0
