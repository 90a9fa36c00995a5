"""Small helpers shared by the conformance tests: order builders, tags, stream reading."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import TypeVar

from tests.brokers.conformance.venue import Venue
from tradewarden.brokers.base import BrokerAdapter, BrokerOrder, OrderRequest
from tradewarden.domain.orders import OrderType, Product, Side, Variety

T = TypeVar("T")
#: A guard against hangs, not a timed assertion: every awaited event is due immediately.
GUARD_S = 10.0


def new_tag() -> str:
    """A fresh client-order-id style tag (alphanumeric, 16 chars: fits every broker)."""
    return "TWCF" + uuid.uuid4().hex[:12].upper()


def equity_order(
    venue: Venue,
    *,
    side: Side = Side.BUY,
    quantity: int = 10,
    order_type: OrderType = OrderType.LIMIT,
    price: Decimal | None = None,
    offset: Decimal = Decimal("-10"),
    variety: Variety = Variety.REGULAR,
    tag: str | None = None,
) -> OrderRequest:
    """An equity CNC order; a LIMIT defaults to ``offset`` away from the venue's price (a buy
    below the market rests)."""
    key = venue.instruments.equity
    if order_type is OrderType.LIMIT and price is None:
        price = venue.instruments.equity_price + offset
    return OrderRequest(
        key.exchange, key.symbol, side, quantity, order_type, Product.CNC,
        price=price, variety=variety, tag=tag,
    )


async def open_with_price(venue: Venue) -> None:
    """Market open, the equity and the future priced."""
    await venue.open_market()
    await venue.set_price(venue.instruments.equity, venue.instruments.equity_price)
    await venue.set_price(venue.instruments.future, venue.instruments.future_price)


async def only_one(adapter: BrokerAdapter, tag: str) -> BrokerOrder:
    """The single order carrying ``tag``, checked in the tag lookup and in the order book."""
    found = await adapter.find_by_tag(tag)
    assert len(found) == 1, found
    in_book = [o for o in await adapter.order_book() if o.tag == tag]
    assert [o.broker_order_id for o in in_book] == [found[0].broker_order_id]
    return found[0]


async def ready(stream: AsyncIterator[T]) -> None:
    """Wait until the stream is subscribed at the broker, when the stream can tell."""
    wait_ready = getattr(stream, "wait_ready", None)
    if wait_ready is not None:
        await asyncio.wait_for(wait_ready(), GUARD_S)


async def next_matching(stream: AsyncIterator[T], match: Callable[[T], bool]) -> T:
    """The next item of ``stream`` for which ``match`` holds."""

    async def read() -> T:
        while True:
            item = await anext(stream)
            if match(item):
                return item

    return await asyncio.wait_for(read(), GUARD_S)


async def close_stream(stream: AsyncIterator[object]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
