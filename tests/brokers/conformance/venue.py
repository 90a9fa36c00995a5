"""The :class:`Venue` protocol: what the conformance suite needs from a broker under test.

A venue is one broker-side account reached two ways: through the adapter under test, and
through a "broker-side" control handle that plays the exchange and the human at the broker's
terminal (prices, faults, manual cancel/modify, external orders, session expiry, stream
stalls). See README.md in this folder for the contract each method must honour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from tradewarden.brokers.base import BrokerAdapter, OrderRequest
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Product


class Capability(StrEnum):
    """Behaviour a venue (its broker and its control handle) can show; tests that need one run
    only for venues that declare it."""

    AMO = "amo"
    PARTIAL_FILL = "partial_fill"
    MANUAL_CANCEL = "manual_cancel"
    MANUAL_MODIFY = "manual_modify"
    EXTERNAL_ORDERS = "external_orders"
    RATE_LIMIT = "rate_limit"
    ACCEPT_THEN_5XX = "accept_then_5xx"
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"
    SESSION_EXPIRY = "session_expiry"
    ORDER_STREAM = "order_stream"
    TICK_STREAM = "tick_stream"
    STREAM_STALL = "stream_stall"


class Fault(StrEnum):
    """Faults the control handle injects into broker-facing calls until ``clear_faults``."""

    #: Every call answers "rate limited" (HTTP 429 or the broker's equivalent); nothing done.
    RATE_LIMIT = "rate_limit"
    #: place/modify/cancel take effect, then the answer is a 5xx.
    ACCEPT_THEN_5XX = "accept_then_5xx"
    #: place/modify/cancel take effect, then no answer arrives before the adapter's timeout.
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"


@dataclass(frozen=True, slots=True)
class Instruments:
    """Instruments the venue trades, with a product valid for each and a sane quantity."""

    equity: InstrumentKey
    equity_price: Decimal
    future: InstrumentKey
    future_price: Decimal
    future_lot: int
    future_product: Product = Product.NRML


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order the venue accepts and then shows as rejected, with the broker's exact text."""

    request: OrderRequest
    reason: str


class Venue(Protocol):
    """One broker-side account under test plus its broker-side control handle."""

    name: str
    capabilities: frozenset[Capability]
    instruments: Instruments

    def adapter(self) -> BrokerAdapter:
        """The adapter under test for the venue's account (a logged-in session)."""
        ...

    async def open_market(self) -> None:
        """The market session is open: orders match against the prices set."""
        ...

    async def close_market(self) -> None:
        """The market is closed: only AMO orders are accepted (and wait for the open)."""
        ...

    async def set_price(
        self, key: InstrumentKey, price: Decimal, *, volume: int | None = None
    ) -> None:
        """The last traded price moves to ``price``; working orders match against it. With
        ``volume``, at most that quantity trades at this price (partial fills)."""
        ...

    async def inject(self, fault: Fault) -> None: ...

    async def clear_faults(self) -> None: ...

    def rejection(self) -> Rejection:
        """An order this venue will receive and then reject (market open, prices set)."""
        ...

    async def manual_cancel(self, broker_order_id: str) -> None:
        """Cancel at the broker's terminal, not through the adapter."""
        ...

    async def manual_modify(
        self, broker_order_id: str, *, price: Decimal | None = None, quantity: int | None = None
    ) -> None:
        """Modify at the broker's terminal, not through the adapter."""
        ...

    async def place_external(self, request: OrderRequest) -> str:
        """Place an order at the broker for the account, bypassing the adapter (no tag)."""
        ...

    async def expire_session(self) -> None:
        """Invalidate the login: every adapter call raises ``SessionExpiredError``."""
        ...

    async def renew_session(self) -> None:
        """Log in again; adapters from :meth:`adapter` work afterwards."""
        ...

    async def stall_streams(self) -> None:
        """Open streams stop delivering; the adapter's streams must end with
        ``BrokerDisconnectedError``; new streams fail or end the same way until resumed."""
        ...

    async def resume_streams(self) -> None: ...


#: A venue factory: an async context manager yielding a fresh venue (clean account) per test.
VenueFactory = Callable[[], AbstractAsyncContextManager[Venue]]
VenueIterator = AsyncIterator[Venue]
