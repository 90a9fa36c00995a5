"""Conformance: tick and order-update streams, and recovery from a stalled stream."""

from __future__ import annotations

import pytest

from tests.brokers.conformance.helpers import (
    close_stream,
    equity_order,
    new_tag,
    next_matching,
    only_one,
    open_with_price,
    ready,
)
from tests.brokers.conformance.venue import Capability, Venue
from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.errors import BrokerDisconnectedError
from tradewarden.domain.statuses import OrderStatus as S

pytestmark = pytest.mark.slow


@pytest.mark.venue_needs(Capability.TICK_STREAM)
async def test_ticks_follow_the_price(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    key = venue.instruments.equity
    await adapter.subscribe([key])
    stream = adapter.ticks()
    try:
        await ready(stream)
        moved = venue.instruments.equity_price + 3
        await venue.set_price(key, moved)
        tick: Tick = await next_matching(stream, lambda t: t.key == key and t.last_price == moved)
        assert tick.timestamp.tzinfo is not None
    finally:
        await close_stream(stream)


@pytest.mark.venue_needs(Capability.ORDER_STREAM)
async def test_order_updates_show_placement_and_fill(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    stream = adapter.order_updates()
    try:
        await ready(stream)
        tag = new_tag()
        request = equity_order(venue, tag=tag)
        oid = await adapter.place(request)
        opened: OrderUpdate = await next_matching(
            stream, lambda u: u.order.tag == tag and u.order.status is S.OPEN
        )
        assert opened.order.broker_order_id == oid and opened.fill is None
        assert request.price is not None
        await venue.set_price(venue.instruments.equity, request.price)
        filled: OrderUpdate = await next_matching(
            stream, lambda u: u.order.broker_order_id == oid and u.order.status is S.FILLED
        )
        assert filled.order.tag == tag and filled.order.filled_quantity == 10
        fills = [f for f in await adapter.trade_book() if f.broker_order_id == oid]
        if filled.fill is not None:
            assert filled.fill.fill_id in {f.fill_id for f in fills}
    finally:
        await close_stream(stream)


@pytest.mark.venue_needs(Capability.ORDER_STREAM, Capability.STREAM_STALL)
async def test_stalled_stream_ends_and_a_new_one_resumes(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    stream = adapter.order_updates()
    await ready(stream)
    await venue.stall_streams()
    with pytest.raises(BrokerDisconnectedError):
        await next_matching(stream, lambda u: False)
    await close_stream(stream)
    # Updates missed while the stream was down are recovered from the order book.
    missed_tag = new_tag()
    missed = await adapter.place(equity_order(venue, tag=missed_tag))
    await venue.resume_streams()
    assert (await only_one(adapter, missed_tag)).broker_order_id == missed
    again = adapter.order_updates()
    try:
        await ready(again)
        await adapter.cancel(missed)
        cancelled: OrderUpdate = await next_matching(
            again, lambda u: u.order.broker_order_id == missed
            and u.order.status is S.CANCELLED
        )
        assert cancelled.order.tag == missed_tag
    finally:
        await close_stream(again)
