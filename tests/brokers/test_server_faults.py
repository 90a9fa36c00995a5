"""Fault injection through the standalone server, and the HTTP adapter's error mapping."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import httpx
import pytest

from tests.brokers.conftest import Control, PaperServer
from tests.procs import free_port
from tradewarden.brokers.base import OrderRequest
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerDisconnectedError,
    BrokerResponseError,
    BrokerServerError,
    BrokerTimeoutError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
)
from tradewarden.brokers.paper import LocalPaperBroker, RemotePaperBroker
from tradewarden.brokers.paper.faults import FaultConfig
from tradewarden.domain.orders import OrderType, Product, Side


def limit(tag: str, price: str = "790") -> OrderRequest:
    return OrderRequest(
        "NSE", "SBIN", Side.BUY, 1, OrderType.LIMIT, Product.CNC, price=D(price), tag=tag
    )


def opened(control: Control) -> None:
    control.session("open")
    control.prices({"NSE:SBIN": 800})


async def test_timeouts_leave_orders_accepted_or_not(
    control: Control, paper_server: PaperServer
) -> None:
    opened(control)
    broker = RemotePaperBroker(paper_server.url, timeout_s=0.5)
    a = broker.adapter("paper-1")
    control.faults(timeout=1, seed=11)
    tags = [f"TWTIMEOUT{i:02d}" for i in range(12)]
    results = await asyncio.gather(*(a.place(limit(t)) for t in tags), return_exceptions=True)
    assert all(isinstance(r, BrokerTimeoutError) for r in results), results
    assert all(isinstance(r, AmbiguousError) for r in results)
    control.faults()
    accepted = [t for t in tags if await a.find_by_tag(t)]
    missing = [t for t in tags if t not in accepted]
    assert accepted and missing  # both outcomes of an ambiguous timeout occur
    assert sorted(o["tag"] for o in control.orders()) == sorted(accepted)
    await broker.aclose()


async def test_timeout_outcomes_are_reproducible_from_the_seed() -> None:
    async def outcomes(seed: int) -> list[bool]:
        broker = LocalPaperBroker.open(None, clock="open")
        broker.exchange.configure_faults(FaultConfig(timeout=1.0, seed=seed))
        accepted = []
        for i in range(16):
            with pytest.raises(BrokerTimeoutError):
                await broker.adapter("seed").place(limit(f"TWSEED{i:02d}"))
            accepted.append(bool(broker.exchange.find_by_tag("seed", f"TWSEED{i:02d}")))
        await broker.aclose()
        return accepted

    first, second, other = await outcomes(5), await outcomes(5), await outcomes(6)
    assert first == second
    assert any(first) and not all(first)
    assert first != other


async def test_rate_limit_answers_429_with_retry_after(
    control: Control, remote: RemotePaperBroker, paper_server: PaperServer
) -> None:
    opened(control)
    control.faults(rate_limit=1)
    a = remote.adapter("paper-1")
    with pytest.raises(RateLimitedError) as caught:
        await a.place(limit("TWRATE01"))
    assert caught.value.retry_after == 1.0
    async with httpx.AsyncClient() as client:
        raw = await client.get(f"{paper_server.url}/api/accounts/paper-1/orders")
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "1"
    control.faults(rate_limit=1, retry_after_s=2.5)
    with pytest.raises(RateLimitedError) as caught:
        await a.order_book()
    assert caught.value.retry_after == 2.5
    control.faults()
    assert control.orders() == []  # a rate-limited place did nothing


async def test_not_found_lag_hides_new_orders(control: Control, remote: RemotePaperBroker) -> None:
    opened(control)
    control.faults(not_found_lag_s=1.5)
    a = remote.adapter("paper-1")
    started = time.monotonic()
    oid = await a.place(limit("TWLAG00001"))
    assert await a.order_book() == []
    assert await a.find_by_tag("TWLAG00001") == []
    with pytest.raises(OrderNotFoundError):
        await a.get_order(oid)
    with pytest.raises(OrderNotFoundError):
        await a.cancel(oid)
    assert control.order(oid)["status"] == "OPEN"  # the control API sees everything
    assert time.monotonic() - started < 1.5, "too slow to observe the lag"
    await asyncio.sleep(max(0.0, 1.55 - (time.monotonic() - started)))
    assert [o.broker_order_id for o in await a.order_book()] == [oid]
    assert (await a.get_order(oid)).tag == "TWLAG00001"


async def test_server_errors_and_latency(control: Control, remote: RemotePaperBroker) -> None:
    a = remote.adapter("paper-1")
    control.faults(error_5xx=1)
    with pytest.raises(BrokerServerError) as caught:
        await a.order_book()
    assert caught.value.status_code == 503
    control.faults(latency_ms=[300, 310])
    started = time.monotonic()
    await a.order_book()
    assert time.monotonic() - started >= 0.3
    control.faults()
    started = time.monotonic()
    await a.order_book()
    assert time.monotonic() - started < 0.25


async def test_drop_stream_ends_streams_with_disconnect(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = remote.adapter("paper-1")
    updates = a.order_updates()
    await updates.wait_ready()
    control.faults(drop_stream=True)
    with pytest.raises(BrokerDisconnectedError):
        await asyncio.wait_for(anext(updates), 5)
    with pytest.raises(BrokerDisconnectedError):
        await a.order_updates().wait_ready()
    control.faults()
    again = a.order_updates()
    await again.wait_ready()
    opened(control)
    await a.place(limit("TWDROP0001", "800"))
    assert (await asyncio.wait_for(anext(again), 5)).order.tag == "TWDROP0001"
    await again.aclose()


async def test_control_calls_are_never_faulted(control: Control) -> None:
    control.faults(rate_limit=1, error_5xx=1)
    opened(control)
    assert control.orders() == []


def _mock(handler: httpx.MockTransport) -> RemotePaperBroker:
    client = httpx.AsyncClient(transport=handler, base_url="http://paper.invalid")
    return RemotePaperBroker("http://paper.invalid", client=client)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (200, b"<html>oops", {}, BrokerResponseError),
        (200, b'{"orders": "nope"}', {}, BrokerResponseError),
        (200, b'{"orders": [{"broker_order_id": 1}]}', {}, BrokerResponseError),
        (200, b"[]", {}, BrokerResponseError),
        (502, b"bad gateway", {}, BrokerServerError),
        (429, b"", {"Retry-After": "3"}, RateLimitedError),
        (404, b'{"error": {"code": "order_not_found", "message": "x"}}', {}, OrderNotFoundError),
        (
            400,
            b'{"error": {"code": "insufficient_funds", "message": "x"}}',
            {},
            InsufficientFundsError,
        ),
        (400, b'{"error": {"code": "invalid_order", "message": "x"}}', {}, OrderRejectedError),
        (418, b'{"error": {}}', {}, BrokerResponseError),
    ],
)
async def test_adapter_maps_bad_answers(
    status: int, body: bytes, headers: dict[str, str], error: type[Exception]
) -> None:
    broker = _mock(
        httpx.MockTransport(lambda request: httpx.Response(status, content=body, headers=headers))
    )
    with pytest.raises(error) as caught:
        await broker.adapter("x").order_book()
    if isinstance(caught.value, RateLimitedError):
        assert caught.value.retry_after == 3.0
    await broker.aclose()


async def test_unreachable_broker_is_a_disconnect_not_a_not_found() -> None:
    broker = RemotePaperBroker(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(BrokerDisconnectedError):
        await broker.adapter("x").get_order("1")
    with pytest.raises(BrokerDisconnectedError):
        await broker.adapter("x").order_updates().wait_ready()
    await broker.aclose()
