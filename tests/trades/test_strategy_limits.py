"""Strategy limits on webhook entries (BRIEF §3.3, §3.5; seed 003 requirements 4.1, 4.5, 4.6
and 8.3): max open positions, allocated funds, the daily loss limit, and deleting a strategy
that still has active trades. Through HTTP only, against real processes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.trades.harness import Trading, wait_for

pytestmark = pytest.mark.slow

Json = dict[str, Any]



def points(value: float) -> Json:
    return {"kind": "points", "value": str(value)}


def opened(trading: Trading, leg: Json) -> Json:
    """The trade an accepted entry leg opened, once it has a live price."""
    assert leg["status"] != "denied", leg
    trade = trading.trade_of(str(leg["orderid"]))
    wait_for(lambda: (trading.live(int(trade["trade_id"])) or {}).get("ltp"),
             f"a live price for trade {trade['trade_id']}")
    return trade


def denied(trading: Trading, leg: Json) -> str:
    """A ``risk_blocked`` denial, as the webhook answers it and as the order shows it."""
    assert (leg["status"], leg["reason_code"]) == ("denied", "risk_blocked"), leg
    reason: str = leg["reason"]
    order = trading.stack.order(str(leg["orderid"]))
    assert (order["status"], order["reason_code"], order["reason"]) == (
        "denied", "risk_blocked", reason)
    return reason


def delete(trading: Trading, strategy_id: int, **params: str | int) -> httpx.Response:
    return trading.http.delete(f"/api/v1/strategies/{strategy_id}", params=params)


def exists(trading: Trading, strategy_id: int) -> bool:
    status = trading.http.get(f"/api/v1/strategies/{strategy_id}").status_code
    assert status in (200, 404)
    return status == 200


def test_max_open_positions_denies_the_next_entry(trading: Trading) -> None:
    strategy = trading.strategy("one-at-a-time", max_open_positions=1, stop_loss=points(10))
    trading.prices(SBIN=100, INFY=200)
    first = opened(trading, trading.signal(strategy, "SBIN", "BUY", 1))

    reason = denied(trading, trading.signal(strategy, "INFY", "BUY", 1))
    assert "one-at-a-time" in reason and "maximum is 1 open positions" in reason
    assert [t["trade_id"] for t in trading.active(int(strategy["id"]))] == [first["trade_id"]]

    assert trading.call("exittrade", {"trade_id": first["trade_id"]}).status_code == 200
    trading.closed(int(first["trade_id"]))
    opened(trading, trading.signal(strategy, "INFY", "BUY", 2))  # room again


def test_allocated_funds_deny_an_entry_that_does_not_fit(trading: Trading) -> None:
    strategy = trading.strategy("small-purse", allocated_funds="5000", stop_loss=points(50))
    trading.prices(TCS=1000)
    reason = denied(trading, trading.entry(strategy, "TCS", "BUY", 10, "LIMIT", 999))
    assert "funds not allocated" in reason and "9990.00" in reason and "5000" in reason

    fits = trading.entry(strategy, "TCS", "BUY", 4, "LIMIT", 999)  # 3996 of 5000
    assert fits["status"] != "denied", fits


def test_allocated_funds_count_working_entry_orders(trading: Trading) -> None:
    """Entry orders still waiting for fills use the allocation too (regression: only open trades
    counted, so two LIMIT entries that each fit were both accepted)."""
    strategy = trading.strategy("two-limits", allocated_funds="5000", stop_loss=points(50))
    trading.prices(WIPRO=1000)
    first = trading.entry(strategy, "WIPRO", "BUY", 4, "LIMIT", 999)  # 3996: rests
    assert first["status"] != "denied", first
    reason = denied(trading, trading.entry(strategy, "WIPRO", "BUY", 3, "LIMIT", 998))
    assert "funds not allocated" in reason  # 3996 + 2994 > 5000


def test_daily_loss_limit_blocks_entries_after_a_losing_trade(trading: Trading) -> None:
    strategy = trading.strategy("careful", daily_loss_limit="50", stop_loss=points(5))
    trading.prices(ITC=100, LT=300)
    trade = opened(trading, trading.signal(strategy, "ITC", "BUY", 10))
    trading.prices(ITC=94)  # through the stop-loss at 95
    closed = trading.closed(int(trade["trade_id"]))
    assert (closed["exit_reason"], closed["realised_pnl"]) == ("stop_loss", "-60.00")

    reason = denied(trading, trading.signal(strategy, "LT", "BUY", 1))
    assert "careful" in reason and "60.00" in reason and "daily loss limit of 50" in reason
    assert trading.active(int(strategy["id"])) == []


def test_delete_refused_while_a_trade_is_active_then_transfer(trading: Trading) -> None:
    source = trading.strategy("del-source", stop_loss=points(10))
    target = trading.strategy("del-target", stop_loss=points(10))
    trading.prices(HCLTECH=200)
    trade = opened(trading, trading.signal(source, "HCLTECH", "BUY", 5))
    trade_id = int(trade["trade_id"])

    refusal = delete(trading, source["id"])
    assert refusal.status_code == 409, refusal.text
    detail = refusal.json()["detail"]
    assert detail["active_trades"] == [{"id": trade_id, "symbol": "HCLTECH", "exchange": "NSE",
                                        "side": "long", "quantity": 5, "status": "active"}]
    assert "on_active" in detail["message"]
    assert exists(trading, source["id"])

    assert delete(trading, source["id"], on_active="transfer").status_code == 422
    assert delete(trading, source["id"], on_active="transfer", to=999_999).status_code == 404
    assert delete(trading, source["id"], on_active="sell").status_code == 422
    assert exists(trading, source["id"])
    live = trading.live(trade_id)
    assert live is not None and live["strategy_id"] == source["id"]

    moved = delete(trading, source["id"], on_active="transfer", to=target["id"])
    assert moved.status_code == 204, moved.text
    assert not exists(trading, source["id"])
    live = trading.live(trade_id)
    assert live is not None and (live["strategy_id"], live["status"]) == (target["id"], "active")
    assert [t["trade_id"] for t in trading.active(int(target["id"]))] == [trade_id]

    trading.prices(HCLTECH=189)  # the moved trade is still guarded by its stop-loss
    closed = trading.closed(trade_id)
    assert (closed["exit_reason"], closed["strategy_id"]) == ("stop_loss", target["id"])
    assert [o["quantity"] for o in trading.exits_at_broker("HCLTECH", "SELL")] == [5]


def test_delete_with_close_exits_the_active_trades(trading: Trading) -> None:
    strategy = trading.strategy("del-close", stop_loss=points(10))
    trading.prices(TATASTEEL=150, TRENT=400)
    first = opened(trading, trading.signal(strategy, "TATASTEEL", "BUY", 3))
    second = opened(trading, trading.signal(strategy, "TRENT", "SELL", 2))
    trading.prices(TATASTEEL=152, TRENT=401)

    response = delete(trading, strategy["id"], on_active="close")
    assert response.status_code == 204, response.text
    assert not exists(trading, strategy["id"])
    for trade, symbol, side, pnl in ((first, "TATASTEEL", "SELL", "6.00"),
                                     (second, "TRENT", "BUY", "-2.00")):
        closed = trading.closed(int(trade["trade_id"]))
        assert closed["exit_reason"] == "manual_exit"
        assert closed["realised_pnl"] == pnl
        assert len(trading.exits_at_broker(symbol, side)) == 1
    assert trading.active(int(strategy["id"])) == []


def test_transferred_trade_leaves_no_position_behind(trading: Trading) -> None:
    """Regression: a transferred trade's exit was booked under the receiving strategy while its
    entry stayed with the old one, leaving the receiver a phantom short that blocked deletion."""
    source = trading.strategy("move-source", stop_loss=points(10))
    target = trading.strategy("move-target", stop_loss=points(10))
    trading.prices(POWERGRID=100)
    trade_id = int(opened(trading, trading.signal(source, "POWERGRID", "BUY", 6))["trade_id"])
    moved = delete(trading, source["id"], on_active="transfer", to=target["id"])
    assert moved.status_code == 204, moved.text
    wait_for(lambda: (trading.live(trade_id) or {}).get("strategy_id") == target["id"],
             "the trade to belong to the target strategy")

    trading.prices(POWERGRID=89)
    assert trading.closed(trade_id)["exit_reason"] == "stop_loss"
    gone = delete(trading, target["id"])  # nothing open any more: a plain delete works
    assert gone.status_code == 204, gone.text
