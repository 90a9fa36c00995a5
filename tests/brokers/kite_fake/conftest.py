"""Fixtures: the Kite fake served by uvicorn in a thread on a free 127.0.0.1 port, and the
official ``kiteconnect`` SDK logged in to it."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from kiteconnect import KiteConnect

from tests.procs import free_port
from tradewarden.brokers.base import SessionName
from tradewarden.brokers.kite.fake import KiteFakeState, add_user, create_app
from tradewarden.brokers.paper.exchange import PaperExchange

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
    exchange = PaperExchange(None, clock="manual")
    exchange.set_session(SessionName.OPEN)
    state = KiteFakeState(exchange)
    state.limiter.enforce = False
    add_user(state, USER, api_key=API_KEY, api_secret=API_SECRET, cash=Decimal("500000"))
    port = free_port()
    config = uvicorn.Config(
        create_app(state, sync_interval_s=0.2),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the Kite fake did not start"
        time.sleep(0.01)
    try:
        yield FakeServer(state, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        exchange.close()


def checksum(request_token: str) -> str:
    return hashlib.sha256(f"{API_KEY}{request_token}{API_SECRET}".encode()).hexdigest()


@pytest.fixture
def kite(fake: FakeServer) -> KiteConnect:
    """The SDK, logged in through ``generate_session``."""
    client = KiteConnect(api_key=API_KEY, root=fake.url, timeout=5)
    client.generate_session(fake.request_token(), api_secret=API_SECRET)
    return client
