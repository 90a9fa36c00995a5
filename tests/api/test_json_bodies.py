"""Hostile JSON bodies (deeply nested) on every kind of route: a clear 400, nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Server
from tests.api.test_webhooks import _counts, _strategy
from tradewarden.api.json_body import too_deep


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _bodies(depth: int) -> dict[str, str]:
    """Deep bodies of three shapes: all arrays, all objects, deep inside a valid object."""
    return {
        "arrays": _nested(depth),
        "objects": '{"a":' * depth + "1" + "}" * depth,
        "field": '{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, '
                 f'"name": "deep", "padding": {_nested(depth)}}}',
    }


def _send(server: Server, method: str, path: str, body: str,
          content_type: str = "application/json") -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", content=body.encode(), timeout=30,
                         headers={"Content-Type": content_type, "X-API-Key": server.key})


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "error"
    assert answer["message"] == "the JSON body is nested more than 32 levels deep"


@pytest.mark.parametrize("depth", [33, 900, 5000])
def test_deep_bodies_are_400_everywhere(server: Server, depth: int) -> None:
    strategy = _strategy(server)
    routes = [
        ("POST", "/api/v1/placeorder"),  # the OpenAlgo shortcut
        ("POST", "/api/v1/basketorder"),
        ("POST", "/api/v1/orderbook"),
        ("POST", "/api/v1/createtrade"),  # a FastAPI route that reads its own body
        ("POST", f"/webhook/{strategy['webhook_token']}"),
        ("POST", "/api/v1/strategies"),  # FastAPI-parsed bodies
        ("PATCH", f"/api/v1/strategies/{strategy['id']}"),
        ("PUT", "/api/v1/notifications/preferences"),
    ]
    for method, path in routes:
        for shape, body in _bodies(depth).items():
            response = _send(server, method, path, body)
            assert response.status_code == 400, (method, path, shape, response.text)
            _refused(response)
    assert _counts(server) == 0
    names = [s["name"] for s in server.client().get("/api/v1/strategies").json()]
    assert names == ["breakout"]


def test_webhook_without_a_json_content_type_is_checked_too(server: Server) -> None:
    """TradingView sends text/plain: the webhook's own decoding refuses the same bodies."""
    strategy = _strategy(server)
    secret = strategy["webhook_secret"]
    deep = ('{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, '
            f'"secret_key": "{secret}", "padding": {_nested(900)}}}')
    _refused(_send(server, "POST", f"/webhook/{strategy['webhook_token']}", deep, "text/plain"))
    assert _counts(server) == 0
    within = deep.replace(_nested(900), _nested(30))
    response = _send(server, "POST", f"/webhook/{strategy['webhook_token']}", within,
                     "text/plain")
    assert response.status_code == 200, response.text


def test_brackets_inside_strings_do_not_count(server: Server) -> None:
    strategy = _strategy(server)
    body = ('{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1, '
            f'"secret_key": "{strategy["webhook_secret"]}", '
            f'"note": "{_nested(100)} \\" {{{{[[[["}}')
    response = _send(server, "POST", f"/webhook/{strategy['webhook_token']}", body)
    assert response.status_code == 200, response.text
    assert _counts(server) == 1


def test_oversized_json_for_fastapi_routes_is_413(server: Server) -> None:
    body = '{"name": "big", "settings": {}, "padding": "' + "x" * (1024 * 1024) + '"}'
    response = _send(server, "POST", "/api/v1/strategies", body)
    assert response.status_code == 413, response.text
    assert response.json() == {"status": "error", "message": "request body too large"}
    assert server.client().get("/api/v1/strategies").json() == []


def test_json_bodies_over_256_kib_are_413_before_anything_reads_them(server: Server) -> None:
    limit = 256 * 1024  # as documented (docs/api.md)
    head, tail = '{"name": "big", "settings": {}, "padding": "', '"}'
    fits = head + "x" * (limit - len(head) - len(tail)) + tail
    response = _send(server, "POST", "/api/v1/strategies", fits)
    assert response.status_code != 413, response.text  # the limit itself is allowed
    over = head + "x" * (limit + 1 - len(head) - len(tail)) + tail
    for key in (server.key, "tw_wrong_key_0123456789abcdef"):
        response = httpx.post(f"{server.url}/api/v1/strategies", content=over.encode(),
                              timeout=30, headers={"Content-Type": "application/json",
                                                   "X-API-Key": key})
        assert response.status_code == 413, response.text


@pytest.mark.parametrize("body", [b"\xff\xfe\x00[[", b'{"name": "\xc3\x28"}', b"[" * 20])
def test_unreadable_json_is_a_4xx(server: Server, body: bytes) -> None:
    for path in ("/api/v1/strategies", "/api/v1/placeorder"):
        response = httpx.post(f"{server.url}{path}", content=body, timeout=30,
                              headers={"Content-Type": "application/json",
                                       "X-API-Key": server.key})
        assert 400 <= response.status_code < 500, (path, response.text)
    assert server.client().get("/api/v1/strategies").json() == []


@pytest.mark.parametrize(("text", "deep"), [
    ("[" * 33 + "]" * 33, True),
    ("[" * 32 + "]" * 32, False),
    ('["' + "[" * 40 + '"]', False),  # brackets in a string
    ('["\\"' + "[" * 40 + '"]', False),  # after an escaped quote, still in the string
    ('["\\\\"' + ", [" * 40, True),  # an escaped backslash: the string ended
    ('"cut off' + "[" * 40, False),  # an unterminated string runs to the end
    ("[]" * 100 + "[" * 33, True),
])
def test_depth_scan(text: str, deep: bool) -> None:
    assert too_deep(text) is deep
