"""Strategies in the browser: validation next to the field, the live risk preview, webhook
details, pause/resume and the delete-protection dialog."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import WebStack, login

pytestmark = pytest.mark.slow


def test_invalid_value_shows_a_field_error_then_a_valid_strategy_is_created(
        page: Any, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("strategist")
    login(page, user)
    page.goto("/strategies")
    page.get_by_role("link", name="New strategy").click()
    page.get_by_label("Name", exact=True).fill("momentum")
    page.get_by_label("Sizing", exact=True).select_option("percent_of_allocation")
    page.get_by_label("Sizing value").fill("10")  # percent sizing needs allocated funds
    page.get_by_label("Stop-loss: kind", exact=True).select_option("percent")
    stop_value = page.get_by_label("Stop-loss: value", exact=True)
    stop_value.fill("150")  # a percent level must be below 100
    page.get_by_role("button", name="Create strategy").click()

    expect(page.locator("#stop_loss_value-error")).to_contain_text("below 100")
    expect(stop_value).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value("momentum")  # input kept
    shoot("strategy-field-error", docs=True)
    assert httpx.get(f"{web_stack.url}/api/v1/strategies",
                     headers={"X-API-Key": user.api_key}).json() == []  # nothing written

    stop_value.fill("2")
    page.get_by_role("button", name="Create strategy").click()
    expect(page.locator("#allocated_funds-error")).to_contain_text("allocated_funds")

    page.get_by_label("Allocated funds (₹)").fill("500000")
    page.get_by_label("Max open positions").fill("4")
    preview = page.locator("#risk-preview")
    page.get_by_label("Sample entry price (₹)").fill("2500")
    expect(preview.locator("#preview-quantity")).to_have_text("20 shares (₹50,000.00)")  # live
    expect(preview.locator("#preview-loss")).to_have_text("₹1,000.00")
    expect(preview.locator("#preview-worst")).to_contain_text("₹4,000.00")
    page.get_by_label("Portfolio stop-loss: kind").select_option("amount")
    page.get_by_label("Portfolio stop-loss: value").fill("3000")
    expect(preview.locator("#preview-worst")).to_contain_text("capped by the portfolio")
    page.get_by_role("button", name="Create strategy").click()

    expect(page).to_have_url(re.compile(r"/strategies/\d+\?done=created$"))
    expect(page.locator(".notice")).to_contain_text("Strategy created")
    expect(page.locator("#webhook-url")).to_have_value(re.compile(r"/webhook/[\w-]+$"))
    expect(page.locator("#webhook-secret")).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#webhook-secret")).to_have_attribute("type", "text")
    (created,) = httpx.get(f"{web_stack.url}/api/v1/strategies",
                           headers={"X-API-Key": user.api_key}).json()
    secret = created["webhook_secret"]  # in clear, though stored encrypted
    expect(page.locator("#webhook-secret")).to_have_value(secret)
    for example in ("single", "smart", "exit", "multi"):  # revealed by Show
        expect(page.locator(f"#example-{example}")).to_contain_text(f'"secret_key": "{secret}"')
    expect(page.locator("#example-multi")).to_contain_text('"legs"')
    shoot("strategy", docs=True)

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("paused")
    page.goto("/strategies")
    expect(page.get_by_role("link", name="momentum")).to_be_visible()
    shoot("strategies")


def test_delete_is_protected_while_the_strategy_holds_a_position(
        page: Any, web_stack: WebStack, shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("deleter")
    headers = {"X-API-Key": user.api_key}
    created = httpx.post(f"{web_stack.url}/api/v1/strategies", headers=headers, json={
        "name": "breakout", "settings": {"sizing": "fixed_quantity", "sizing_value": 1,
                                         "stop_loss": {"kind": "points", "value": 50}}},
        timeout=30).json()
    spare = httpx.post(f"{web_stack.url}/api/v1/strategies", headers=headers,
                       json={"name": "spare"}, timeout=30).json()
    alert = httpx.post(f"{web_stack.url}/webhook/{created['webhook_token']}", json={
        "symbol": "RELIANCE", "exchange": "NSE", "action": "BUY", "product": "MIS",
        "secret_key": created["webhook_secret"]}, timeout=30).json()
    web_stack.wait_status(user, alert["orders"][0]["orderid"], "filled")

    login(page, user)
    page.goto(f"/strategies/{created['id']}")
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    protection = page.locator("#delete-protection")
    expect(protection).to_be_visible()
    expect(protection).to_contain_text("breakout")
    shoot("strategy-delete-protection", docs=True, full_page=False)
    expect(protection.locator("tbody tr")).to_have_count(1)  # the trade the fill opened
    expect(protection).to_contain_text("NSE:RELIANCE")
    expect(protection.get_by_label(re.compile("Close them now"))).to_be_checked()
    protection.get_by_role("button", name="Keep the strategy").click()
    expect(protection).to_be_hidden()
    assert httpx.get(f"{web_stack.url}/api/v1/strategies/{created['id']}",
                     headers=headers).status_code == 200  # still there

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    protection.get_by_label("Transfer them to another strategy").check()
    protection.get_by_label("Transfer to").select_option(label=spare["name"])
    protection.get_by_role("button", name="Delete strategy").click()
    expect(page).to_have_url(re.compile(r"/strategies\?done=deleted$"))
    expect(page.get_by_role("link", name="breakout")).to_have_count(0)
    assert httpx.get(f"{web_stack.url}/api/v1/strategies/{created['id']}",
                     headers=headers).status_code == 404
