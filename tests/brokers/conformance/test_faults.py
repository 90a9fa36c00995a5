"""Conformance: ambiguous placement, rate limits and session expiry, as the adapter reports
them (the error families of ``tradewarden.brokers.errors``)."""

from __future__ import annotations

import asyncio

import pytest

from tests.brokers.conformance.helpers import equity_order, new_tag, only_one, open_with_price
from tests.brokers.conformance.venue import Capability, Fault, Venue
from tradewarden.brokers.errors import (
    AmbiguousError,
    BrokerServerError,
    BrokerTimeoutError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.domain.statuses import OrderStatus as S

pytestmark = pytest.mark.slow


async def _accepted_then_failed(venue: Venue, fault: Fault) -> AmbiguousError:
    """Place under ``fault``; the adapter must raise an ambiguous error and the order must then
    be found exactly once by its tag."""
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    await venue.inject(fault)
    with pytest.raises(AmbiguousError) as caught:
        await adapter.place(equity_order(venue, tag=tag))
    await venue.clear_faults()
    found = await only_one(adapter, tag)
    assert found.status is S.OPEN and found.quantity == 10
    return caught.value


@pytest.mark.venue_needs(Capability.ACCEPT_THEN_5XX)
async def test_placement_accepted_then_5xx_is_ambiguous_and_found_once(venue: Venue) -> None:
    error = await _accepted_then_failed(venue, Fault.ACCEPT_THEN_5XX)
    assert isinstance(error, BrokerServerError) and error.status_code >= 500


@pytest.mark.venue_needs(Capability.ACCEPT_THEN_TIMEOUT)
async def test_placement_accepted_then_timeout_is_ambiguous_and_found_once(venue: Venue) -> None:
    error = await _accepted_then_failed(venue, Fault.ACCEPT_THEN_TIMEOUT)
    assert isinstance(error, BrokerTimeoutError)


@pytest.mark.venue_needs(Capability.RATE_LIMIT)
async def test_rate_limit_raises_with_a_back_off_and_does_nothing(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    await venue.inject(Fault.RATE_LIMIT)
    with pytest.raises(RateLimitedError) as caught:
        await adapter.place(equity_order(venue, tag=tag))
    back_off = caught.value.retry_after
    assert back_off > 0
    with pytest.raises(RateLimitedError):
        await adapter.order_book()
    await venue.clear_faults()
    assert await adapter.find_by_tag(tag) == []
    await asyncio.sleep(back_off)
    oid = await adapter.place(equity_order(venue, tag=tag))
    assert (await only_one(adapter, tag)).broker_order_id == oid


@pytest.mark.venue_needs(Capability.SESSION_EXPIRY)
async def test_expired_session_raises_until_logged_in_again(venue: Venue) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, tag=tag))
    await venue.expire_session()
    with pytest.raises(SessionExpiredError):
        await adapter.order_book()
    with pytest.raises(SessionExpiredError):
        await adapter.place(equity_order(venue, tag=new_tag()))
    await venue.renew_session()
    fresh = venue.adapter()
    assert (await only_one(fresh, tag)).broker_order_id == oid
    assert len(await fresh.order_book()) == 1


@pytest.mark.venue_needs(Capability.ACCEPT_THEN_5XX)
async def test_cancel_accepted_then_5xx_is_ambiguous_and_reads_back_cancelled(
    venue: Venue,
) -> None:
    await open_with_price(venue)
    adapter = venue.adapter()
    tag = new_tag()
    oid = await adapter.place(equity_order(venue, tag=tag))
    await venue.inject(Fault.ACCEPT_THEN_5XX)
    with pytest.raises(AmbiguousError):
        await adapter.cancel(oid)
    await venue.clear_faults()
    seen = await only_one(adapter, tag)
    assert (seen.broker_order_id, seen.status) == (oid, S.CANCELLED)
