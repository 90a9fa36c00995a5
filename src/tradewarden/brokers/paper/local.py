"""The in-process paper broker: one simulator, one adapter per account, same event loop.

:class:`LocalPaperBroker` owns a :class:`PaperExchange` (and so its state file); ``adapter(name)``
returns a :class:`LocalPaperAdapter` bound to one broker-side account. Calls run directly on the
caller's loop: every simulator operation is in-memory work plus one SQLite WAL commit, and the
simulator is thread-safe. A background task (started on first use) applies session changes
once a second so streams see expiry and the open without any other call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from tradewarden.brokers.base import (
    BrokerCapabilities,
    BrokerFill,
    BrokerOrder,
    Funds,
    Holding,
    MarketSession,
    ModifyRequest,
    OrderRequest,
    OrderUpdate,
    Position,
    Quote,
    Tick,
)
from tradewarden.brokers.errors import BrokerError
from tradewarden.brokers.paper.clock import ClockMode
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.faults import DEFAULT_SEED
from tradewarden.brokers.paper.rules import TAG_MAX_LENGTH
from tradewarden.brokers.paper.service import PaperService
from tradewarden.brokers.paper.streams import Subscription
from tradewarden.domain.instruments import InstrumentKey

T = TypeVar("T")

PAPER_CAPABILITIES = BrokerCapabilities(
    name="paper",
    supports_amo=True,
    supports_modify=True,
    supports_order_stream=True,
    supports_tick_stream=True,
    tag_max_length=TAG_MAX_LENGTH,
    orders_per_second=None,
    requests_per_second=None,
)


class LocalPaperBroker:
    """An in-process simulator serving any number of accounts."""

    def __init__(self, exchange: PaperExchange, *, sync_interval_s: float = 1.0) -> None:
        self.exchange = exchange
        self.service = PaperService(exchange)
        self._sync_interval = sync_interval_s
        self._ticker: asyncio.Task[None] | None = None
        self._adapters: dict[str, LocalPaperAdapter] = {}

    @classmethod
    def open(
        cls,
        state_path: Path | None,
        *,
        clock: ClockMode | str = ClockMode.OPEN,
        seed: int = DEFAULT_SEED,
    ) -> LocalPaperBroker:
        """Open (or create) the simulator state at ``state_path`` (``None``: memory only)."""
        return cls(PaperExchange(state_path, clock=clock, seed=seed))

    def adapter(self, account: str, *, initial_cash: Decimal | None = None) -> LocalPaperAdapter:
        """The adapter for broker-side account ``account``.

        With ``initial_cash``, the account is created with that cash if the simulator does not
        know it yet (existing accounts keep theirs); otherwise it is created on first use with
        the default ₹10,00,000.
        """
        if initial_cash is not None:
            self.exchange.ensure_account(account, initial_cash)
        found = self._adapters.get(account)
        if found is None:
            found = self._adapters[account] = LocalPaperAdapter(self, account)
        return found

    def watched(self) -> frozenset[InstrumentKey]:
        """The instruments this process's adapters are subscribed to (the price walk moves
        them every step)."""
        return frozenset().union(*(a.subscribed for a in self._adapters.values()))

    def ensure_ticker(self) -> None:
        """Start the session-sync task if a loop is running and it is not running yet."""
        if self._ticker is not None and not self._ticker.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._ticker = loop.create_task(self._tick_forever(), name="paper-broker-sync")

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sync_interval)
            with contextlib.suppress(Exception):
                self.exchange.sync()

    async def aclose(self) -> None:
        """Stop the sync task and close the state file."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.exchange.close()


class _FailedStream(AsyncIterator[T]):
    """A stream that could not be opened: raises its error on first use."""

    def __init__(self, error: BrokerError) -> None:
        self._error = error

    async def wait_ready(self) -> None:
        raise self._error

    async def __anext__(self) -> T:
        raise self._error


class LocalPaperAdapter:
    """:class:`~tradewarden.brokers.base.BrokerAdapter` for one account of an in-process
    simulator."""

    def __init__(self, broker: LocalPaperBroker, account: str) -> None:
        self._broker = broker
        self._service = broker.service
        self._account = account
        self._instruments: frozenset[InstrumentKey] = frozenset()
        self._tick_streams: list[Subscription[Tick]] = []

    @property
    def account(self) -> str:
        return self._account

    @property
    def subscribed(self) -> frozenset[InstrumentKey]:
        """The instruments given to :meth:`subscribe` (and not unsubscribed)."""
        return self._instruments

    @property
    def capabilities(self) -> BrokerCapabilities:
        return PAPER_CAPABILITIES

    async def place(self, request: OrderRequest) -> str:
        self._broker.ensure_ticker()
        return await self._service.place(self._account, request)

    async def modify(self, broker_order_id: str, change: ModifyRequest) -> None:
        await self._service.modify(self._account, broker_order_id, change)

    async def cancel(self, broker_order_id: str) -> None:
        await self._service.cancel(self._account, broker_order_id)

    async def order_book(self) -> list[BrokerOrder]:
        self._broker.ensure_ticker()
        return await self._service.order_book(self._account)

    async def get_order(self, broker_order_id: str) -> BrokerOrder:
        return await self._service.get_order(self._account, broker_order_id)

    async def order_history(self, broker_order_id: str) -> list[BrokerOrder]:
        return await self._service.order_history(self._account, broker_order_id)

    async def find_by_tag(self, tag: str) -> list[BrokerOrder]:
        return await self._service.find_by_tag(self._account, tag)

    async def trade_book(self) -> list[BrokerFill]:
        return await self._service.trade_book(self._account)

    async def positions(self) -> list[Position]:
        return await self._service.positions(self._account)

    async def holdings(self) -> list[Holding]:
        return await self._service.holdings(self._account)

    async def funds(self) -> Funds:
        return await self._service.funds(self._account)

    async def market_session(self) -> MarketSession | None:
        return await self._service.market_session()

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        return await self._service.quotes(instruments)

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        """Subscribes immediately (must be called with a running loop)."""
        self._broker.ensure_ticker()
        try:
            return self._service.open_order_stream(self._account)
        except BrokerError as exc:
            return _FailedStream[OrderUpdate](exc)

    def ticks(self) -> AsyncIterator[Tick]:
        """Subscribes immediately to the instruments given to :meth:`subscribe`."""
        try:
            stream = self._service.open_tick_stream(self._instruments)
        except BrokerError as exc:
            return _FailedStream[Tick](exc)
        self._tick_streams = [s for s in self._tick_streams if not s.closed] + [stream]
        return stream

    async def subscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        self._set_instruments(self._instruments | frozenset(instruments))

    async def unsubscribe(self, instruments: Iterable[InstrumentKey]) -> None:
        self._set_instruments(self._instruments - frozenset(instruments))

    def _set_instruments(self, instruments: frozenset[InstrumentKey]) -> None:
        self._instruments = instruments
        for stream in self._tick_streams:
            stream.instruments = instruments

    async def aclose(self) -> None:
        for stream in self._tick_streams:
            await stream.aclose()
        self._tick_streams = []
