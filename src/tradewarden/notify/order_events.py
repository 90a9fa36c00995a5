"""Which ledger events are notified, as which kind, with which payload and dedupe key.

Pure and cheap: the outbox recorder calls ``notification_for`` for every event the ledger
writes (intake writes thousands per second), and most of them — ``OrderCreated``,
``OrderSubmitted``, requests, broker status texts — are skipped by one dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tradewarden.domain.events import EventSource, EventType
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.notify.events import NotificationKind

E = EventType
K = NotificationKind

_DIRECT: dict[EventType, NotificationKind] = {
    E.ORDER_ACCEPTED: K.ORDER_PLACED,
    E.ORDER_FILLED: K.ORDER_EXECUTED,
    E.ORDER_PARTIALLY_FILLED: K.ORDER_PARTIALLY_FILLED,
    E.ORDER_REJECTED: K.ORDER_REJECTED,
    E.ORDER_CANCELLED: K.ORDER_CANCELLED,
    E.ORDER_EXPIRED: K.ORDER_EXPIRED,
    E.ORDER_DENIED: K.ORDER_DENIED,
    E.ORDER_DROPPED: K.RETRY_DROPPED,
}

#: Types that need a closer look; every other type is never notified.
_CONDITIONAL = frozenset({E.ORDER_MODIFIED, E.ORDER_FAILED, E.ORDER_RETRY_SCHEDULED,
                          E.ORDER_SUBMITTED})

#: One message per (order, kind) at most: the order's terminal outcomes.
_ONCE_PER_ORDER = frozenset({K.ORDER_EXECUTED, K.ORDER_REJECTED, K.ORDER_CANCELLED,
                             K.ORDER_EXPIRED, K.ORDER_DENIED, K.ORDER_FAILED,
                             K.RETRY_DROPPED, K.RETRY_EXPIRED})

_EVENT_FIELDS = ("rejection_reason", "reason_code", "reason", "cancelled_by", "changes",
                 "next_retry_at", "retry_count", "previous_filled_quantity")


@dataclass(frozen=True, slots=True)
class OrderNotification:
    kind: NotificationKind
    payload: dict[str, Any]
    dedupe_key: str | None


def kind_of(event: AppliedEvent, retry_attempts: int) -> NotificationKind | None:
    """The notification ``event`` produces, if any.

    A retryable failure that the retry queue takes up (same transaction) is announced once, as
    ``retry_added``; only failures that will not be retried become ``order_failed``.
    """
    direct = _DIRECT.get(event.type)
    if direct is not None:
        return direct
    if event.type not in _CONDITIONAL:
        return None
    if event.type is E.ORDER_SUBMITTED:
        return K.RETRY_RETRIED if event.from_status is OrderStatus.RETRY_PENDING else None
    if event.type is E.ORDER_MODIFIED:
        return K.ORDER_MODIFIED if event.source is EventSource.MANUAL else None
    if event.type is E.ORDER_RETRY_SCHEDULED:  # a user's "retry now" needs no message
        return None if event.source is EventSource.USER else K.RETRY_ADDED
    if event.from_status is OrderStatus.RETRY_PENDING:
        return K.RETRY_EXPIRED
    code = event.order.reason_code
    will_retry = (code in _RETRYABLE and event.order.retry_count < retry_attempts)
    return None if will_retry else K.ORDER_FAILED


_RETRYABLE = frozenset(code.value for code in ReasonCode if code.retryable)


def notification_for(event: AppliedEvent, retry_attempts: int) -> OrderNotification | None:
    kind = kind_of(event, retry_attempts)
    if kind is None:
        return None
    return OrderNotification(kind, order_payload(event), dedupe_key(kind, event))


def order_payload(event: AppliedEvent) -> dict[str, Any]:
    """The order as of this event, plus what the event itself says (all JSON-ready)."""
    order = event.order
    payload: dict[str, Any] = {
        "order_id": order.id, "exchange": order.exchange, "symbol": order.symbol,
        "side": order.side.value, "quantity": order.quantity,
        "filled_quantity": order.filled_quantity, "average_price": str(order.average_price),
        "order_type": order.order_type.value, "product": order.product.value,
        "origin": order.origin.value, "event": event.type.value,
        "source": event.source.value, "at": event.created_at.isoformat(),
    }
    if order.price is not None:
        payload["price"] = str(order.price)
    if order.trigger_price is not None:
        payload["trigger_price"] = str(order.trigger_price)
    if order.strategy_label:
        payload["strategy"] = order.strategy_label
    if order.retry_count:
        payload["retry_count"] = order.retry_count
    for name in ("reason_code", "reason", "rejection_reason"):
        value = getattr(order, name)
        if value:
            payload[name] = value
    if order.cancelled_by is not None:
        payload["cancelled_by"] = order.cancelled_by.value
    for name in _EVENT_FIELDS:
        if name in event.payload:
            payload[name] = event.payload[name]
    return payload


def dedupe_key(kind: NotificationKind, event: AppliedEvent) -> str | None:
    """Terminal outcomes once per order; partial fills once per filled quantity; the
    placement once per attempt."""
    order = event.order
    if kind in _ONCE_PER_ORDER:
        return f"{order.id}:{kind.value}"
    if kind is K.ORDER_PARTIALLY_FILLED:
        return f"{order.id}:partial:{order.filled_quantity}"
    if kind is K.ORDER_PLACED:
        return f"{order.id}:placed:{order.retry_count}"
    return None
