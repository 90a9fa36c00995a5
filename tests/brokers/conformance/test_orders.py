"""Conformance: placement, read-back and every order status path a venue supports."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.brokers.conformance.helpers import (
    equity_order,
    new_tag,
    only_one,
    open_with_price,
)
from tests.brokers.conformance.venue import Capability, Venue
from tradewarden.brokers.base import ModifyRequest, OrderRequest
from tradewarden.domain.orders import OrderType, Side, Variety
from tradewarden.domain.statuses import OrderStatus as S

pytestmark = pytest.mark.slow


async def test_placed_order_reads_back_by_id_book_and_tag(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    request = equity_order(venue, quantity=7, tag=tag)
    oid = await adapter.place(request)
    seen = await adapter.get_order(oid)
    assert (seen.broker_order_id, seen.tag, seen.status) == (oid, tag, S.OPEN)
    assert (seen.exchange, seen.symbol, seen.side) == (request.exchange, request.symbol, Side.BUY)
    assert (seen.quantity, seen.filled_quantity, seen.price) == (7, 0, request.price)
    assert (seen.order_type, seen.product) == (OrderType.LIMIT, request.product)
    assert seen.is_working and seen.placed_at.tzinfo is not None
    assert (await only_one(adapter, tag)).broker_order_id == oid
    assert await adapter.find_by_tag(new_tag()) == []


async def test_market_order_on_a_derivative_fills(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    key, tag = venue.instruments.future, new_tag()
    lot = venue.instruments.future_lot
    oid = await adapter.place(
        OrderRequest(key.exchange, key.symbol, Side.BUY, lot, OrderType.MARKET,
                     venue.instruments.future_product, tag=tag)
    )
    done = await adapter.get_order(oid)
    assert (done.status, done.filled_quantity, done.tag) == (S.FILLED, lot, tag)
    assert done.average_price == venue.instruments.future_price
    fills = [f for f in await adapter.trade_book() if f.broker_order_id == oid]
    assert sum(f.quantity for f in fills) == lot and {f.tag for f in fills} == {tag}
    assert len({f.fill_id for f in fills}) == len(fills)


async def test_resting_limit_fills_when_the_price_reaches_it(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    request = equity_order(venue, tag=new_tag())
    oid = await adapter.place(request)
    assert (await adapter.get_order(oid)).status is S.OPEN
    assert request.price is not None
    await venue.set_price(venue.instruments.equity, request.price)
    done = await adapter.get_order(oid)
    assert (done.status, done.filled_quantity, done.average_price) == (S.FILLED, 10, request.price)


@pytest.mark.venue_needs(Capability.PARTIAL_FILL)
async def test_partial_fill_then_complete(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    request = equity_order(venue, quantity=100, tag=new_tag())
    oid = await adapter.place(request)
    assert request.price is not None
    await venue.set_price(venue.instruments.equity, request.price, volume=30)
    part = await adapter.get_order(oid)
    assert (part.status, part.filled_quantity, part.pending_quantity) == (
        S.PARTIALLY_FILLED, 30, 70,
    )
    assert part.is_working
    await venue.set_price(venue.instruments.equity, request.price)
    done = await adapter.get_order(oid)
    assert (done.status, done.filled_quantity) == (S.FILLED, 100)
    fills = [f for f in await adapter.trade_book() if f.broker_order_id == oid]
    assert sum(f.quantity for f in fills) == 100 and len(fills) >= 2


async def test_rejection_carries_the_brokers_text(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    rejection = venue.rejection()
    oid = await adapter.place(rejection.request)
    seen = await adapter.get_order(oid)
    assert (seen.status, seen.filled_quantity) == (S.REJECTED, 0)
    assert seen.rejection_reason == rejection.reason
    assert seen.is_final and seen.tag == rejection.request.tag


async def test_we_cancel_our_order(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, tag=tag))
    await adapter.cancel(oid)
    seen = await adapter.get_order(oid)
    assert (seen.status, seen.tag, seen.filled_quantity) == (S.CANCELLED, tag, 0)
    assert (await only_one(adapter, tag)).status is S.CANCELLED


async def test_we_modify_our_order_and_it_fills_at_the_new_price(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, quantity=10, tag=tag))
    new_price = venue.instruments.equity_price - D("5")
    await adapter.modify(oid, ModifyRequest(quantity=12, price=new_price))
    seen = await adapter.get_order(oid)
    assert (seen.quantity, seen.price, seen.tag, seen.status) == (12, new_price, tag, S.OPEN)
    await venue.set_price(venue.instruments.equity, new_price)
    done = await adapter.get_order(oid)
    assert (done.status, done.filled_quantity, done.average_price) == (S.FILLED, 12, new_price)
    history = await adapter.order_history(oid)
    assert history[-1].status is S.FILLED and history[0].quantity == 10
    assert all(h.broker_order_id == oid and h.tag == tag for h in history)


@pytest.mark.venue_needs(Capability.MANUAL_CANCEL)
async def test_order_cancelled_manually_at_the_broker(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, tag=tag))
    await venue.manual_cancel(oid)
    seen = await only_one(adapter, tag)
    assert (seen.broker_order_id, seen.status, seen.filled_quantity) == (oid, S.CANCELLED, 0)


@pytest.mark.venue_needs(Capability.MANUAL_MODIFY)
async def test_order_modified_manually_at_the_broker(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, quantity=10, tag=tag))
    new_price = venue.instruments.equity_price - D("20")
    await venue.manual_modify(oid, price=new_price, quantity=15)
    seen = await only_one(adapter, tag)
    assert (seen.broker_order_id, seen.price, seen.quantity, seen.status) == (
        oid, new_price, 15, S.OPEN,
    )


@pytest.mark.venue_needs(Capability.AMO)
async def test_amo_waits_for_the_open_then_fills(venue: Venue) -> None:
    await venue.close_market()
    adapter = venue.adapter()
    tag = new_tag()
    price = venue.instruments.equity_price
    oid = await adapter.place(equity_order(venue, price=price, variety=Variety.AMO, tag=tag))
    waiting = await adapter.get_order(oid)
    assert (waiting.status, waiting.variety, waiting.tag) == (S.OPEN, Variety.AMO, tag)
    assert waiting.filled_quantity == 0
    await open_with_price(venue)
    done = await adapter.get_order(oid)
    assert (done.status, done.filled_quantity) == (S.FILLED, 10)


@pytest.mark.venue_needs(Capability.EXTERNAL_ORDERS)
async def test_external_order_shows_in_the_book_without_a_tag(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    ours = await adapter.place(equity_order(venue, tag=tag))
    external = await venue.place_external(equity_order(venue, quantity=3, offset=D("-15")))
    book = {o.broker_order_id: o for o in await adapter.order_book()}
    assert book[external].tag is None and book[external].quantity == 3
    assert book[external].status is S.OPEN
    assert book[ours].tag == tag
    assert [o.broker_order_id for o in await adapter.find_by_tag(tag)] == [ours]
    assert (await adapter.get_order(external)).tag is None
