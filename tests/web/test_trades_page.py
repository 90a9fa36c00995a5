"""Trades in the browser: live LTP and P&L from paper price changes, levels close to the price,
modify levels (field error, then saved), exit after confirming and the trade in history, the
strategy filter, the overview's open-trades card; CSRF and other users over plain HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import WebStack, WebUser, login
from tests.web.test_security import page_token, signed_in
from tests.web.test_units import in_own_loop
from tradewarden.domain.strategy import Level, LevelKind
from tradewarden.domain.trades import Trade, TradeSide
from tradewarden.engine.trades.operations import TradeView
from tradewarden.web import trade_form, trade_views
from tradewarden.web.live import LiveHub
from tradewarden.web.live_trades import TradeFeed

slow = pytest.mark.slow  # browser and HTTP tests against the running stack
#: how long to wait for something that goes through the engine, the broker and back (an upper
#: bound under load, not a measured time)
LIVE_MS = 20_000


def open_trade(web: WebStack, user: WebUser, name: str, symbol: str, price: float,
               settings: dict[str, Any]) -> tuple[int, int]:
    """A strategy with ``settings`` and one webhook entry in ``symbol`` that opened a trade;
    returns (strategy id, trade id)."""
    headers = {"X-API-Key": user.api_key}
    web.control("prices", {"prices": {f"NSE:{symbol}": price}})
    strategy = httpx.post(f"{web.url}/api/v1/strategies", headers=headers, timeout=30, json={
        "name": name, "settings": {"sizing": "fixed_quantity", "sizing_value": 4, **settings}},
    ).json()
    alert = httpx.post(f"{web.url}/webhook/{strategy['webhook_token']}", timeout=30, json={
        "symbol": symbol, "exchange": "NSE", "action": "BUY", "product": "MIS",
        "secret_key": strategy["webhook_secret"]}).json()
    web.wait_status(user, alert["orders"][0]["orderid"], "filled")
    found: list[int] = []

    def opened() -> bool:
        trades = httpx.get(f"{web.url}/api/v1/activetrades", headers=headers, timeout=30,
                           params={"strategy_id": strategy["id"]}).json()["data"]["trades"]
        found.extend(t["trade_id"] for t in trades)
        return bool(found)

    web.wait_for(opened, f"a trade for {symbol}")
    return strategy["id"], found[0]


def active(web: WebStack, user: WebUser) -> dict[int, dict[str, Any]]:
    trades = httpx.get(f"{web.url}/api/v1/activetrades", headers={"X-API-Key": user.api_key},
                       timeout=30).json()["data"]["trades"]
    return {t["trade_id"]: t for t in trades}


@slow
def test_live_prices_modify_levels_and_exit_to_history(
        page: Any, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("trader")
    _strategy, trade_id = open_trade(web_stack, user, "swing", "LT", 3600, {
        "stop_loss": {"kind": "points", "value": 40},
        "trailing_stop": {"kind": "points", "value": 25}})
    login(page, user)
    expect(page.locator("#open-trades [data-trades-count]")).to_have_text("1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trades").click()
    row = page.locator(f'#active-trades tr[data-trade-id="{trade_id}"]')
    expect(row.locator('[data-field="ltp"]')).to_have_text("3,600.00")
    expect(row.locator('[data-level="stop_loss"]')).to_have_text("3,560.00")
    expect(row.locator('[data-field="trailing_level"]')).to_have_text("3,575.00")
    expect(page.locator("#live-status")).to_have_text("live", timeout=LIVE_MS)
    page.evaluate("window.__sameDocument = true")

    web_stack.control("prices", {"prices": {"NSE:LT": 3620}})  # a new best: the trail follows
    expect(row.locator('[data-field="ltp"]')).to_have_text("3,620.00", timeout=LIVE_MS)
    expect(row.locator('[data-field="pnl"]')).to_have_text("+₹80.00")  # 4 x 20
    expect(row.locator('[data-field="pnl"]')).to_have_class(re.compile(r"\bpos\b"))
    expect(row.locator('[data-field="trailing_level"]')).to_have_text("3,595.00")
    expect(row.locator('[data-field="best_price"]')).to_have_text("3,620.00")

    web_stack.control("prices", {"prices": {"NSE:LT": 3598}})  # 3 above the trailing level
    expect(row.locator('[data-field="pnl"]')).to_have_text("\u2212₹8.00", timeout=LIVE_MS)
    expect(row.locator('[data-field="pnl"]')).to_have_class(re.compile(r"\bneg\b"))
    expect(row.locator('[data-level="trailing_level"]')).to_have_class(re.compile(r"\bnear\b"))
    expect(row.locator('[data-level="stop_loss"]')).not_to_have_class(re.compile(r"\bnear\b"))
    summary = page.locator("#trade-summary tr[data-summary]").first
    expect(summary.locator('[data-summary-field="unrealised"]')).to_have_text("\u2212₹8.00")
    expect(page.locator("#trades-headline [data-trades-unrealised]")).to_have_text("\u2212₹8.00")
    assert page.evaluate("window.__sameDocument") is True  # no reload
    shoot("trades", docs=True)

    row.get_by_role("link", name=re.compile("Modify levels")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("NSE:LT")
    stop = page.get_by_label("Stop-loss price (₹)")
    expect(stop).to_have_value("3560")
    stop.fill("3700")  # above the last price: would fire at once
    page.get_by_role("button", name="Save levels").click()
    expect(page.locator("#stop_loss-error")).to_contain_text("below the last price")
    expect(stop).to_have_attribute("aria-invalid", "true")
    expect(stop).to_have_value("3700")  # input kept
    shoot("trade-field-error", docs=True)
    assert active(web_stack, user)[trade_id]["stop_loss"] == "3560.00"  # nothing changed

    stop.fill("3580")
    page.get_by_label("Trailing stop: distance").fill("30")  # looser than the ratcheted 3595
    page.get_by_role("button", name="Save levels").click()
    expect(page.locator("#trailing_value-error")).to_contain_text("3595")
    assert active(web_stack, user)[trade_id]["trailing_stop"] == {"kind": "points",
                                                                   "value": "25"}
    page.get_by_label(re.compile("Allow a looser stop")).check()
    page.get_by_role("button", name="Save levels").click()
    expect(page).to_have_url(re.compile(rf"/trades/{trade_id}\?done=levels_saved$"))
    expect(page.locator(".notice")).to_contain_text("Levels saved")
    expect(page.locator('dl [data-field="stop_loss"]')).to_have_text("3,580.00")
    expect(page.locator('dl [data-field="trailing_level"]')).to_have_text("3,590.00")  # 3620 - 30
    saved = active(web_stack, user)[trade_id]
    assert saved["stop_loss"] == "3580.00"
    assert saved["trailing_stop"] == {"kind": "points", "value": "30"}
    shoot("trade")

    page.goto("/trades")
    page.evaluate("window.__sameDocument = true")
    row.get_by_role("button", name=re.compile(f"Exit trade {trade_id}")).focus()
    page.keyboard.press("Enter")  # keyboard only
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("manual exit")
    expect(dialog.locator('[data-field="ltp"]')).to_have_text("3,598.00")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert trade_id in active(web_stack, user)  # nothing happened

    row.get_by_role("button", name=re.compile(f"Exit trade {trade_id}")).click()
    shoot("trade-exit-dialog", docs=True, full_page=False)
    dialog.get_by_role("button", name="Exit trade").click()
    expect(page.locator("#toast")).to_contain_text("Exit order placed")
    history = page.locator(f'#trade-history tr[data-history-trade-id="{trade_id}"]')
    expect(history).to_contain_text("manual_exit", timeout=LIVE_MS)
    expect(history).to_contain_text("\u2212₹8.00")  # sold at 3598
    expect(page.locator(f'#active-trades tr[data-trade-id="{trade_id}"]')).to_have_count(0)
    expect(page.locator("#trades-headline [data-trades-count]")).to_have_text("0")
    assert page.evaluate("window.__sameDocument") is True
    shoot("trades-history")


@slow
def test_strategy_filter_history_dates_and_the_overview(
        page: Any, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("filters")
    first, first_trade = open_trade(web_stack, user, "alpha", "MARUTI", 12000,
                                    {"target": {"kind": "percent", "value": 2}})
    login(page, user)
    card = page.locator("#open-trades")
    expect(card.locator("[data-trades-count]")).to_have_text("1")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#live-status")).to_have_text("live")
    _second, second_trade = open_trade(web_stack, user, "beta", "TITAN", 3300,
                                       {"stop_loss": {"kind": "percent", "value": 1}})
    expect(card.locator(f'tr[data-trade-id="{second_trade}"]')).to_contain_text(
        "TITAN", timeout=LIVE_MS)  # live
    expect(card.locator("[data-trades-count]")).to_have_text("2")
    web_stack.control("prices", {"prices": {"NSE:TITAN": 3310}})
    expect(card.locator(f'tr[data-trade-id="{second_trade}"] [data-field="pnl"]')).to_have_text(
        "+₹40.00", timeout=LIVE_MS)
    expect(card.locator("[data-trades-unrealised]")).to_have_text("+₹40.00")
    assert page.evaluate("window.__sameDocument") is True
    shoot("overview-open-trades", docs=True)

    page.goto("/trades")
    expect(page.locator("#active-trades tr[data-trade-id]")).to_have_count(2)
    expect(page.locator("#trade-summary tr[data-summary]")).to_have_count(3)  # two and all
    page.get_by_label("Strategy", exact=True).select_option(label="alpha")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"strategy={first}"))
    expect(page.locator("#active-trades tr[data-trade-id]")).to_have_count(1)
    expect(page.locator(f'#active-trades tr[data-trade-id="{first_trade}"]')).to_be_visible()
    expect(page.locator(f'tr[data-summary="{first}"]')).to_contain_text("alpha")

    page.goto("/trades?from=2001-01-01&to=2001-01-02")
    expect(page.get_by_text("No trades closed in this period.")).to_be_visible()
    page.goto("/trades?from=yesterday")
    expect(page.locator("#from-error")).to_have_text("use a date like 2026-11-23")
    page.goto("/trades")
    target = page.locator(f'tr[data-trade-id="{first_trade}"] [data-level="target"]')
    expect(target).not_to_have_class(re.compile(r"\bnear\b"))  # 2 % away
    page.get_by_label("Highlight within (%)").fill("2.5")
    page.get_by_role("button", name="Filter").click()
    expect(target).to_have_class(re.compile(r"\bnear\b"))  # 12,240 is within 2.5 % of 12,000

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(target).to_be_attached()
    shoot("trades-phone-dark", docs=True)


@slow
def test_trade_forms_refuse_cross_site_posts_and_other_users_see_nothing(
        web_stack: WebStack) -> None:
    owner = web_stack.add_user("owner")
    _strategy, trade_id = open_trade(web_stack, owner, "guarded", "BPCL", 300,
                                     {"stop_loss": {"kind": "points", "value": 10}})
    modify, exit_path = f"/trades/{trade_id}", f"/trades/{trade_id}/exit"
    with signed_in(web_stack, owner) as client:
        token = page_token(client, "/trades")
        for path, data in ((modify, {"stop_loss": "295"}), (exit_path, {})):
            refused = [
                client.post(path, data=data),
                client.post(path, data={**data, "csrf_token": "forged"}),
                client.post(path, data={**data, "csrf_token": token},
                            headers={"Origin": "https://evil.example"}),
            ]
            assert [r.status_code for r in refused] == [403, 403, 403], path
        assert active(web_stack, owner)[trade_id]["stop_loss"] == "290.00"  # nothing written
        accepted = client.post(modify, data={"csrf_token": token, "stop_loss": "295",
                                             "target": "", "trailing_kind": "",
                                             "trailing_value": ""})
        assert accepted.status_code == 303
        assert active(web_stack, owner)[trade_id]["stop_loss"] == "295.00"

    mallory = web_stack.add_user("mallory")
    with signed_in(web_stack, mallory) as client:
        token = page_token(client, "/trades")
        assert client.get(modify).status_code == 404
        assert "BPCL" not in client.get("/trades").text
        assert f'data-trade-id="{trade_id}"' not in client.get("/").text
        assert client.post(modify, data={"csrf_token": token, "stop_loss": "1"}).status_code == 404
        assert client.post(exit_path, data={"csrf_token": token}).status_code == 404
        assert client.post("/trades/abc/exit", data={"csrf_token": token}).status_code == 404
        assert client.get("/trades?strategy=99999", headers={"Accept": "text/html"}
                          ).status_code == 422
    assert active(web_stack, owner)[trade_id]["status"] == "active"


# --- the pure parts: the levels form, near levels, the summary, the tick throttle -------------


def a_trade(**changes: Any) -> Trade:
    now = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": 7, "user_id": 1, "account_id": 1, "strategy_id": 3, "exchange": "NSE",
        "symbol": "LT", "side": TradeSide.LONG, "product": "MIS", "quantity": 4,
        "entry_order_id": "o1", "entry_price": D(3600), "opened_at": now, "updated_at": now,
        "stop_loss": D(3560), "trailing_stop": Level(kind=LevelKind.POINTS, value=D(25))}
    return Trade(**(values | changes))


def test_levels_form_uses_the_api_rules_and_keeps_only_changes() -> None:
    trade = a_trade()
    same = trade_form.parse(trade_form.values_of(trade), trade)
    assert not same.errors and same.changes == {}
    changed = trade_form.parse({"stop_loss": "3,570", "target": "3700", "trailing_kind": "",
                                "trailing_value": ""}, trade)
    assert changed.changes == {"stop_loss": D(3570), "target": D(3700), "trailing_stop": None}
    cases = {
        "stop_loss": {"stop_loss": "abc"}, "target": {"target": "-5"},
        "trailing_value": {"trailing_kind": "percent", "trailing_value": "150"},
        "trailing_kind": {"trailing_kind": "sideways", "trailing_value": "5"},
    }
    for field, values in cases.items():
        form = trade_form.parse(trade_form.values_of(trade) | values, trade)
        assert field in form.errors and not form.changes, (field, form.errors)
    missing = trade_form.parse({"trailing_kind": "points", "trailing_value": ""}, trade)
    assert missing.errors == {"trailing_value": "enter the trailing distance"}


def test_engine_refusals_land_on_the_field_they_name() -> None:
    trade = a_trade()
    form = trade_form.parse({"stop_loss": "3700", "target": ""}, trade)
    trade_form.refused(form, "stop_loss 3700 must be below the last price 3598")
    assert form.errors == {"stop_loss": "stop-loss 3700 must be below the last price 3598"}
    both = trade_form.parse({"stop_loss": "3560", "target": "3500"}, trade)
    trade_form.refused(both, "a long trade needs stop_loss below target")
    assert list(both.errors) == ["target"]  # the one that was changed
    trail = trade_form.parse({"stop_loss": "3560", "trailing_kind": "points",
                              "trailing_value": "1"}, trade)
    trade_form.refused(trail, "the trailing stop's level 3599.00 is already beyond the last "
                              "price 3598")
    assert list(trail.errors) == ["trailing_value"]
    other = trade_form.LevelsForm({})
    trade_form.refused(other, "trade 7 is exiting")
    assert list(other.errors) == ["form"]


def test_near_levels_and_the_summary_per_strategy() -> None:
    trade = a_trade(stop_loss=D(3565), target=D(3700))
    view = TradeView(trade, D(3580), D(-80), D(3620), D(3595))
    assert trade_views.near_levels(view, D("0.5")) == {"stop_loss", "trailing_level"}
    assert trade_views.near_levels(view, D("0.1")) == set()  # 15 is 0.42 % of 3580
    assert trade_views.near_levels(TradeView(trade, None, D(0), None, None), D(5)) == set()
    other = TradeView(a_trade(id=8, strategy_id=None, booked_label="openalgo"), D(10), D(5),
                      None, None)
    summary = trade_views.summarise([view, other], {3: D(120), 4: D(-20)},
                                    {3: "swing", 4: "scalp"})
    rows = {row.key: (row.name, row.open_trades, row.unrealised, row.total)
            for row in summary.rows}
    assert rows == {"3": ("swing", 1, D(-80), D(40)), "4": ("scalp", 0, D(0), D(-20)),
                    "none": ("no strategy", 1, D(5), D(5))}
    assert (summary.total.open_trades, summary.total.total) == (2, D(25))
    assert [r.key for r in summary.rows][-1] == "none"


class FakeOps:
    """What ``TradeFeed`` uses of ``TradeOperations``: the manager's trades and prices."""

    def __init__(self, trades: list[Trade]) -> None:
        prices: dict[str, D] = {}
        self.manager = SimpleNamespace(trades={t.id: t for t in trades}, prices=prices,
                                       on_change=None, on_tick=None, last_price=prices.get)

    def view(self, trade: Trade) -> TradeView:
        ltp = self.manager.prices.get(trade.key)
        return TradeView(trade, ltp, trade.unrealised_pnl(ltp), trade.best_price, None)


def test_ticks_are_throttled_and_coalesced_per_symbol_and_user() -> None:
    in_own_loop(_tick_feed)


async def _tick_feed() -> None:
    mine, theirs = a_trade(id=1, user_id=1), a_trade(id=2, user_id=2, symbol="TCS")
    ops = FakeOps([mine, theirs, a_trade(id=3, user_id=1, symbol="TCS")])
    hub = LiveHub()
    feed = TradeFeed(cast(Any, ops), hub, interval_s=0.01)
    feed.attach()
    assert ops.manager.on_tick == feed.ticked
    client = hub.connect(1)
    for price in (3601, 3602, 3603):  # a burst: one message with the newest price
        ops.manager.prices["NSE:LT"] = D(price)
        feed.ticked("NSE:LT")
    ops.manager.prices["NSE:TCS"] = D(4000)
    feed.ticked("NSE:TCS")
    batch = await asyncio.wait_for(client.next_batch(), 5)
    by_symbol = {m["data"]["symbol"]: m["data"] for m in batch}
    assert [m["type"] for m in batch] == ["tick", "tick"]
    assert by_symbol["NSE:LT"]["ltp"] == "3603.00"
    assert by_symbol["NSE:LT"]["trades"] == [{"trade_id": 1, "status": "active",
                                              "unrealised_pnl": "12.00", "best_price": None,
                                              "trailing_level": None}]
    assert [t["trade_id"] for t in by_symbol["NSE:TCS"]["trades"]] == [3]  # not user 2's
    feed.changed(mine)
    message = (await asyncio.wait_for(client.next_batch(), 5))[0]
    assert message["type"] == "trade" and message["data"]["trade_id"] == 1
    assert message["data"]["ltp"] == "3603.00"
    feed.changed(theirs)  # user 2 is not connected: nothing is built
    feed.detach()
    assert ops.manager.on_tick is None and client.pending() == 0
