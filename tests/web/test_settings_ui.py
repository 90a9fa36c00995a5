"""Settings in the browser: API keys (shown once, revoke), paper accounts, the kill switch."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.web.conftest import WebStack, login

pytestmark = pytest.mark.slow


def test_api_key_is_shown_once_and_can_be_revoked(page: Any, web_stack: WebStack,
                                                  shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("keys")
    login(page, user)
    page.goto("/settings")
    page.get_by_label("New key name").fill("bad name!")
    page.get_by_role("button", name="Create API key").click()
    expect(page.locator("#key_name-error")).to_be_visible()

    page.get_by_label("New key name").fill("my-script")
    page.get_by_role("button", name="Create API key").click()
    key_field = page.locator("#new-api-key")
    expect(key_field).to_have_value(re.compile(r"^tw_\S{20,}$"))
    key = key_field.input_value()
    shoot("settings-new-key", docs=True)
    assert httpx.get(f"{web_stack.url}/api/v1/orders", headers={"X-API-Key": key},
                     timeout=30).status_code == 200
    page.goto("/settings")
    expect(page.locator("#new-api-key")).to_have_count(0)  # never shown again
    expect(page.get_by_role("cell", name="my-script", exact=True)).to_be_visible()

    def status() -> int:
        return httpx.get(f"{web_stack.url}/api/v1/orders", headers={"X-API-Key": key},
                         timeout=30).status_code

    assert status() == 200  # the key is in the service's auth cache now
    page.get_by_role("button", name="Revoke key my-script").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.locator(".notice")).to_contain_text("API key revoked")
    expect(page.get_by_role("row", name="my-script")).to_contain_text("revoked")
    assert status() == 403  # at once, not after the cache's few seconds


def test_kill_switch_blocks_new_entries(page: Any, web_stack: WebStack,
                                        shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("killer")
    login(page, user)
    page.goto("/settings")
    row = page.locator("tr", has_text=user.account)
    row.get_by_role("button", name="Turn kill switch on").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Exits (stop-loss, target, square-off) still go through")
    dialog.get_by_role("button", name="Turn ON").click()
    expect(row.locator("[data-kill-switch]")).to_have_attribute("data-kill-switch", "on")
    shoot("settings", docs=True)

    answer = web_stack.place(user, symbol="RELIANCE", action="BUY", quantity="1")
    assert answer["status"] == "error" and "kill switch" in answer["message"]

    page.goto("/")
    expect(page.locator("#alerts")).to_contain_text("Kill switch is ON")
    page.goto("/settings")
    page.locator("tr", has_text=user.account).get_by_role("button",
                                                          name="Turn kill switch off").click()
    page.get_by_role("dialog").get_by_role("button", name="Turn off").click()
    expect(page.locator("tr", has_text=user.account).locator("[data-kill-switch]")
           ).to_have_attribute("data-kill-switch", "off")
    assert web_stack.place(user, symbol="RELIANCE", action="BUY", quantity="1")["status"] == (
        "success")


def test_add_paper_account(page: Any, web_stack: WebStack) -> None:
    user = web_stack.add_user("accounts")
    login(page, user)
    page.goto("/settings")
    page.get_by_label("New paper account").fill(user.account)  # taken (by this user)
    page.get_by_role("button", name="Add paper account").click()
    expect(page.locator("#account_name-error")).to_have_text("that account name is taken")
    page.get_by_label("New paper account").fill(f"{user.name}-second")
    page.get_by_label("Starting cash (₹)").fill("lots")
    page.get_by_role("button", name="Add paper account").click()
    expect(page.locator("#cash-error")).to_be_visible()
    page.get_by_label("Starting cash (₹)").fill("250000")
    page.get_by_role("button", name="Add paper account").click()
    expect(page.locator("tr", has_text=f"{user.name}-second")).to_be_visible()
