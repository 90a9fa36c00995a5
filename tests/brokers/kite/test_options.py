"""Kite account options, the login checksum and the request-token exchange."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from tradewarden.brokers.errors import BrokerServerError, SessionExpiredError
from tradewarden.brokers.kite.options import (
    KiteOptions,
    exchange_request_token,
    session_checksum,
)


def test_checksum_is_sha256_of_key_token_secret() -> None:
    expected = hashlib.sha256(b"key123" + b"req456" + b"secret789").hexdigest()
    assert session_checksum("key123", "req456", "secret789") == expected
    assert len(expected) == 64


def test_defaults_and_secret_fields() -> None:
    options = KiteOptions.parse({"api_key": "k", "api_secret": "s"})
    assert options.base_url == "https://api.kite.trade"
    assert options.ws_url == "wss://ws.kite.trade"
    assert options.login_url == "https://kite.zerodha.com/connect/login"
    assert options.access_token is None
    assert options.market_protection == Decimal(-1)
    assert KiteOptions.secret_fields == {"api_secret", "access_token"}


def test_secrets_never_shown() -> None:
    options = KiteOptions.parse({"api_key": "k", "api_secret": "hush", "access_token": "tok"})
    assert "hush" not in repr(options) and "tok" not in str(options)
    assert set(options.public()) & KiteOptions.secret_fields == set()


def test_unknown_missing_and_invalid_options_are_named() -> None:
    with pytest.raises(ValueError, match=r"unknown Kite option.*colour"):
        KiteOptions.parse({"api_key": "k", "api_secret": "s", "colour": "red"})
    with pytest.raises(ValueError, match=r"missing Kite option.*api_secret"):
        KiteOptions.parse({"api_key": "k"})
    with pytest.raises(ValueError, match="ws_url"):
        KiteOptions.parse({"api_key": "k", "api_secret": "s", "ws_url": "http://x"})
    with pytest.raises(ValueError, match="market_protection"):
        KiteOptions.parse({"api_key": "k", "api_secret": "s", "market_protection": "0"})
    with pytest.raises(ValueError, match="market_protection"):
        KiteOptions.parse({"api_key": "k", "api_secret": "s", "market_protection": "101"})


def test_endpoint_overrides_and_protection() -> None:
    options = KiteOptions.parse({
        "api_key": "k", "api_secret": "s", "base_url": "http://127.0.0.1:9/",
        "ws_url": "ws://127.0.0.1:9", "login_url": "http://127.0.0.1:9/login",
        "market_protection": "2.5",
    })
    assert options.base_url == "http://127.0.0.1:9"
    assert options.market_protection == Decimal("2.5")
    auto = KiteOptions.parse({"api_key": "k", "api_secret": "s", "market_protection": "auto"})
    assert auto.market_protection == Decimal(-1)
    assert options.login_redirect("acct=7") == (
        "http://127.0.0.1:9/login?v=3&api_key=k&redirect_params=acct%3D7"
    )


async def test_exchange_request_token_posts_the_checksum() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "data": {
            "user_id": "AB1234", "access_token": "fresh", "login_time": "2026-01-02 08:30:00",
        }})

    options = KiteOptions.parse({"api_key": "key", "api_secret": "sec",
                                 "base_url": "http://127.0.0.1:1"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        session = await exchange_request_token(options, "rt", client=client)
    assert session.access_token == "fresh" and session.user_id == "AB1234"
    assert "fresh" not in repr(session)
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:1/session/token"
    assert request.headers["X-Kite-Version"] == "3"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form == {"api_key": ["key"], "request_token": ["rt"],
                    "checksum": [session_checksum("key", "rt", "sec")]}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, {"status": "error", "message": "Token is invalid or has expired.",
               "error_type": "TokenException"}, SessionExpiredError),
        (503, {"status": "error", "message": "down", "error_type": "NetworkException"},
         BrokerServerError),
    ],
)
async def test_exchange_request_token_errors(
    status: int, body: dict[str, str], error: type[Exception]
) -> None:
    options = KiteOptions.parse({"api_key": "key", "api_secret": "sec",
                                 "base_url": "http://127.0.0.1:1"})
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json=body))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(error):
            await exchange_request_token(options, "rt", client=client)
