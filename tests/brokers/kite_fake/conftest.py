"""Fixtures: the Kite fake served by uvicorn in a thread on a free 127.0.0.1 port, and the
official ``kiteconnect`` SDK logged in to it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from kiteconnect import KiteConnect

from tradewarden.brokers.kite.fake import KiteFakeState, ThreadedKiteFake, add_user

USER = "AB1234"
API_KEY = "fakekey01"
API_SECRET = "fakesecret01"


@dataclass
class FakeServer:
    state: KiteFakeState
    url: str

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/_fake/{path}", json=body or {}, timeout=5)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def request_token(self) -> str:
        return str(self.control("login", {"user_id": USER})["request_token"])


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with ThreadedKiteFake(enforce_limits=False) as server:
        state = server.state
        add_user(state, USER, api_key=API_KEY, api_secret=API_SECRET, cash=Decimal("500000"))
        yield FakeServer(state, server.url)


def checksum(request_token: str) -> str:
    return hashlib.sha256(f"{API_KEY}{request_token}{API_SECRET}".encode()).hexdigest()


@pytest.fixture
def kite(fake: FakeServer) -> KiteConnect:
    """The SDK, logged in through ``generate_session``."""
    client = KiteConnect(api_key=API_KEY, root=fake.url, timeout=5)
    client.generate_session(fake.request_token(), api_secret=API_SECRET)
    return client
