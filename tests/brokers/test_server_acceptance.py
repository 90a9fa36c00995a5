"""Acceptance (issue 3) through the standalone server over real HTTP: control API + adapter."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from tests.brokers.conftest import Control
from tradewarden.brokers.base import ModifyRequest, OrderRequest
from tradewarden.brokers.paper import RemotePaperAdapter, RemotePaperBroker
from tradewarden.domain.orders import OrderType, Product, Side, Variety
from tradewarden.domain.statuses import OrderStatus as S


def req(
    side: Side = Side.BUY,
    quantity: int = 10,
    order_type: OrderType = OrderType.MARKET,
    *,
    symbol: str = "RELIANCE",
    product: Product = Product.CNC,
    price: str | None = None,
    trigger: str | None = None,
    variety: Variety = Variety.REGULAR,
    tag: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        "NSE",
        symbol,
        side,
        quantity,
        order_type,
        product,
        price=D(price) if price else None,
        trigger_price=D(trigger) if trigger else None,
        variety=variety,
        tag=tag,
    )


def adapter(remote: RemotePaperBroker, name: str = "paper-1") -> RemotePaperAdapter:
    return remote.adapter(name)


async def test_amo_received_then_fills_after_the_open(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    oid = await a.place(
        req(order_type=OrderType.LIMIT, price="2500", variety=Variety.AMO, tag="TWACC0000000000001")
    )
    seen = await a.get_order(oid)
    assert (seen.raw_status, seen.status, seen.tag) == (
        "AMO REQ RECEIVED",
        S.OPEN,
        "TWACC0000000000001",
    )
    assert control.order(oid)["status"] == "AMO REQ RECEIVED"
    control.session("open")
    control.prices({"NSE:RELIANCE": 2501.35})
    await _assert_status(a, oid, S.OPEN)  # 2501.35 > limit 2500: still working
    control.prices({"NSE:RELIANCE": 2499.5})
    filled = await a.get_order(oid)
    assert filled.status is S.FILLED and filled.average_price == D("2500.00")
    (fill,) = await a.trade_book()
    assert (fill.broker_order_id, fill.quantity, fill.tag) == (oid, 10, "TWACC0000000000001")


async def test_amo_rejected_for_funds_at_the_open(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote, "poor")
    control.cash("poor", 5000)
    oid = await a.place(req(variety=Variety.AMO))
    assert (await a.get_order(oid)).raw_status == "AMO REQ RECEIVED"
    control.session("open")
    control.prices({"NSE:RELIANCE": 2500})
    rejected = await a.get_order(oid)
    assert rejected.raw_status == "REJECTED" and rejected.status is S.REJECTED
    assert (rejected.rejection_reason or "").startswith("RMS:Margin Exceeds,Required:25000.00")
    assert control.order(oid)["status"] == "REJECTED"


async def test_limit_rests_until_the_price_crosses(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:SBIN": 800})
    oid = await a.place(req(symbol="SBIN", order_type=OrderType.LIMIT, price="790"))
    for price in (799, 795, 790.05):
        control.prices({"NSE:SBIN": price})
        assert (await a.get_order(oid)).raw_status == "OPEN"
    control.prices({"NSE:SBIN": 789.95})
    done = await a.get_order(oid)
    assert done.raw_status == "COMPLETE" and done.average_price == D("790.00")


async def test_sl_m_triggers(control: Control, remote: RemotePaperBroker) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:INFY": 1500})
    await a.place(req(symbol="INFY", quantity=5, product=Product.MIS))
    stop = await a.place(
        req(Side.SELL, 5, OrderType.SL_M, symbol="INFY", product=Product.MIS, trigger="1480")
    )
    assert (await a.get_order(stop)).raw_status == "TRIGGER PENDING"
    control.prices({"NSE:INFY": 1485})
    assert (await a.get_order(stop)).raw_status == "TRIGGER PENDING"
    control.prices({"NSE:INFY": 1479})
    done = await a.get_order(stop)
    assert done.status is S.FILLED and done.average_price == D("1479.00")
    (position,) = await a.positions()
    assert position.quantity == 0 and position.realised_pnl == D("-105.00")


async def test_partial_fill_with_limited_volume_then_completes(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:TCS": 3000})
    oid = await a.place(req(symbol="TCS", quantity=100, order_type=OrderType.LIMIT, price="2990"))
    control.prices({"NSE:TCS": 2990}, volume=30)
    part = await a.get_order(oid)
    assert (part.raw_status, part.status, part.filled_quantity) == ("OPEN", S.PARTIALLY_FILLED, 30)
    assert control.order(oid)["filled_quantity"] == 30
    control.prices({"NSE:TCS": 2985}, volume=50)
    assert (await a.get_order(oid)).filled_quantity == 80
    control.prices({"NSE:TCS": 2985})
    done = await a.get_order(oid)
    assert (done.status, done.filled_quantity, done.average_price) == (S.FILLED, 100, D("2990.00"))
    assert [f.quantity for f in await a.trade_book()] == [30, 50, 20]


async def test_day_order_expires_at_session_close(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:ITC": 400})
    oid = await a.place(req(symbol="ITC", order_type=OrderType.LIMIT, price="390"))
    control.session("closed")
    expired = await a.get_order(oid)
    assert (expired.raw_status, expired.status) == ("EXPIRED", S.EXPIRED)
    assert "DAY validity" in (expired.status_message or "")


async def test_off_tick_and_out_of_band_prices_are_rejected(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:RELIANCE": 2500})
    tick = await a.get_order(await a.place(req(order_type=OrderType.LIMIT, price="2500.03")))
    assert tick.status is S.REJECTED
    assert tick.rejection_reason == (
        "Tick size for NSE:RELIANCE is 0.05: price 2500.03 is not a multiple of the tick size"
    )
    band = await a.get_order(await a.place(req(order_type=OrderType.LIMIT, price="3100")))
    assert band.status is S.REJECTED
    assert band.rejection_reason == (
        "Price 3100 is outside the price band 2000.00 - 3000.00 for NSE:RELIANCE "
        "(20% around the last price 2500)"
    )


async def test_manual_activity_is_visible_like_a_broker_shows_it(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:HDFCBANK": 1600})
    ours = await a.place(
        req(symbol="HDFCBANK", order_type=OrderType.LIMIT, price="1590", tag="TWMANUAL0000000001")
    )
    manual = control.post(
        "/control/manual/orders",
        {
            "account": "paper-1",
            "exchange": "NSE",
            "symbol": "HDFCBANK",
            "side": "BUY",
            "quantity": 3,
            "order_type": "LIMIT",
            "price": 1580,
            "product": "CNC",
        },
    )["broker_order_id"]
    book = {o.broker_order_id: o for o in await a.order_book()}
    assert book[manual].tag is None and book[manual].raw_status == "OPEN"
    assert control.order(manual)["tag"] is None
    control.post("/control/manual/modify", {"broker_order_id": ours, "price": 1585, "quantity": 12})
    modified = await a.get_order(ours)
    assert (modified.price, modified.quantity, modified.tag) == (
        D("1585"),
        12,
        "TWMANUAL0000000001",
    )
    control.post("/control/manual/cancel", {"broker_order_id": ours})
    cancelled = await a.get_order(ours)
    assert (cancelled.raw_status, cancelled.status) == ("CANCELLED", S.CANCELLED)
    control.post(
        "/control/manual/holdings",
        {"account": "paper-1", "exchange": "NSE", "symbol": "HDFCBANK", "quantity": 25},
    )
    (holding,) = await a.holdings()
    assert (holding.symbol, holding.quantity) == ("HDFCBANK", 25)
    rows = control.get("/control/holdings", account="paper-1")["holdings"]
    assert rows[0]["quantity"] == 25 and rows[0]["account"] == "paper-1"
    control.post(
        "/control/manual/holdings",
        {"account": "paper-1", "exchange": "NSE", "symbol": "HDFCBANK", "quantity": 0},
    )
    assert await a.holdings() == []
    manual_fill = control.post(
        "/control/manual/orders",
        {
            "account": "paper-1",
            "symbol": "HDFCBANK",
            "side": "BUY",
            "quantity": 2,
        },
    )["broker_order_id"]
    (fill,) = [f for f in await a.trade_book() if f.broker_order_id == manual_fill]
    assert fill.tag is None and fill.price == D("1600")
    assert control.get("/control/positions", account="paper-1")["positions"][0]["quantity"] == 2


async def test_modify_and_cancel_through_the_adapter(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    control.session("open")
    control.prices({"NSE:SBIN": 800})
    oid = await a.place(req(symbol="SBIN", order_type=OrderType.LIMIT, price="780"))
    await a.modify(oid, ModifyRequest(price=D("781")))
    assert (await a.get_order(oid)).price == D("781")
    await a.cancel(oid)
    history = [o.raw_status for o in await a.order_history(oid)]
    assert history[-2:] == ["CANCEL PENDING", "CANCELLED"]
    assert "MODIFY PENDING" in history


async def test_order_update_stream_over_websocket(
    control: Control, remote: RemotePaperBroker
) -> None:
    a = adapter(remote)
    updates = a.order_updates()
    await updates.wait_ready()
    control.session("open")
    control.prices({"NSE:SBIN": 800})
    oid = await a.place(req(symbol="SBIN", quantity=1, tag="TWSTREAM0000000001"))
    received = [await asyncio.wait_for(anext(updates), 5) for _ in range(4)]
    assert [u.order.raw_status for u in received][-1] == "COMPLETE"
    assert received[-1].fill is not None and received[-1].fill.broker_order_id == oid
    assert received[-1].order.tag == "TWSTREAM0000000001"
    await updates.aclose()


async def test_tick_stream_over_websocket(control: Control, remote: RemotePaperBroker) -> None:
    from tradewarden.domain.instruments import InstrumentKey

    a = adapter(remote)
    await a.subscribe([InstrumentKey("NSE", "SBIN")])
    ticks = a.ticks()
    await ticks.wait_ready()
    control.prices({"NSE:INFY": 1500})
    control.prices({"NSE:SBIN": 801.5})
    tick = await asyncio.wait_for(anext(ticks), 5)
    assert (tick.symbol, tick.last_price) == ("SBIN", D("801.5"))
    await a.subscribe([InstrumentKey("NSE", "INFY")])
    await asyncio.sleep(0.2)
    control.prices({"NSE:INFY": 1501})
    assert (await asyncio.wait_for(anext(ticks), 5)).symbol == "INFY"
    await a.aclose()


async def _assert_status(a: RemotePaperAdapter, oid: str, status: S) -> None:
    assert (await a.get_order(oid)).status is status


async def test_initial_cash_applies_only_to_a_new_account(
    control: Control, remote: RemotePaperBroker
) -> None:
    control.cash("existing", 123)
    assert (await remote.adapter("existing", initial_cash=D("500000")).funds()).cash == D("123")
    fresh = remote.adapter("fresh", initial_cash=D("500000"))
    assert (await fresh.funds()).cash == D("500000")
    assert (await remote.adapter("default").funds()).cash == D("1000000")
