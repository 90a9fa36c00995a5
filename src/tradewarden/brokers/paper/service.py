"""The broker-facing face of the simulator: the same calls for the in-process adapter and the
HTTP server, with fault injection applied (control calls bypass this module).

A fault surfaces as the error a real broker connection would produce: ``RateLimitedError``
(nothing done), ``BrokerTimeoutError`` / ``BrokerServerError`` (for place/modify/cancel the
operation may have been applied first — see :class:`~.faults.FaultPlan`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from tradewarden.brokers.base import (
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
from tradewarden.brokers.errors import (
    BrokerDisconnectedError,
    BrokerError,
    BrokerServerError,
    BrokerTimeoutError,
    RateLimitedError,
)
from tradewarden.brokers.paper.exchange import PaperExchange
from tradewarden.brokers.paper.faults import FaultPlan, Outcome
from tradewarden.brokers.paper.streams import Subscription
from tradewarden.domain.instruments import InstrumentKey

T = TypeVar("T")


class PaperService:
    """Broker-facing calls for any account of one :class:`PaperExchange`."""

    def __init__(self, exchange: PaperExchange) -> None:
        self.exchange = exchange

    async def _call(self, operation: Callable[[], T], *, mutating: bool = False) -> T:
        plan = self.exchange.faults.plan(mutating=mutating)
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if plan.outcome is Outcome.RATE_LIMIT:
            raise RateLimitedError(
                "Too many requests",
                retry_after=self.exchange.faults.config.retry_after_s,
                code="rate_limited",
            )
        if plan.outcome is Outcome.OK:
            return operation()
        self._maybe_apply(plan, operation)
        if plan.outcome is Outcome.TIMEOUT:
            raise BrokerTimeoutError("The broker did not answer in time", code="timeout")
        raise BrokerServerError("Broker internal error", status_code=503, code="server_error")

    @staticmethod
    def _maybe_apply(plan: FaultPlan, operation: Callable[[], object]) -> None:
        if plan.apply_first:
            with contextlib.suppress(BrokerError):  # the caller never learns the answer
                operation()

    async def place(self, account: str, request: OrderRequest) -> str:
        lag = self.exchange.faults.config.not_found_lag_s
        return await self._call(
            lambda: self.exchange.place(account, request, hide_for_s=lag), mutating=True
        )

    async def modify(self, account: str, broker_order_id: str, change: ModifyRequest) -> None:
        await self._call(
            lambda: self.exchange.modify(account, broker_order_id, change), mutating=True
        )

    async def cancel(self, account: str, broker_order_id: str) -> None:
        await self._call(lambda: self.exchange.cancel(account, broker_order_id), mutating=True)

    async def open_account(self, account: str, initial_cash: Decimal | None) -> bool:
        """Create the account with ``initial_cash`` unless it exists (no faults: setup call)."""
        return self.exchange.ensure_account(account, initial_cash)

    async def order_book(self, account: str) -> list[BrokerOrder]:
        return await self._call(lambda: self.exchange.order_book(account))

    async def get_order(self, account: str, broker_order_id: str) -> BrokerOrder:
        return await self._call(lambda: self.exchange.get_order(account, broker_order_id))

    async def order_history(self, account: str, broker_order_id: str) -> list[BrokerOrder]:
        return await self._call(lambda: self.exchange.order_history(account, broker_order_id))

    async def find_by_tag(self, account: str, tag: str) -> list[BrokerOrder]:
        return await self._call(lambda: self.exchange.find_by_tag(account, tag))

    async def trade_book(self, account: str) -> list[BrokerFill]:
        return await self._call(lambda: self.exchange.trade_book(account))

    async def positions(self, account: str) -> list[Position]:
        return await self._call(lambda: self.exchange.positions(account))

    async def holdings(self, account: str) -> list[Holding]:
        return await self._call(lambda: self.exchange.holdings(account))

    async def funds(self, account: str) -> Funds:
        return await self._call(lambda: self.exchange.funds(account))

    async def market_session(self) -> MarketSession:
        return await self._call(self.exchange.market_session)

    async def quotes(self, instruments: Iterable[InstrumentKey]) -> dict[InstrumentKey, Quote]:
        """Last traded prices; a REST call, so subject to call faults (not ``drop_stream``)."""
        keys = frozenset(instruments)
        return await self._call(lambda: self.exchange.quotes(keys))

    def open_order_stream(self, account: str) -> Subscription[OrderUpdate]:
        """A new order-update stream; raises if streams are being dropped (fault)."""
        self._check_stream()
        return self.exchange.streams.open_orders(account)

    def open_tick_stream(
        self, instruments: frozenset[InstrumentKey] = frozenset()
    ) -> Subscription[Tick]:
        self._check_stream()
        return self.exchange.streams.open_ticks(instruments)

    def _check_stream(self) -> None:
        if self.exchange.faults.config.drop_stream:
            raise BrokerDisconnectedError("stream dropped (fault injection)", code="stream_dropped")
