"""Acceptance: a scripted trading session against the real server and the in-process paper
broker, notified to a local HTTP sink as a ``json://`` channel — fills, a partial fill, a
rejection, a denial, a retry queued and dropped, manual cancel and modify at the broker, a
cancel by the user, a manual buy found in holdings and a trade exit. Every expected message
arrives exactly once, in order per order, with its fields; also when the sink is down for the
first part of the session."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Server
from tests.notify.sinks import ORDER_ID, JsonSink
from tradewarden.brokers.base import ModifyRequest
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import enqueue

SBIN = InstrumentKey("NSE", "SBIN")
INFY = InstrumentKey("NSE", "INFY")
LIMIT = {"strategy": "notify", "exchange": "NSE", "symbol": "SBIN", "action": "BUY",
         "quantity": "10", "pricetype": "LIMIT", "price": "790", "product": "MIS"}

#: What each ledger event of an order must produce (the title's start), independent of code.
EXPECTED_TITLE = {
    "OrderAccepted": "📤 Order placed: ",
    "OrderPartiallyFilled": "🟡 Partially filled: ",
    "OrderFilled": "✅ Executed: ",
    "OrderRejected": "❌ Rejected: ",
    "OrderCancelled": "🚫 Cancelled ",
    "OrderDenied": "⛔ Denied ",
    "OrderRetryScheduled": "🔁 Queued for retry: ",
    "OrderDropped": "🗑️ Dropped from the retry queue: ",
}


@pytest.fixture
def nserver(server_env: None, server: Server) -> Server:
    return server


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("POLL_INTERVAL_S", "0.05"), ("RETRY_INITIAL_S", "0.2"),
                        ("RETRY_MAX_S", "0.5"), ("MAX_ATTEMPTS", "1000")):
        monkeypatch.setenv(f"TRADEWARDEN_NOTIFY_{name}", value)


def detail(server: Server, orderid: str) -> dict[str, Any]:
    found: dict[str, Any] = server.client().get(f"/api/v1/orders/{orderid}").json()
    return found


def place(server: Server, **fields: str) -> str:
    orderid: str = server.openalgo("placeorder", **{**LIMIT, **fields}).json()["orderid"]
    return orderid


def settle(server: Server, orderid: str, status: str) -> dict[str, Any]:
    server.wait_for(lambda: detail(server, orderid)["status"] == status)
    return detail(server, orderid)


def expected_titles(order: dict[str, Any]) -> list[str]:
    titles = []
    for event in order["events"]:
        if event["type"] == "OrderModified" and event["source"] == "manual":
            titles.append("✏️ Modified at the broker's app: ")
        elif event["type"] == "OrderRetryScheduled" and event["source"] == "user":
            continue  # the user's own "retry now"
        elif event["type"] in EXPECTED_TITLE:
            titles.append(EXPECTED_TITLE[event["type"]])
    return titles


def script(server: Server) -> dict[str, str]:
    """Runs the session; returns order ids by role."""
    exchange = server.simulator.exchange
    exchange.set_prices({SBIN: Decimal("800"), INFY: Decimal("1500")})
    ids: dict[str, str] = {}
    ids["market"] = place(server, pricetype="MARKET", price="0", quantity="5", product="CNC")
    settle(server, ids["market"], "filled")
    ids["partial"] = place(server)
    settle(server, ids["partial"], "open")
    exchange.set_prices({SBIN: Decimal("789")}, volume=3)
    server.wait_for(lambda: detail(server, ids["partial"])["filled_quantity"] == 3)
    exchange.set_prices({SBIN: Decimal("789")}, volume=100)
    settle(server, ids["partial"], "filled")
    exchange.set_prices({SBIN: Decimal("800")})
    ids["rejected"] = place(server, price="1000")  # outside the price band
    settle(server, ids["rejected"], "rejected")
    ids["retried"] = place(server, quantity="100000")  # margin: retryable
    settle(server, ids["retried"], "retry_pending")
    assert server.client().delete(f"/api/v1/orders/{ids['retried']}").status_code == 200
    settle(server, ids["retried"], "cancelled")
    ids["denied"] = place(server, price="790.03")
    settle(server, ids["denied"], "denied")
    ids["manual_cancel"] = place(server, price="780")
    broker_id = settle(server, ids["manual_cancel"], "open")["broker_order_id"]
    exchange.cancel(None, broker_id)
    settle(server, ids["manual_cancel"], "cancelled")
    ids["modified"] = place(server, price="785")
    broker_id = settle(server, ids["modified"], "open")["broker_order_id"]
    exchange.modify(None, broker_id, ModifyRequest(price=Decimal("780"), quantity=12))
    server.wait_for(lambda: detail(server, ids["modified"])["quantity"] == 12)
    server.client().post(f"/api/v1/orders/{ids['modified']}/cancel")
    settle(server, ids["modified"], "cancelled")
    exchange.set_holding("paper-1", INFY, 3)  # bought at another app
    with server.services.db.transaction() as session:  # what the trade manager will queue
        enqueue(session, 1, NotificationKind.TRADE_EXITED, {
            "symbol": "SBIN", "exchange": "NSE", "side": "BUY", "quantity": 10,
            "entry_price": Decimal("789"), "exit_price": Decimal("820.5"), "reason": "target",
            "pnl": Decimal("315"), "trade_id": 41, "strategy": "notify"},
            dedupe_key="trade:41:exited")
    return ids


@pytest.mark.parametrize("sink_down_first", [False, True], ids=["sink-up", "sink-down-first"])
def test_a_trading_session_is_notified_once_in_order(nserver: Server,
                                                     sink_down_first: bool) -> None:
    sink = JsonSink()
    if not sink_down_first:
        sink.start()
    client = nserver.client()
    made = client.post("/api/v1/notifications/channels", json={"name": "sink", "url": sink.url})
    assert made.status_code == 201, made.text
    try:
        ids = script(nserver)
        if sink_down_first:
            nserver.wait_for(lambda: any(r["last_error"] == "connection failed" for r in
                                         client.get("/api/v1/notifications/outbox").json()))
            sink.start()
        sink.wait_for(lambda: any("Manual buy detected" in line for line in sink.lines()))
        nserver.wait_for(lambda: client.get("/api/v1/notifications/outbox",
                                            params={"status": "pending"}).json() == [])
        lines = sink.lines()
    finally:
        sink.stop()

    assert len(lines) == len(set(lines)), "nothing twice"
    per_order: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        match = ORDER_ID.search(line)
        if match:
            per_order[match.group(1)].append(line)
    assert set(per_order) == set(ids.values())
    for role, orderid in ids.items():
        titles = expected_titles(detail(nserver, orderid))
        got = per_order[orderid]
        assert len(got) == len(titles), (role, got, titles)
        for line, title in zip(got, titles, strict=True):
            assert line.startswith(title), (role, line, title)
            assert re.search(r"\d\d:\d\d:\d\d IST$", line), line

    def one(orderid: str, title: str) -> str:
        (line,) = [x for x in per_order[orderid] if x.startswith(title)]
        return line

    assert one(ids["market"], "✅").startswith("✅ Executed: BUY 5 NSE:SBIN · avg ₹800.00 · "
                                               "value ₹4,000.00")
    assert one(ids["partial"], "🟡").startswith(
        "🟡 Partially filled: BUY 3/10 NSE:SBIN (30%) · avg ₹790.00 · 7 remaining")
    assert one(ids["partial"], "✅").startswith("✅ Executed: BUY 10 NSE:SBIN · avg ₹790.00 · "
                                                "value ₹7,900.00")
    assert "broker: Price 1000 is outside the price band" in one(ids["rejected"], "❌")
    assert "RMS:Margin Exceeds" in one(ids["retried"], "🔁 Queued for retry")
    assert one(ids["retried"], "🗑️").startswith("🗑️ Dropped from the retry queue: BUY 100000 "
                                                 "NSE:SBIN · reason: dropped from retry queue")
    assert one(ids["denied"], "⛔").startswith("⛔ Denied (validation_failed): BUY 10 NSE:SBIN")
    assert one(ids["manual_cancel"], "🚫").startswith(
        "🚫 Cancelled at the broker's app: BUY 10 NSE:SBIN")
    assert one(ids["modified"], "✏️").startswith(
        "✏️ Modified at the broker's app: BUY NSE:SBIN · quantity 10 → 12 · "
        "price ₹785.00 → ₹780.00")
    assert one(ids["modified"], "🚫").startswith("🚫 Cancelled by you: BUY 12 NSE:SBIN")
    assert f"order {ids['partial']} · strategy notify · " in one(ids["partial"], "🟡")
    others = [line for line in lines if not ORDER_ID.search(line)]
    assert len(others) == 2
    assert any(line.startswith("🖐️ Manual buy detected: +3 NSE:INFY · ours 0 · at the broker 3")
               for line in others)
    assert any(line.startswith("🏁 Trade closed (target): LONG 10 NSE:SBIN · entry ₹789.00 → "
                               "exit ₹820.50 · P&L +₹315.00 · trade 41 · strategy notify")
               for line in others)
    if sink_down_first:
        digests = [a for a in sink.received() if str(a.body["title"]).startswith("📬")]
        assert digests, "the backlog after the outage arrives folded"
