"""CSRF, sessions, per-user isolation and bad input, over plain HTTP (httpx) against the stack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.web.conftest import Seeded, WebStack, WebUser, seed_orders

pytestmark = pytest.mark.slow
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def signed_in(web: WebStack, user: WebUser) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as client:
        form = client.get("/login")
        token = TOKEN.search(form.text)
        assert token is not None
        answer = client.post("/login", data={"csrf_token": token.group(1),
                                             "username": user.name,
                                             "password": user.password, "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


def page_token(client: httpx.Client, path: str = "/settings") -> str:
    found = TOKEN.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def account_id(client: httpx.Client, account: str) -> str:
    found = re.search(rf'data-account-id="(\d+)">\s*<th scope="row">{re.escape(account)}',
                      client.get("/settings").text)
    assert found is not None
    return found.group(1)


def kill_switch_state(client: httpx.Client, account: str) -> str:
    html = client.get("/settings").text
    row = html[html.index(f">{account}<"):]
    found = re.search(r'data-kill-switch="(on|off)"', row)
    assert found is not None
    return found.group(1)


@pytest.fixture
def alice(web_stack: WebStack) -> Iterator[tuple[WebUser, httpx.Client]]:
    user = web_stack.add_user("alice")
    with signed_in(web_stack, user) as client:
        yield user, client


def test_posts_without_the_right_token_or_from_another_site_are_refused(
        web_stack: WebStack, alice: tuple[WebUser, httpx.Client]) -> None:
    user, client = alice
    token = page_token(client)
    path = f"/settings/accounts/{account_id(client, user.account)}/kill-switch"
    origin = web_stack.url
    refused = [
        client.post(path, data={"state": "on"}),
        client.post(path, data={"state": "on", "csrf_token": "forged"}),
        client.post(path, data={"state": "on", "csrf_token": token},
                    headers={"Origin": "https://evil.example"}),
        client.post(path, data={"state": "on", "csrf_token": token},
                    headers={"Referer": "https://evil.example/page"}),
        client.post(path, data={"state": "on", "csrf_token": token},
                    headers={"Origin": "null"}),
        client.post(path, data={"state": "on"}, headers={"X-CSRF-Token": "forged",
                                                         "Accept": "application/json"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert refused[-1].json()["status"] == "error"
    assert kill_switch_state(client, user.account) == "off"  # nothing written

    accepted = client.post(path, data={"state": "on", "csrf_token": token},
                           headers={"Origin": origin, "Referer": f"{origin}/settings"})
    assert accepted.status_code == 303
    assert kill_switch_state(client, user.account) == "on"
    by_header = client.post(path, data={"state": "off"},
                            headers={"X-CSRF-Token": token, "Origin": origin})
    assert by_header.status_code == 303
    assert kill_switch_state(client, user.account) == "off"


def test_login_and_logout_are_protected_too(web_stack: WebStack,
                                            alice: tuple[WebUser, httpx.Client]) -> None:
    user, client = alice
    stranger = httpx.Client(base_url=web_stack.url, timeout=30)
    token = TOKEN.search(stranger.get("/login").text)
    assert token is not None
    login = {"csrf_token": token.group(1), "username": user.name, "password": user.password}
    assert stranger.post("/login", data=login,
                         headers={"Origin": "https://evil.example"}).status_code == 403
    assert httpx.post(f"{web_stack.url}/login", data=login).status_code == 403  # no cookie
    assert stranger.post("/login", data=login).status_code == 303

    assert client.post("/logout").status_code == 403
    assert client.get("/settings").status_code == 200  # still signed in
    assert client.post("/logout", data={"csrf_token": page_token(client)}).status_code == 303
    assert client.get("/settings").status_code == 303  # signed out


def test_session_cookie_flags(web_stack: WebStack) -> None:
    user = web_stack.add_user("cookie")
    client = httpx.Client(base_url=web_stack.url, timeout=30)
    token = TOKEN.search(client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"csrf_token": token.group(1), "username": user.name,
                                         "password": user.password})
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith("tw_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # served over plain http here; https adds Secure
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_other_users_objects_are_not_found(web_stack: WebStack) -> None:
    owner: Seeded = seed_orders(web_stack, web_stack.add_user("owner"))
    strategy = httpx.post(f"{web_stack.url}/api/v1/strategies", json={"name": "mine"},
                          headers={"X-API-Key": owner.user.api_key}, timeout=30).json()
    mallory = web_stack.add_user("mallory")
    with signed_in(web_stack, owner.user) as client:
        owner_account = account_id(client, owner.user.account)
        assert client.get(f"/orders/{owner.filled}").status_code == 200
    with signed_in(web_stack, mallory) as client:
        token = page_token(client)
        assert client.get(f"/orders/{owner.filled}").status_code == 404
        assert owner.filled not in client.get("/orders").text
        assert client.get(f"/strategies/{strategy['id']}").status_code == 404
        posts = [f"/orders/{owner.queued[0]}/retry", f"/orders/{owner.queued[0]}/drop",
                 f"/strategies/{strategy['id']}/pause", f"/strategies/{strategy['id']}/delete",
                 f"/settings/accounts/{owner_account}/kill-switch"]
        for path in posts:
            answer = client.post(path, data={"csrf_token": token, "state": "on"})
            assert answer.status_code == 404, path
    assert web_stack.order(owner.user, owner.queued[0])["status"] == "retry_pending"


def test_live_channel_sends_only_the_callers_orders(web_stack: WebStack) -> None:
    alice, bob = web_stack.add_user("ws-a"), web_stack.add_user("ws-b")
    ws_url = web_stack.url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(f"{ws_url}?apikey={alice.api_key}") as a_socket, \
            connect(ws_url, additional_headers={"X-API-Key": bob.api_key}) as b_socket:
        assert json.loads(a_socket.recv(timeout=10))["data"]["user"] == alice.name
        assert json.loads(b_socket.recv(timeout=10))["data"]["user"] == bob.name
        order_id = web_stack.place(alice, symbol="RELIANCE", action="BUY",
                                   quantity="1")["orderid"]
        first = json.loads(a_socket.recv(timeout=10))
        assert first["type"] == "order" and first["data"]["orderid"] == order_id
        assert first["data"]["event"]["type"] == "OrderCreated"
        bob_order = web_stack.place(bob, symbol="ITC", action="BUY", quantity="1")["orderid"]
        seen = json.loads(b_socket.recv(timeout=10))  # bob's first message is bob's order
        assert seen["data"]["orderid"] == bob_order


def test_live_channel_refuses_strangers_and_cross_site_pages(web_stack: WebStack) -> None:
    user = web_stack.add_user("ws-c")
    ws_url = web_stack.url.replace("http://", "ws://") + "/api/v1/ws"
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url, additional_headers={"X-API-Key": "tw_not_a_key_0123456789abcdef"})
    assert refused.value.response.status_code == 403
    # without credentials in the handshake, the first message must carry a valid key
    for first in ({"type": "auth", "apikey": "tw_not_a_key_0123456789abcdef"},
                  {"type": "subscribe"}, "not json"):
        with connect(ws_url) as socket:
            socket.send(first if isinstance(first, str) else json.dumps(first))
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with connect(ws_url) as socket:
        socket.send(json.dumps({"type": "auth", "apikey": user.api_key}))
        assert json.loads(socket.recv(timeout=10))["data"]["user"] == user.name
    with signed_in(web_stack, user) as client:
        cookie = f"tw_session={client.cookies['tw_session']}"
    with connect(ws_url, additional_headers={"Cookie": cookie},
                 origin=web_stack.url) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"
    with pytest.raises(InvalidStatus):
        connect(ws_url, additional_headers={"Cookie": cookie},
                origin="https://evil.example").close()


def test_bad_input_is_a_clear_4xx_never_a_5xx(web_stack: WebStack,
                                              alice: tuple[WebUser, httpx.Client]) -> None:
    _user, client = alice
    token = page_token(client, "/strategies/new")
    checks = {
        "/orders?page=abc": 422, "/orders?size=7": 422, "/orders?tab=nope": 422,
        "/orders?reason=made_up": 422, "/orders?from=2026-01-02&to=2026-01-01": 422,
        "/orders/" + "x" * 300: 404, "/strategies/abc": 404, "/strategies/99999999999": 404,
        "/strategies/preview?stop_loss_kind=percent&stop_loss_value=NaN": 200,
        "/no/such/page": 404,
    }
    for path, status in checks.items():
        assert client.get(path, headers={"Accept": "text/html"}).status_code == status, path
    posts = [
        client.post("/strategies/new", content=b"\xff\xfe", headers={
            "Content-Type": "application/x-www-form-urlencoded"}),
        client.post("/strategies/new", files={"name": ("a", b"b")}),
        client.post("/strategies/new", data={"csrf_token": token, "name": "x" * 500,
                                             "max_open_positions": "1e9",
                                             "stop_loss_kind": "sideways"}),
        client.post("/strategies/new", content=b"a=" + b"x" * 70_000, headers={
            "Content-Type": "application/x-www-form-urlencoded"}),
        client.post("/orders/abc/explode", data={"csrf_token": token}),
    ]
    assert [p.status_code for p in posts] == [400, 415, 422, 413, 404]
    assert "Please fix" in posts[2].text
