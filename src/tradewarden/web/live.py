"""Live messages for connected dashboards and API clients (``WS /api/v1/ws``).

``LiveHub.publish(user_id, type, data)`` delivers ``{"type": …, "data": …}`` to every live
connection of that user; anything in the process may call it (order events are forwarded from
the ledger bus here; trades, ticks and notifications add one call each). Publishing never waits:
each connection has a bounded backlog. Messages published with a ``key`` replace an undelivered
message with the same type and key (a tick superseded by a newer tick), so a burst costs one
slot per key. A connection whose backlog still overflows is dropped — the client reconnects and
re-reads the page — so a slow browser can never hold up the engine.

Call ``publish`` from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from tradewarden.engine.bus import EventBus
from tradewarden.engine.ledger import AppliedEvent

log = logging.getLogger(__name__)

MAX_BACKLOG = 500
CHANNELS = ("order", "trade", "tick", "notification")

Message = dict[str, Any]


class ClientLagging(Exception):
    """The connection fell ``MAX_BACKLOG`` messages behind and was dropped."""


class LiveClient:
    """One connection's undelivered messages."""

    def __init__(self, user_id: int, max_backlog: int = MAX_BACKLOG) -> None:
        self.user_id = user_id
        self.max_backlog = max_backlog
        self.lagging = asyncio.Event()
        self._backlog: OrderedDict[Hashable, Message] = OrderedDict()
        self._ready = asyncio.Event()
        self._serial = itertools.count()

    def offer(self, message: Message, key: Hashable | None = None) -> None:
        if self.lagging.is_set():
            return
        slot: Hashable = key if key is not None else ("#", next(self._serial))
        if slot in self._backlog:
            self._backlog[slot] = message  # coalesce: the newer value wins, same position
        elif len(self._backlog) >= self.max_backlog:
            self._backlog.clear()
            self.lagging.set()
            self._ready.set()
            return
        else:
            self._backlog[slot] = message
        self._ready.set()

    def pending(self) -> int:
        return len(self._backlog)

    async def next_batch(self) -> list[Message]:
        """Wait for messages and take all of them (raises ``ClientLagging`` once dropped)."""
        await self._ready.wait()
        if self.lagging.is_set():
            raise ClientLagging()
        batch = list(self._backlog.values())
        self._backlog.clear()
        self._ready.clear()
        return batch


class LiveHub:
    """Per-user fan-out of live messages to connected clients."""

    def __init__(self, max_backlog: int = MAX_BACKLOG) -> None:
        self.max_backlog = max_backlog
        self._clients: dict[int, set[LiveClient]] = {}
        self.dropped_clients = 0

    def connect(self, user_id: int) -> LiveClient:
        client = LiveClient(user_id, self.max_backlog)
        self._clients.setdefault(user_id, set()).add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        clients = self._clients.get(client.user_id)
        if clients is None:
            return
        clients.discard(client)
        if not clients:
            del self._clients[client.user_id]

    def has_clients(self, user_id: int) -> bool:
        return user_id in self._clients

    def connections(self) -> int:
        return sum(len(c) for c in self._clients.values())

    def publish(self, user_id: int, type: str, data: Any, *, key: Hashable | None = None) -> None:
        """Queue ``{"type": type, "data": data}`` for each of the user's connections."""
        clients = self._clients.get(user_id)
        if not clients:
            return
        message: Message = {"type": type, "data": data}
        slot = (type, key) if key is not None else None
        for client in list(clients):
            client.offer(message, slot)
            if client.lagging.is_set():
                self.dropped_clients += 1
                self.disconnect(client)


def order_message(applied: AppliedEvent) -> dict[str, Any]:
    """The ``order`` message: the order's state after one event, and the event itself."""
    o = applied.order
    return {
        "orderid": o.id, "client_order_id": o.client_order_id,
        "broker_order_id": o.broker_order_id, "account_id": o.account_id,
        "strategy_id": o.strategy_id, "strategy": o.strategy_label, "exchange": o.exchange,
        "symbol": o.symbol, "side": o.side.value, "quantity": o.quantity,
        "filled_quantity": o.filled_quantity, "average_price": str(o.average_price),
        "order_type": o.order_type.value, "product": o.product.value,
        "price": None if o.price is None else str(o.price),
        "trigger_price": None if o.trigger_price is None else str(o.trigger_price),
        "status": o.status.value, "broker_status": o.broker_status,
        "reason_code": o.reason_code, "reason": o.reason,
        "rejection_reason": o.rejection_reason,
        "cancelled_by": None if o.cancelled_by is None else o.cancelled_by.value,
        "origin": o.origin.value, "retry_count": o.retry_count,
        "first_failed_at": _iso(o.first_failed_at), "last_retry_at": _iso(o.last_retry_at),
        "next_retry_at": _iso(o.next_retry_at), "created_at": _iso(o.created_at),
        "updated_at": _iso(o.updated_at), "version": o.version,
        "event": {
            "sequence": applied.sequence, "type": applied.type.value,
            "source": applied.source.value,
            "from_status": None if applied.from_status is None else applied.from_status.value,
            "to_status": applied.to_status.value, "payload": applied.payload,
            "created_at": _iso(applied.created_at),
        },
    }


def _iso(moment: Any) -> str | None:
    return None if moment is None else str(moment.isoformat())


async def forward_orders(bus: EventBus[AppliedEvent], hub: LiveHub) -> None:
    """Publish every committed order event to its owner's live connections (runs forever)."""
    subscription = bus.subscribe(maxsize=10_000)
    try:
        async for applied in subscription:
            user_id = applied.order.user_id
            if not hub.has_clients(user_id):
                continue
            try:
                hub.publish(user_id, "order", order_message(applied))
            except Exception:  # one odd event must not stop the feed
                log.exception("live order message for %s failed", applied.order.id)
    finally:
        subscription.close()
