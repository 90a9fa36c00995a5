"""The broker adapter protocol and its normalized result types.

Every broker (paper, later Kite, Kotak, Shoonya, OpenAlgo) implements :class:`BrokerAdapter`
for one broker-side account. Results are frozen dataclasses: prices and money are ``Decimal``,
quantities ``int``, timestamps timezone-aware UTC, symbols canonical (``NSE``, ``RELIANCE``).
Errors are the hierarchy in :mod:`tradewarden.brokers.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety
from tradewarden.domain.statuses import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new order as sent to the broker. ``tag`` carries our client order id."""

    exchange: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    variety: Variety = Variety.REGULAR
    validity: Validity = Validity.DAY
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class ModifyRequest:
    """Changes to a working order; ``None`` keeps the current value."""

    quantity: int | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    order_type: OrderType | None = None


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """One order as the broker shows it (one entry of the order book or of its history).

    ``raw_status`` is the broker's own string; ``status`` is our mapping of it, or ``None``
    when the string is unknown — treat such an order as still working.
    """

    broker_order_id: str
    tag: str | None
    exchange: str
    symbol: str
    side: Side
    quantity: int
    filled_quantity: int
    average_price: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    order_type: OrderType
    product: Product
    variety: Variety
    validity: Validity
    raw_status: str
    status: OrderStatus | None
    rejection_reason: str | None
    status_message: str | None
    placed_at: datetime
    updated_at: datetime

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.symbol)

    @property
    def pending_quantity(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def is_final(self) -> bool:
        """True when the broker will not change this order any more (barring late fills)."""
        return self.status is not None and self.status.is_final

    @property
    def is_working(self) -> bool:
        """True when the order is (or may be) live at the broker; unknown statuses count."""
        return not self.is_final


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution. ``fill_id`` is unique per account; de-duplicate fills by it."""

    fill_id: str
    broker_order_id: str
    tag: str | None
    exchange: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    product: Product
    filled_at: datetime


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One push from the order-update stream: the order after a change, and the fill if any."""

    order: BrokerOrder
    fill: BrokerFill | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A day position (net of today's trades, plus carried-forward quantity for NRML/MIS)."""

    exchange: str
    symbol: str
    product: Product
    quantity: int
    buy_quantity: int
    sell_quantity: int
    buy_average: Decimal
    sell_average: Decimal
    average_price: Decimal
    last_price: Decimal | None
    realised_pnl: Decimal
    unrealised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Holding:
    """Settled delivery holdings. ``used_quantity`` is what was sold from them today."""

    exchange: str
    symbol: str
    quantity: int
    used_quantity: int
    average_price: Decimal
    last_price: Decimal | None


@dataclass(frozen=True, slots=True)
class Funds:
    """Cash and margin of the account."""

    cash: Decimal
    available: Decimal
    used_margin: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class Tick:
    """A last-traded-price update."""

    exchange: str
    symbol: str
    last_price: Decimal
    volume: int | None
    timestamp: datetime

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.symbol)


@dataclass(frozen=True, slots=True)
class Quote:
    """The last traded price of an instrument, as a snapshot (the polling form of a tick)."""

    exchange: str
    symbol: str
    last_price: Decimal
    #: When that price traded (the broker's clock).
    timestamp: datetime

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.symbol)


class SessionName(StrEnum):
    PRE_OPEN = "pre_open"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class MarketSession:
    """What the broker's clock says: the session and its current time."""

    session: SessionName
    now: datetime

    @property
    def in_session(self) -> bool:
        return self.session is SessionName.OPEN


@dataclass(frozen=True, slots=True)
class BrokerCapabilities:
    """What a broker supports and the limits the engine must respect."""

    name: str
    supports_amo: bool
    supports_modify: bool
    supports_order_stream: bool
    supports_tick_stream: bool
    tag_max_length: int
    #: Broker limits; ``None`` means the broker does not limit that kind of call.
    orders_per_second: float | None
    requests_per_second: float | None


@runtime_checkable
class BrokerAdapter(Protocol):
    """One broker-side account, reached asynchronously.

    Every method may raise a :class:`~tradewarden.brokers.errors.BrokerError`. Streams end by
    raising :class:`~tradewarden.brokers.errors.BrokerDisconnectedError` when the connection
    is lost; updates may have been missed then, so reconcile from the order book and open the
    stream again.
    """

    @property
    def account(self) -> str:
        """The broker-side account id."""
        ...

    @property
    def capabilities(self) -> BrokerCapabilities: ...

    async def place(self, request: OrderRequest) -> str:
        """Submit an order; returns the broker order id.

        Business rejections (funds, tick, band, market closed) may still produce an order that
        the broker shows as rejected; read it back with :meth:`get_order`.
        """
        ...

    async def modify(self, broker_order_id: str, change: ModifyRequest) -> None:
        """Modify a working order."""
        ...

    async def cancel(self, broker_order_id: str) -> None:
        """Cancel a working order."""
        ...

    async def order_book(self) -> list[BrokerOrder]:
        """Today's orders of the account."""
        ...

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        """One order's current state (a targeted query)."""
        ...

    async def order_history(self, broker_order_id: str) -> list[BrokerOrder]:
        """One order's states, oldest first."""
        ...

    async def find_by_tag(self, tag: str) -> list[BrokerOrder]:
        """Orders carrying ``tag`` (our client order id); empty when there are none."""
        ...

    async def trade_book(self) -> list[BrokerFill]:
        """Today's fills of the account."""
        ...

    async def positions(self) -> list[Position]: ...

    async def holdings(self) -> list[Holding]: ...

    async def funds(self) -> Funds: ...

    async def market_session(self) -> MarketSession | None:
        """The broker's own session clock, or ``None`` to use the exchange calendar."""
        ...

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        """Last traded prices of canonical ``instruments``; instruments without a price are
        absent."""
        ...

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        """A stream of this account's order changes."""
        ...

    def ticks(self) -> AsyncIterator[Tick]:
        """A stream of ticks for the instruments subscribed with :meth:`subscribe`."""
        ...

    async def subscribe(self, instruments: Iterable[InstrumentKey]) -> None: ...

    async def unsubscribe(self, instruments: Iterable[InstrumentKey]) -> None: ...

    async def aclose(self) -> None:
        """Release connections held by this adapter."""
        ...
