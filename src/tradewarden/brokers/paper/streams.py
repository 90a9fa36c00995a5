"""Order-update and tick fan-out from the simulator to asyncio consumers.

The simulator publishes from whatever thread runs the operation; each :class:`Subscription`
hands items to its consumer's event loop with ``call_soon_threadsafe``. A subscription ends
with :class:`BrokerDisconnectedError` when it is dropped (fault injection, reset, shutdown) or
its consumer falls more than ``maxsize`` items behind — the consumer then reconciles from the
order book, as it would after a real broker's socket drops.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from tradewarden.brokers.base import OrderUpdate, Tick
from tradewarden.brokers.errors import BrokerDisconnectedError
from tradewarden.domain.instruments import InstrumentKey

T = TypeVar("T")
_END = object()
DEFAULT_MAXSIZE = 10_000


class Subscription(Generic[T]):
    """One consumer's stream: an async iterator fed from any thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_close: Callable[[Subscription[T]], None],
        maxsize: int = DEFAULT_MAXSIZE,
    ) -> None:
        self._loop = loop
        self._on_close = on_close
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._maxsize = maxsize
        self._closed = False
        self._error: BaseException | None = None
        #: Tick subscriptions: the instruments this consumer wants (swapped, never mutated).
        self.instruments: frozenset[InstrumentKey] = frozenset()

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, item: T) -> None:
        """Queue ``item`` for the consumer (thread-safe)."""
        if self._closed:
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the consumer's loop is gone
            self._mark_closed(None)

    def _deliver(self, item: object) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= self._maxsize:
            self._finish(BrokerDisconnectedError("stream consumer fell behind; reconnect"))
            return
        self._queue.put_nowait(item)

    def close(self, error: BaseException | None = None) -> None:
        """End the stream (thread-safe); ``error`` is raised to the consumer if given."""
        if self._closed:
            return
        try:
            self._loop.call_soon_threadsafe(self._finish, error)
        except RuntimeError:
            self._mark_closed(error)

    def _finish(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._mark_closed(error)
        self._queue.put_nowait(_END)

    def _mark_closed(self, error: BaseException | None) -> None:
        self._closed = True
        self._error = error
        self._on_close(self)

    async def wait_ready(self) -> None:
        """Streams are live from creation; present for parity with the HTTP stream."""

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        if self._closed and self._queue.empty():
            return self._end()
        item = await self._queue.get()
        if item is _END:
            return self._end()
        return item  # type: ignore[return-value]

    def _end(self) -> T:
        if self._error is not None:
            raise self._error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop consuming; no error is raised to this consumer afterwards."""
        if not self._closed:
            self._mark_closed(None)
            self._queue.put_nowait(_END)


class StreamHub:
    """Who listens to which account's orders and which instruments' ticks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, set[Subscription[OrderUpdate]]] = {}
        self._ticks: set[Subscription[Tick]] = set()

    def open_orders(
        self, account: str, loop: asyncio.AbstractEventLoop | None = None
    ) -> Subscription[OrderUpdate]:
        """A new order-update stream for ``account``."""
        sub: Subscription[OrderUpdate] = Subscription(
            loop or asyncio.get_running_loop(), lambda s: self._forget_order(account, s)
        )
        with self._lock:
            self._orders.setdefault(account, set()).add(sub)
        return sub

    def open_ticks(
        self,
        instruments: frozenset[InstrumentKey] = frozenset(),
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Subscription[Tick]:
        """A new tick stream for ``instruments`` (change ``sub.instruments`` later)."""
        loop = loop or asyncio.get_running_loop()
        sub: Subscription[Tick] = Subscription(loop, self._forget_tick)
        sub.instruments = instruments
        with self._lock:
            self._ticks.add(sub)
        return sub

    def _forget_order(self, account: str, sub: Subscription[OrderUpdate]) -> None:
        with self._lock:
            subs = self._orders.get(account)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._orders[account]

    def _forget_tick(self, sub: Subscription[Tick]) -> None:
        with self._lock:
            self._ticks.discard(sub)

    def publish_order(self, account: str, update: OrderUpdate) -> None:
        with self._lock:
            subs = list(self._orders.get(account, ()))
        for sub in subs:
            sub.push(update)

    def publish_tick(self, tick: Tick) -> None:
        with self._lock:
            subs = list(self._ticks)
        key = tick.key
        for sub in subs:
            if key in sub.instruments:
                sub.push(tick)

    def has_order_listeners(self) -> bool:
        with self._lock:
            return bool(self._orders)

    def drop_all(self, reason: str) -> None:
        """End every stream with :class:`BrokerDisconnectedError`."""
        with self._lock:
            subs: list[Subscription[OrderUpdate]] = [s for v in self._orders.values() for s in v]
            ticks = list(self._ticks)
        for sub in subs:
            sub.close(BrokerDisconnectedError(reason))
        for tick_sub in ticks:
            tick_sub.close(BrokerDisconnectedError(reason))
