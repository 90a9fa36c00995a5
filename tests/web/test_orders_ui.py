"""Orders in the browser: tabs, filters, the order page, and retry/drop with live updates."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import Seeded, WebStack, login, seed_orders

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(web_stack: WebStack) -> Seeded:
    return seed_orders(web_stack, web_stack.add_user("orders"))


def _row(page: Any, order_id: str) -> Any:
    return page.locator(f'tr[data-order-id="{order_id}"]')


def _external_order(web_stack: WebStack, seeded: Seeded) -> str:
    """An order placed at the broker's own app (resting below the market), once the monitor
    has recorded it."""
    web_stack.control("prices", {"prices": {"NSE:WIPRO": 500}})
    web_stack.control("accounts", {"account": seeded.user.account, "cash": 1_000_000})
    web_stack.control("manual/orders", {
        "account": seeded.user.account, "exchange": "NSE", "symbol": "WIPRO", "side": "BUY",
        "quantity": 1, "order_type": "LIMIT", "price": 450, "product": "CNC"})
    found: list[str] = []

    def recorded() -> bool:
        items = httpx.get(f"{web_stack.url}/api/v1/orders", params={"origin": "external"},
                          headers={"X-API-Key": seeded.user.api_key}, timeout=30).json()["items"]
        found.extend(item["orderid"] for item in items)
        return bool(found)

    web_stack.wait_for(recorded, "the manual order recorded as external")
    return found[0]


def test_seeded_orders_sit_in_the_right_tabs(page: Any, seeded: Seeded, web_stack: WebStack,
                                             shoot: Callable[..., Any]) -> None:
    external = _external_order(web_stack, seeded)
    login(page, seeded.user)
    expect(page.locator("[data-queue-size]")).to_have_text("2")
    expect(page.locator('[data-count-status="filled"]')).to_have_text("1")

    expected = {"filled": [seeded.filled], "denied": [seeded.denied],
                "rejected": [seeded.rejected], "retry_pending": seeded.queued,
                "external": [external],
                "all": [seeded.filled, seeded.denied, seeded.rejected, *seeded.queued, external]}
    everything = set(expected["all"])
    for tab, members in expected.items():
        page.goto(f"/orders?tab={tab}")
        for order_id in members:
            expect(_row(page, order_id)).to_be_visible()
        for order_id in everything - set(members):
            expect(_row(page, order_id), f"{order_id} in {tab}").to_have_count(0)
    page.goto("/orders?tab=retry_pending")
    row = _row(page, seeded.queued[0])
    expect(row.locator('[data-field="reason"]')).to_contain_text("insufficient_funds")
    expect(row.get_by_role("button", name="Retry")).to_be_visible()
    expect(row.get_by_role("button", name="Drop")).to_be_visible()
    shoot("orders-retry-pending", docs=True)
    for tab in ("failed", "cancelled"):
        page.goto(f"/orders?tab={tab}")
        for order_id in everything:
            expect(_row(page, order_id)).to_have_count(0)
    page.goto("/orders?tab=open")
    expect(_row(page, external)).to_be_visible()  # resting at the broker
    shoot("orders-external")


def test_filters(page: Any, seeded: Seeded) -> None:
    login(page, seeded.user)
    page.goto("/orders")
    page.get_by_label("Symbol").fill("sbin")
    page.get_by_role("button", name="Filter").click()
    expect(_row(page, seeded.queued[0])).to_be_visible()
    expect(page.locator("tr[data-order-id]")).to_have_count(1)

    page.goto("/orders")
    page.get_by_label("Reason").select_option("validation_failed")
    page.get_by_role("button", name="Filter").click()
    expect(_row(page, seeded.denied)).to_be_visible()
    expect(page.locator("tr[data-order-id]")).to_have_count(1)

    page.goto("/orders?from=2001-01-01&to=2001-01-02")
    expect(page.get_by_text("No orders match.")).to_be_visible()
    page.goto("/orders?from=not-a-date")
    expect(page.locator("#from-error")).to_have_text("use a date like 2026-11-23")


def test_retry_updates_the_row_live_and_drop_after_confirming(
        page: Any, seeded: Seeded, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    login(page, seeded.user)
    page.goto("/orders?tab=retry_pending")
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__sameDocument = true")
    web_stack.control("accounts", {"account": seeded.user.account, "cash": 1_000_000})

    retry_row = _row(page, seeded.queued[0])
    retry_row.get_by_role("button", name="Retry").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Retries so far")
    expect(dialog).to_contain_text("insufficient")
    shoot("orders-retry-dialog", docs=True)
    dialog.get_by_role("button", name="Cancel").click()  # nothing happens
    expect(dialog).to_be_hidden()
    expect(retry_row.locator('[data-field="status"]')).to_have_text("retry pending")

    retry_row.get_by_role("button", name="Retry").click()
    dialog.get_by_role("button", name="Retry now").click()
    expect(retry_row.locator('[data-field="status"]')).to_have_text("filled")
    expect(retry_row.locator('[data-field="retry_count"]')).to_have_text("1")
    expect(retry_row.get_by_role("button", name="Retry")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened

    drop_row = _row(page, seeded.queued[1])
    drop_row.get_by_role("button", name="Drop").focus()
    page.keyboard.press("Enter")  # keyboard only
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    drop_row.get_by_role("button", name="Drop").click()
    dialog.get_by_role("button", name="Drop order").click()
    expect(drop_row.locator('[data-field="status"]')).to_have_text("cancelled")
    assert page.evaluate("window.__sameDocument") is True
    assert web_stack.order(seeded.user, seeded.queued[1])["status"] == "cancelled"


def test_order_page_shows_the_timeline_and_fills(page: Any, seeded: Seeded,
                                                 shoot: Callable[..., Any]) -> None:
    login(page, seeded.user)
    page.goto("/orders?tab=filled")
    _row(page, seeded.filled).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("NSE:RELIANCE")
    timeline = page.locator("#timeline li")
    expect(timeline.first).to_contain_text("OrderCreated")
    expect(page.locator("#timeline")).to_contain_text("OrderFilled")
    expect(page.locator("#fills tbody tr")).to_have_count(1)
    expect(page.locator("#fills")).to_contain_text("2,500.00")
    shoot("order-timeline", docs=True)

    page.goto(f"/orders/{seeded.denied}")
    expect(page.locator("#timeline")).to_contain_text("OrderDenied")
    expect(page.get_by_text("not a multiple of the tick size").first).to_be_visible()


def test_phone_layout_and_dark_theme(page: Any, seeded: Seeded,
                                     shoot: Callable[..., Any]) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, seeded.user)
    toggle = page.get_by_role("button", name="Switch to dark theme")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # remembered
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator("[data-queue-size]")).to_have_text("2")
    shoot("overview-phone-dark", docs=True)
    page.goto("/orders?tab=retry_pending")
    expect(_row(page, seeded.queued[0])).to_be_visible()
    shoot("orders-phone-dark", docs=True)


def test_overview_shows_broker_pnl_and_the_intraday_curve(
        page: Any, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("pnl")
    for price, side, quantity in ((1600, "BUY", "20"), (1630, "SELL", "10"),
                                  (1610, "BUY", "5")):
        web_stack.control("prices", {"prices": {"NSE:HDFCBANK": price}})
        order_id = web_stack.place(user, symbol="HDFCBANK", action=side,
                                   quantity=quantity)["orderid"]
        web_stack.wait_status(user, order_id, "filled")
    web_stack.control("prices", {"prices": {"NSE:HDFCBANK": 1620}})
    seed_orders(web_stack, user)  # some of every other kind, for the status counts
    login(page, user)
    expect(page.locator("#realised-pnl")).to_have_text("+₹300.00")  # 10 sold 30 higher
    expect(page.locator("#unrealised-pnl")).to_contain_text("+₹")
    chart = page.get_by_role("img", name="Intraday P&L")
    expect(chart).to_have_attribute("aria-label", re.compile(r"from \d+ fill\(s\)"))
    shoot("overview", docs=True)
