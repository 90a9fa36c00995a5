"""Signing in and out in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import WebStack, login

pytestmark = pytest.mark.slow


def test_wrong_password_then_sign_in_and_out(page: Any, web_stack: WebStack,
                                             shoot: Callable[..., Any]) -> None:
    user = web_stack.add_user("login")
    page.goto("/orders?tab=failed")
    expect(page).to_have_url(re.compile(r"/login\?next=/orders%3Ftab%3Dfailed|/login\?next="))
    shoot("login", docs=True)
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value(user.name)

    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/orders\?tab=failed$"))  # back where we were going
    expect(page.get_by_role("link", name="Orders", exact=True)).to_have_attribute(
        "aria-current", "page")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_failed_sign_ins_are_rate_limited(page: Any, web_stack: WebStack) -> None:
    user = web_stack.add_user("limited")
    page.goto("/login")
    for _ in range(5):
        page.get_by_label("Username").fill(user.name)
        page.get_by_label("Password").fill("guess")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    page.get_by_label("Username").fill(user.name)
    page.get_by_label("Password").fill(user.password)  # even the right one, for a while
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_other_users_sign_in_while_one_is_limited(page: Any, web_stack: WebStack) -> None:
    other = web_stack.add_user("unaffected")
    login(page, other)
    expect(page.get_by_role("heading", name="Intraday P&L")).to_be_visible()
