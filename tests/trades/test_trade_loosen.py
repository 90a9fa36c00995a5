"""A trade's protection never loosens by an edit unless the caller says so (issue 13, item 5):
the ratcheted trailing level and the stop-loss, long and short, through the trades API and the
dashboard's modify-levels form, against a real Tradewarden process and a paper broker."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.crash.harness import Stack
from tests.trades.harness import Trading, wait_for
from tests.web.conftest import WebStack
from tests.web.test_security import page_token, signed_in

pytestmark = pytest.mark.slow

Json = dict[str, Any]




def points(value: float) -> Json:
    return {"kind": "points", "value": str(value)}


def ok(response: httpx.Response) -> Json:
    body: Json = response.json()
    assert response.status_code == 200 and body["status"] == "success", response.text
    data: Json = body["data"]
    return data


def refused(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    message: str = response.json()["message"]
    return message


def opened(trading: Trading, strategy: Json, symbol: str, action: str, quantity: int) -> int:
    leg = trading.signal(strategy, symbol, action, quantity)
    assert leg["status"] != "denied", leg
    trade = trading.trade_of(str(leg["orderid"]))
    return int(trade["trade_id"])


def seen(trading: Trading, trade_id: int, ltp: str) -> Json:
    """The active trade once the price ``ltp`` has reached it."""
    def probe() -> Json | None:
        live = trading.live(trade_id)
        return live if live is not None and live["ltp"] == ltp else None
    return wait_for(probe, f"trade {trade_id} at {ltp}")


def test_a_ratcheted_trailing_stop_cannot_be_loosened_by_updatetrade(trading: Trading) -> None:
    """The issue's scenario: trailing 10 from 100, peak 150 (level 140), a 50-point trail is
    refused and the trade still exits at 125 (it would sit until 100 with the wider trail)."""
    strategy = trading.strategy("ratchet-long", trailing_stop=points(10))
    trading.prices(WIPRO=100)
    trade_id = opened(trading, strategy, "WIPRO", "BUY", 3)
    trading.prices(WIPRO=150)
    assert seen(trading, trade_id, "150.00")["trailing_level"] == "140.00"

    for change in ({"trailing_stop": points(50)},
                   {"trailing_stop": {"kind": "percent", "value": "20"}},  # 150 - 30 = 120
                   {"trailing_stop": None}):
        message = refused(trading.call("updatetrade", {"trade_id": trade_id, **change}))
        assert "140.00" in message and "allow_loosen" in message, message
    live = trading.live(trade_id)
    assert live is not None
    assert (live["trailing_level"], live["trailing_stop"]) == ("140.00", points(10))
    # a tighter trail is fine
    tighter = ok(trading.call("updatetrade", {"trade_id": trade_id, "trailing_stop": points(8)}))
    assert tighter["trailing_level"] == "142.00"

    trading.prices(WIPRO=125)
    closed = trading.closed(trade_id)
    assert (closed["exit_reason"], closed["exit_price"]) == ("trailing_stop", "125.00")


def test_stop_loss_and_short_trailing_edits_refused_unless_allowed_and_recorded(
        trading: Trading) -> None:
    strategy = trading.strategy("ratchet-short", stop_loss=points(20), trailing_stop=points(10))
    channel = trading.http.post("/api/v1/notifications/channels",
                                json={"name": "desk", "url": "json://127.0.0.1:9/hook"})
    assert channel.status_code == 201, channel.text
    trading.prices(TATASTEEL=200)
    trade_id = opened(trading, strategy, "TATASTEEL", "SELL", 4)
    trading.prices(TATASTEEL=150)
    live = seen(trading, trade_id, "150.00")
    assert (live["stop_loss"], live["trailing_level"]) == ("220.00", "160.00")

    # a short's stop-loss loosens upwards; removing it loosens too
    for change in ({"stop_loss": 230}, {"stop_loss": None}):
        message = refused(trading.call("updatetrade", {"trade_id": trade_id, **change}))
        assert "220.00" in message, message
    message = refused(trading.call("updatetrade", {"trade_id": trade_id,
                                                   "trailing_stop": points(50)}))
    assert "160.00" in message
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 230,
                                         "allow_loosen": False}))
    refused(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 210,
                                         "allow_loosen": "please"}))
    live = trading.live(trade_id)
    assert live is not None
    assert (live["stop_loss"], live["trailing_level"]) == ("220.00", "160.00")
    assert ok(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 210}))[
        "stop_loss"] == "210.00"  # tighter: no flag needed

    loosened = ok(trading.call("updatetrade", {"trade_id": trade_id, "stop_loss": 240,
                                               "trailing_stop": points(50),
                                               "allow_loosen": True}))
    assert (loosened["stop_loss"], loosened["trailing_level"]) == ("240.00", "200.00")
    assert [(c["level"], c["from"], c["to"]) for c in loosened["loosened"]] == [
        ("stop_loss", "210.00", "240.00"), ("trailing_level", "160.00", "200.00")]
    trading.prices(TATASTEEL=170)  # beyond the old trailing level (160): no exit now
    assert seen(trading, trade_id, "170.00")["status"] == "active"

    # recorded: a warning alert naming the trade and both changes (the channel made above
    # keeps it in the outbox whether or not it can be delivered)
    texts = [row["text"] for row in trading.http.get("/api/v1/notifications/outbox").json()
             if row["kind"] == "system_alert"]
    (text,) = [t for t in texts if f"trade {trade_id}" in t]
    assert "loosened on request" in text, text
    assert "stop-loss 210.00 \u2192 240.00" in text and "160.00 \u2192 200.00" in text, text

    trading.prices(TATASTEEL=201)
    closed = trading.closed(trade_id)
    assert (closed["exit_reason"], closed["exit_price"]) == ("trailing_stop", "201.00")


def test_the_dashboard_form_refuses_a_looser_stop_and_saves_a_tighter_one(stack: Stack) -> None:
    web = WebStack(stack)
    user = web.add_user("loosen")
    trading = Trading(stack, key=user.api_key)
    strategy = trading.strategy("ratchet-web", stop_loss=points(10), trailing_stop=points(10))
    trading.prices(HCLTECH=300)
    trade_id = opened(trading, strategy, "HCLTECH", "BUY", 2)
    trading.prices(HCLTECH=320)
    assert seen(trading, trade_id, "320.00")["trailing_level"] == "310.00"

    modify = f"/trades/{trade_id}"
    with signed_in(web, user) as client:
        token = page_token(client, modify)
        base = {"csrf_token": token, "stop_loss": "290", "target": "",
                "trailing_kind": "points", "trailing_value": "10"}
        wider = client.post(modify, data={**base, "trailing_value": "25"})
        assert wider.status_code == 422
        assert "310.00" in wider.text
        lower = client.post(modify, data={**base, "stop_loss": "280"})
        assert lower.status_code == 422
        assert "290.00" in lower.text
        live = trading.live(trade_id)
        assert live is not None
        assert (live["stop_loss"], live["trailing_level"]) == ("290.00", "310.00")

        allowed = client.post(modify, data={**base, "stop_loss": "280",
                                            "allow_loosen": "on"})
        assert allowed.status_code == 303, allowed.text
        saved = client.post(modify, data={**base, "stop_loss": "295",
                                          "trailing_value": "5"})
        assert saved.status_code == 303, saved.text
        page_text = client.get(modify).text
        assert 'id="history-title"' in page_text, page_text[-3000:]
        history = page_text.split('id="history-title"')[1]
        # in the trade's history: both edits, the loosening marked as made on request
        assert history.count('data-kind="levels_changed"') == 2, history
        assert "loosened on request: stop-loss 290.00 → 280.00" in history, history
        assert "stop loss 280.00 → 295.00" in history and "(web)" in history, history
    live = trading.live(trade_id)
    assert live is not None
    assert (live["stop_loss"], live["trailing_level"]) == ("295.00", "315.00")
