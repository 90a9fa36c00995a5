"""An in-process publish/subscribe bus for committed ledger events.

Publishing never blocks the publisher: each subscriber has a bounded queue, and a subscriber that
falls behind loses its oldest messages (counted in ``dropped``). Components that must not lose
anything (notifications) persist their own outbox in the ledger's transaction instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's queue; iterate it with ``async for``."""

    def __init__(self, bus: EventBus[T], maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def _offer(self, item: T) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    def get_nowait(self) -> T:
        return self._queue.get_nowait()

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            yield await self._queue.get()


class EventBus(Generic[T]):
    """Fan-out of published items to every current subscriber, in publish order."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription[T]] = set()

    def subscribe(self, maxsize: int = 10_000) -> Subscription[T]:
        subscription = Subscription(self, maxsize)
        self._subscribers.add(subscription)
        return subscription

    def publish(self, item: T) -> None:
        """Deliver ``item`` to every subscriber. Call from the event loop's thread."""
        for subscription in list(self._subscribers):
            subscription._offer(item)
