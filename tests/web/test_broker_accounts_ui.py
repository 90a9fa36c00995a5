"""Settings → Broker accounts for real brokers: add a Kite account (secrets never echoed),
edit and remove it, and the Kite login callback for the owner only (against a stub Kite token
endpoint on 127.0.0.1), in plain HTTP and in the browser at 1440 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.cli.test_kite_login import ACCESS, API_KEY, GOOD_REQUEST, SECRET, StubKite
from tests.web.conftest import WebStack, WebUser, login
from tests.web.test_security import page_token, signed_in
from tradewarden.clock import IST, ist_now
from tradewarden.store.db import Database
from tradewarden.store.tables import BrokerAccount

pytestmark = pytest.mark.slow
SIZES = {1440: {"width": 1440, "height": 900}, 390: {"width": 390, "height": 844}}


@pytest.fixture
def kite() -> Iterator[StubKite]:
    stub = StubKite()
    yield stub
    stub.close()


def _row(web: WebStack, account_id: int) -> BrokerAccount:
    db = Database(web.database_url, pool_size=1)
    try:
        with db.read() as session:
            account = session.get(BrokerAccount, account_id)
            assert account is not None
            session.expunge(account)
            return account
    finally:
        db.close()


def _database_bytes(web: WebStack) -> bytes:
    path = Path(web.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _add_kite(client: httpx.Client, name: str, base_url: str) -> httpx.Response:
    return client.post("/settings/brokers/kite/accounts", data={
        "csrf_token": page_token(client), "account_name": name, "opt_api_key": API_KEY,
        "opt_api_secret": SECRET, "opt_base_url": base_url})


def _connect(client: httpx.Client, name: str) -> tuple[int, str, str]:
    """The account id, Connect link and the state it carries, from Settings."""
    html = client.get("/settings").text
    row = re.search(rf'data-account-id="(\d+)">\s*<th scope="row">{re.escape(name)}<.*?</tr>',
                    html, re.S)
    assert row is not None
    link = re.search(r'href="([^"]+)"[^>]*>Connect<', row.group(0))
    assert link is not None
    url = unescape(link.group(1))
    return int(row.group(1)), url, parse_qs(parse_qs(urlsplit(url).query)["redirect_params"][0])[
        "state"][0]


def test_kite_login_callback_finishes_for_the_owner_only(web_stack: WebStack,
                                                         kite: StubKite) -> None:
    owner, other = web_stack.add_user("kiteowner"), web_stack.add_user("kiteother")
    with signed_in(web_stack, owner) as client, signed_in(web_stack, other) as stranger:
        added = _add_kite(client, "zk-owner", kite.url)
        assert added.status_code == 303 and "broker_account_added" in added.headers["location"]
        settings = client.get("/settings").text
        assert SECRET not in settings
        account_id, url, state = _connect(client, "zk-owner")
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            "https://kite.zerodha.com/connect/login")
        assert query["v"] == ["3"] and query["api_key"] == [API_KEY]
        assert parse_qs(query["redirect_params"][0])["account"] == [str(account_id)]
        assert _row(web_stack, account_id).state == "login_required"

        def callback(who: httpx.Client, token: str, **extra: str) -> httpx.Response:
            return who.get("/brokers/kite/callback", params={
                "action": "login", "type": "login", "status": "success",
                "request_token": token, "account": str(account_id), "state": state, **extra})

        assert callback(stranger, GOOD_REQUEST).status_code == 404
        assert stranger.get("/brokers/kite/callback", params={
            "request_token": GOOD_REQUEST, "status": "success", "account": "999999"}
            ).status_code == 404
        assert kite.received == []  # Kite is never asked for someone else's account

        forged = callback(client, GOOD_REQUEST, state="0" * 32)
        assert forged.status_code == 303 and "kite_login_failed" in forged.headers["location"]
        assert kite.received == []

        refused = callback(client, "reqTokenExpired")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/settings?done=kite_login_failed")
        page = client.get(refused.headers["location"]).text
        assert "Kite did not accept that login" in page
        row = _row(web_stack, account_id)
        assert (row.state, row.session_expires_at) == ("login_required", None)

        done = callback(client, GOOD_REQUEST)
        assert done.status_code == 303 and "kite_connected" in done.headers["location"]
        assert [form["request_token"] for _, form, _ in kite.received] == [
            ["reqTokenExpired"], [GOOD_REQUEST]]
        row = _row(web_stack, account_id)
        assert row.state == "ready" and row.session_expires_at is not None
        expires = row.session_expires_at.astimezone(IST)
        assert (expires.hour, expires.minute) == (6, 0) and expires > ist_now()
        assert ACCESS.encode() not in _database_bytes(web_stack)
        assert SECRET.encode() not in _database_bytes(web_stack)
        assert ACCESS not in client.get("/settings").text


def test_edit_keeps_blank_secrets_and_remove_deletes_an_unused_account(
        web_stack: WebStack, kite: StubKite) -> None:
    user = web_stack.add_user("kiteedit")
    with signed_in(web_stack, user) as client:
        assert _add_kite(client, "zk-edit", kite.url).status_code == 303
        account_id, _, state = _connect(client, "zk-edit")
        before = _row(web_stack, account_id).credentials_encrypted
        form = client.get(f"/settings/accounts/{account_id}/edit").text
        assert SECRET not in form and 'type="password"' in form
        saved = client.post(f"/settings/accounts/{account_id}/edit", data={
            "csrf_token": page_token(client), "opt_api_key": "kiteapp8", "opt_api_secret": "",
            "opt_base_url": kite.url})
        assert saved.status_code == 303
        row = _row(web_stack, account_id)
        assert row.options["api_key"] == "kiteapp8" and row.credentials_encrypted == before

        removed = client.post(f"/settings/accounts/{account_id}/remove",
                              data={"csrf_token": page_token(client)})
        assert removed.status_code == 303 and "broker_account_removed" in removed.headers[
            "location"]
        assert "zk-edit" not in client.get("/settings").text
        assert client.post(f"/settings/accounts/{account_id}/remove",
                           data={"csrf_token": page_token(client)}).status_code == 404
        assert client.post(f"/settings/accounts/{account_id}/remove",
                           data={}).status_code == 403  # CSRF rules as elsewhere
        assert client.get("/brokers/kite/callback", params={
            "request_token": GOOD_REQUEST, "status": "success", "account": str(account_id),
            "state": state}).status_code == 404


def test_bad_options_are_shown_without_echoing_the_secret(web_stack: WebStack) -> None:
    user = web_stack.add_user("kitebad")
    with signed_in(web_stack, user) as client:
        answer = client.post("/settings/brokers/kite/accounts", data={
            "csrf_token": page_token(client), "account_name": "zk-bad",
            "opt_api_key": API_KEY, "opt_api_secret": SECRET, "opt_base_url": "ftp://nope"})
        assert answer.status_code == 422
        assert "base_url" in answer.text and SECRET not in answer.text


def _no_sideways_scroll(page: Any) -> None:
    scroll = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll[0] <= scroll[1], f"scrolls sideways: {scroll}"


@pytest.mark.parametrize("width", sorted(SIZES))
def test_add_a_kite_account_in_the_browser(page: Any, web_stack: WebStack, width: int,
                                           shoot: Callable[..., Any]) -> None:
    user: WebUser = web_stack.add_user(f"kiteui{width}")
    page.set_viewport_size(SIZES[width])
    login(page, user)
    page.goto("/settings")
    _no_sideways_scroll(page)
    page.get_by_text("Add a Zerodha Kite Connect account").click()
    form = page.locator("#add-kite")
    form.get_by_label("Account name").fill(f"zk-{width}")
    form.get_by_label("api_key").fill(API_KEY)
    secret = form.get_by_label("api_secret")
    expect(secret).to_have_attribute("type", "password")
    secret.fill(SECRET)
    _no_sideways_scroll(page)
    form.get_by_role("button", name="Add Zerodha Kite Connect account").click()
    expect(page.locator("#broker-notice")).to_contain_text("Broker account added")
    row = page.locator("#account-list tr", has_text=f"zk-{width}")
    expect(row).to_contain_text("Zerodha Kite Connect")
    connect = row.get_by_role("link", name=f"Connect zk-{width} to Kite")
    expect(connect).to_have_attribute("href", re.compile(
        r"^https://kite\.zerodha\.com/connect/login\?v=3&api_key=kiteapp7&redirect_params="))
    assert SECRET not in page.content()
    _no_sideways_scroll(page)
    shoot(f"settings-kite-account-{width}")
