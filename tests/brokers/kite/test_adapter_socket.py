"""The Kite adapter's websocket against a minimal in-test server on 127.0.0.1: one
connection for ticks and order updates, subscriptions, the silence rule, reconnects."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from decimal import Decimal
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tradewarden.brokers.errors import BrokerDisconnectedError, SessionExpiredError
from tradewarden.brokers.kite.adapter import KiteAdapter
from tradewarden.brokers.kite.options import KiteOptions
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.statuses import OrderStatus

INFY = InstrumentKey("NSE", "INFY")
SBIN = InstrumentKey("NSE", "SBIN")
TOKENS = {INFY: 408065, SBIN: 779521}


class KiteWsStub:
    """Accepts connections, records what clients send, sends what the test queues."""

    def __init__(self, *, refuse: int | None = None) -> None:
        self.refuse = refuse
        self.paths: list[str] = []
        self.received: list[list[Any]] = []
        self.outbox: list[asyncio.Queue[str | bytes | None]] = []
        self.server: Server | None = None
        self.connected = asyncio.Condition()

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.paths.append(request.path)
        if self.refuse is not None:
            return connection.respond(HTTPStatus(self.refuse), "refused\n")
        return None

    async def handler(self, connection: ServerConnection) -> None:
        inbox: list[Any] = []
        queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        async with self.connected:
            self.received.append(inbox)
            self.outbox.append(queue)
            self.connected.notify_all()

        async def reader() -> None:
            async for message in connection:
                async with self.connected:
                    inbox.append(json.loads(message))
                    self.connected.notify_all()

        reading = asyncio.create_task(reader())
        try:
            while (item := await queue.get()) is not None:
                await connection.send(item)
        finally:
            reading.cancel()

    async def wait_connections(self, count: int) -> None:
        async with self.connected:
            await self.connected.wait_for(lambda: len(self.outbox) >= count)

    async def wait_received(self, connection: int, count: int) -> list[Any]:
        async with self.connected:
            await self.connected.wait_for(
                lambda: len(self.received) > connection and len(self.received[connection]) >= count
            )
        return self.received[connection]

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}"


@pytest.fixture
async def stub() -> AsyncIterator[KiteWsStub]:
    server_stub = KiteWsStub()
    async with serve(server_stub.handler, "127.0.0.1", 0,
                     process_request=server_stub.process_request) as server:
        server_stub.server = server
        yield server_stub
        for queue in server_stub.outbox:
            queue.put_nowait(None)


def make_adapter(url: str, *, silence_s: float = 10.0) -> KiteAdapter:
    options = KiteOptions.parse({
        "api_key": "key", "api_secret": "sec", "access_token": "tok",
        "base_url": "http://127.0.0.1:9", "ws_url": url,
    })
    return KiteAdapter(options, token_resolver=TOKENS.get, silence_s=silence_s)


def ltp_message(token: int, paise: int) -> bytes:
    packet = struct.pack(">II", token, paise)
    return struct.pack(">HH", 1, len(packet)) + packet


def order_message(status: str, filled: int) -> str:
    return json.dumps({"type": "order", "data": {
        "order_id": "260105000000009", "status": status, "status_message": None,
        "order_timestamp": "2026-01-05 09:20:00", "variety": "regular", "exchange": "NSE",
        "tradingsymbol": "INFY", "instrument_token": 408065, "order_type": "MARKET",
        "transaction_type": "BUY", "validity": "DAY", "product": "MIS", "quantity": 10,
        "price": 0, "trigger_price": 0, "average_price": 1500.05, "filled_quantity": filled,
        "pending_quantity": 10 - filled, "tag": "TW01JABCDEFGH1234567",
    }})


async def test_ticks_and_order_updates_share_one_socket(stub: KiteWsStub) -> None:
    adapter = make_adapter(stub.url)
    assert adapter.capabilities.supports_tick_stream
    ticks = adapter.ticks()
    updates = adapter.order_updates()
    await ticks.wait_ready()
    await updates.wait_ready()
    await adapter.subscribe([INFY, InstrumentKey("NSE", "UNKNOWN")])
    received = await stub.wait_received(0, 2)
    assert received == [{"a": "subscribe", "v": [408065]}, {"a": "mode", "v": ["full", [408065]]}]
    query = parse_qs(urlsplit(stub.paths[0]).query)
    assert query == {"api_key": ["key"], "access_token": ["tok"]}

    queue = stub.outbox[0]
    queue.put_nowait(b"\x00")  # heartbeat
    queue.put_nowait(ltp_message(779521, 50000))  # not subscribed: ignored
    queue.put_nowait(ltp_message(408065, 150025))
    queue.put_nowait(order_message("UPDATE", 4))
    queue.put_nowait(order_message("COMPLETE", 10))
    tick = await ticks.__anext__()
    assert tick.key == INFY and tick.last_price == Decimal("1500.25")
    first = await updates.__anext__()
    assert first.order.status is OrderStatus.PARTIALLY_FILLED
    assert first.order.tag == "TW01JABCDEFGH1234567"
    second = await updates.__anext__()
    assert second.order.status is OrderStatus.FILLED
    assert len(stub.outbox) == 1

    await adapter.unsubscribe([INFY])
    assert (await stub.wait_received(0, 3))[2] == {"a": "unsubscribe", "v": [408065]}
    await adapter.aclose()


async def test_a_silent_socket_is_a_disconnect_and_reconnects_with_subscriptions(
    stub: KiteWsStub,
) -> None:
    adapter = make_adapter(stub.url, silence_s=0.3)
    await adapter.subscribe([INFY, SBIN])
    ticks = adapter.ticks()
    await ticks.wait_ready()
    assert (await stub.wait_received(0, 2))[0] == {"a": "subscribe", "v": [408065, 779521]}
    with pytest.raises(BrokerDisconnectedError, match="silent"):
        await ticks.__anext__()  # the stub sends nothing, not even a heartbeat

    again = adapter.ticks()
    await again.wait_ready()
    await stub.wait_connections(2)
    assert (await stub.wait_received(1, 2)) == [
        {"a": "subscribe", "v": [408065, 779521]},
        {"a": "mode", "v": ["full", [408065, 779521]]},
    ]
    stub.outbox[1].put_nowait(ltp_message(779521, 81250))
    tick = await again.__anext__()
    assert tick.key == SBIN and tick.last_price == Decimal("812.50")
    await adapter.aclose()


async def test_heartbeats_keep_a_quiet_socket_alive(stub: KiteWsStub) -> None:
    adapter = make_adapter(stub.url, silence_s=1.0)
    updates = adapter.order_updates()
    await updates.wait_ready()
    for _ in range(8):  # 1.6 s in all, longer than the silence limit
        stub.outbox[0].put_nowait(b"\x00")
        await asyncio.sleep(0.2)
    stub.outbox[0].put_nowait(order_message("OPEN", 0))
    update = await updates.__anext__()
    assert update.order.status is OrderStatus.OPEN
    assert len(stub.outbox) == 1
    await adapter.aclose()


async def test_a_dropped_connection_ends_every_stream(stub: KiteWsStub) -> None:
    adapter = make_adapter(stub.url)
    ticks, updates = adapter.ticks(), adapter.order_updates()
    await ticks.wait_ready()
    stub.outbox[0].put_nowait(None)  # the server ends the connection
    with pytest.raises(BrokerDisconnectedError):
        await ticks.__anext__()
    with pytest.raises(BrokerDisconnectedError):
        await updates.__anext__()
    await adapter.aclose()


async def test_closing_the_last_stream_closes_the_socket(stub: KiteWsStub) -> None:
    adapter = make_adapter(stub.url)
    ticks = adapter.ticks()
    await ticks.wait_ready()
    await ticks.aclose()
    assert not adapter.socket.ready.is_set()
    assert adapter.socket.failures == 0  # closed on purpose: no backoff
    with pytest.raises(StopAsyncIteration):
        await ticks.__anext__()
    again = adapter.order_updates()
    await again.wait_ready()
    await stub.wait_connections(2)
    await adapter.aclose()
    with pytest.raises(BrokerDisconnectedError):
        await adapter.ticks().wait_ready()


async def test_closing_a_stream_wakes_its_reader(stub: KiteWsStub) -> None:
    adapter = make_adapter(stub.url)
    updates = adapter.order_updates()
    await updates.wait_ready()

    async def drain() -> list[object]:
        return [update async for update in updates]

    reader = asyncio.create_task(drain())
    await asyncio.sleep(0.05)  # let it wait for a message
    await updates.aclose()
    assert await reader == []
    await adapter.aclose()


async def test_refused_handshake() -> None:
    for status, error in ((403, SessionExpiredError), (500, BrokerDisconnectedError)):
        refusing = KiteWsStub(refuse=status)
        async with serve(refusing.handler, "127.0.0.1", 0,
                         process_request=refusing.process_request) as server:
            refusing.server = server
            adapter = make_adapter(refusing.url)
            with pytest.raises(error):
                await adapter.ticks().wait_ready()
            assert adapter.socket.failures == 1
            await adapter.aclose()


async def test_unreachable_socket() -> None:
    async with serve(lambda c: asyncio.sleep(0), "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
    adapter = make_adapter(f"ws://127.0.0.1:{port}")
    with pytest.raises(BrokerDisconnectedError):
        await adapter.order_updates().wait_ready()
    assert adapter.socket.backoff_delay() > 0
    await adapter.aclose()

