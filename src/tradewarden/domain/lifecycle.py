"""Where an order becomes X: the pure function that applies one event to one order.

``apply_event`` decides the target status from the event, checks it against the transition
table, validates the event's data against the order, and returns the changed copy plus the
payload to record. It never mutates its input and does no I/O; the ledger persists the result.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import CancelledBy, Order, OrderType
from tradewarden.domain.reasons import DENIAL_CODES, FAILURE_CODES, ReasonCode
from tradewarden.domain.statuses import FINAL_STATUSES, PENDING_STATUSES, OrderStatus, is_allowed

S = OrderStatus
E = EventType

#: ``Order.extra`` key recording who asked for a pending cancel (user or system).
CANCEL_REQUESTED_BY = "cancel_requested_by"

#: ``Order.extra`` key listing the client order ids (broker tags) of earlier attempts.
PREVIOUS_TAGS = "previous_client_order_ids"


class DomainError(Exception):
    """Base class for refusals raised by the pure domain."""


class InvalidEvent(DomainError):
    """The event's data is inconsistent with the order (e.g. filled quantity going down)."""


class TransitionRefused(InvalidEvent):
    """The transition table does not allow ``from_status -> to_status``."""

    def __init__(self, order_id: str, from_status: OrderStatus, to_status: OrderStatus | None,
                 event_type: EventType, source: str) -> None:
        self.order_id = order_id
        self.from_status = from_status
        self.to_status = to_status
        self.event_type = event_type
        self.source = source
        target = to_status.value if to_status else "?"
        super().__init__(
            f"order {order_id}: {event_type.value} from {source} refused "
            f"({from_status.value} -> {target})"
        )


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of applying one event: the new order state and what to record."""

    order: Order
    from_status: OrderStatus
    to_status: OrderStatus
    payload: dict[str, Any]


# Event types whose target status is fixed. The others depend on the order (see _target).
_FIXED_TARGET: dict[EventType, OrderStatus] = {
    E.ORDER_DENIED: S.DENIED,
    E.ORDER_SUBMITTED: S.SUBMITTING,
    E.ORDER_ACCEPTED: S.OPEN,
    E.ORDER_PARTIALLY_FILLED: S.PARTIALLY_FILLED,
    E.ORDER_FILLED: S.FILLED,
    E.ORDER_REJECTED: S.REJECTED,
    E.ORDER_CANCEL_REQUESTED: S.PENDING_CANCEL,
    E.ORDER_CANCELLED: S.CANCELLED,
    E.ORDER_MODIFY_REQUESTED: S.PENDING_MODIFY,
    E.ORDER_EXPIRED: S.EXPIRED,
    E.ORDER_FAILED: S.FAILED,
    E.ORDER_RETRY_SCHEDULED: S.RETRY_PENDING,
    E.ORDER_DROPPED: S.CANCELLED,
}


def target_status(order: Order, event: OrderEvent) -> OrderStatus | None:
    """The status ``event`` would move ``order`` to, or None when it cannot apply at all."""
    if event.type in _FIXED_TARGET:
        return _FIXED_TARGET[event.type]
    if event.type is E.ORDER_UPDATED:
        return order.status
    if event.type is E.ORDER_MODIFIED:
        return order.prior_status if order.status is S.PENDING_MODIFY else order.status
    if event.type in (E.ORDER_CANCEL_REJECTED, E.ORDER_MODIFY_REJECTED):
        expected = S.PENDING_CANCEL if event.type is E.ORDER_CANCEL_REJECTED else S.PENDING_MODIFY
        return order.prior_status if order.status is expected else None
    return None  # OrderCreated: only the ledger's create() records it


def apply_event(order: Order, event: OrderEvent, now: datetime) -> Transition:
    """Apply ``event`` to a copy of ``order``; raise ``TransitionRefused``/``InvalidEvent``."""
    from_status = order.status
    to_status = target_status(order, event)
    if to_status is None or not is_allowed(from_status, to_status):
        raise TransitionRefused(order.id, from_status, to_status, event.type, event.source.value)
    new = copy.copy(order)
    new.extra = dict(order.extra)
    payload: dict[str, Any] = {}
    _apply_common(new, event, payload)
    _HANDLERS.get(event.type, _no_extra)(new, event, payload, now)
    if to_status in PENDING_STATUSES and from_status not in PENDING_STATUSES:
        new.prior_status = from_status
    elif to_status not in PENDING_STATUSES:
        new.prior_status = None
    new.status = to_status
    if to_status in FINAL_STATUSES:
        new.closed_at = now
    elif from_status in FINAL_STATUSES:
        new.closed_at = None
    new.updated_at = now
    new.version = order.version + 1
    _check_quantities(new)
    return Transition(order=new, from_status=from_status, to_status=to_status, payload=payload)


# --- per-event-type rules -------------------------------------------------------------------


def _apply_common(order: Order, event: OrderEvent, payload: dict[str, Any]) -> None:
    if event.broker_order_id is not None:
        order.broker_order_id = event.broker_order_id
        payload["broker_order_id"] = event.broker_order_id
    if event.broker_status is not None:
        order.broker_status = event.broker_status
        payload["broker_status"] = event.broker_status
    if event.detail:
        payload["detail"] = _jsonable(event.detail)


def _no_extra(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    return None


def _on_denied(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if event.reason_code not in DENIAL_CODES:
        raise InvalidEvent(f"OrderDenied needs a denial reason code, got {event.reason_code}")
    _set_reason(order, event.reason_code, event.reason, payload)


def _on_submitted(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if event.client_order_id is not None and event.client_order_id != order.client_order_id:
        payload["previous_client_order_id"] = order.client_order_id
        previous = [str(tag) for tag in _as_list(order.extra.get(PREVIOUS_TAGS))]
        order.extra[PREVIOUS_TAGS] = [*previous, order.client_order_id]
        order.client_order_id = event.client_order_id
    payload["client_order_id"] = order.client_order_id
    if event.variety is not None and event.variety is not order.variety:
        payload["variety"] = {"old": order.variety.value, "new": event.variety.value}
        order.variety = event.variety
    if order.status is S.RETRY_PENDING:
        order.retry_count += 1
        order.last_retry_at = now
        order.next_retry_at = None
        order.broker_order_id = event.broker_order_id
        order.broker_status = event.broker_status
        payload["retry_count"] = order.retry_count
    _clear_reason(order)


def _on_accepted(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if order.broker_order_id is None:
        raise InvalidEvent("OrderAccepted needs the broker order id")
    _clear_reason(order)


def _on_fill(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    complete = event.type is E.ORDER_FILLED
    filled = event.filled_quantity
    if filled is None:
        if not complete:
            raise InvalidEvent("OrderPartiallyFilled needs the broker's cumulative filled quantity")
        filled = order.quantity
    if filled < order.filled_quantity:
        raise InvalidEvent(
            f"filled quantity cannot go down ({order.filled_quantity} -> {filled})"
        )
    if complete and filled != order.quantity:
        raise InvalidEvent(f"OrderFilled with {filled} of {order.quantity} filled")
    if not complete:
        if not 0 < filled < order.quantity:
            raise InvalidEvent(f"partial fill of {filled} is outside 1..{order.quantity - 1}")
        if filled == order.filled_quantity and order.status is S.PARTIALLY_FILLED:
            raise InvalidEvent(f"no new fill: already {filled} filled")
    previous_average = order.average_price
    if event.average_price is not None:
        if event.average_price <= 0:
            raise InvalidEvent(f"average price {event.average_price} must be positive")
        order.average_price = event.average_price
    elif event.fills:
        order.average_price = _blend(order, event)
    payload["filled_quantity"] = filled
    payload["previous_filled_quantity"] = order.filled_quantity
    payload["average_price"] = str(order.average_price)
    payload["previous_average_price"] = str(previous_average)
    if event.fills:
        payload["fills"] = [
            {"fill_id": f.fill_id, "quantity": f.quantity, "price": str(f.price),
             "filled_at": f.filled_at.isoformat()}
            for f in event.fills
        ]
    order.filled_quantity = filled
    _clear_reason(order)


def _blend(order: Order, event: OrderEvent) -> Decimal:
    total_qty = order.filled_quantity + sum(f.quantity for f in event.fills)
    if total_qty <= 0:
        return order.average_price
    value = order.average_price * order.filled_quantity + sum(
        (f.price * f.quantity for f in event.fills), Decimal(0)
    )
    return value / total_qty


def _on_rejected(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    order.rejection_reason = event.rejection_reason or event.reason or "rejected by the broker"
    payload["rejection_reason"] = order.rejection_reason
    if event.reason_code is not None:
        _set_reason(order, event.reason_code, event.reason, payload)


def _on_cancelled(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if event.cancelled_by is None:
        raise InvalidEvent("OrderCancelled needs cancelled_by (system, user, manual or broker)")
    order.cancelled_by = event.cancelled_by
    payload["cancelled_by"] = event.cancelled_by.value
    if event.reason:
        order.reason = event.reason
        payload["reason"] = event.reason


def _on_dropped(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    order.cancelled_by = event.cancelled_by or CancelledBy.USER
    order.reason = event.reason or "dropped from retry queue"
    order.next_retry_at = None
    payload["cancelled_by"] = order.cancelled_by.value
    payload["reason"] = order.reason


def _on_expired(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    order.reason = event.reason or "validity ended unfilled"
    payload["reason"] = order.reason


def _on_failed(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if event.reason_code not in FAILURE_CODES:
        raise InvalidEvent(f"OrderFailed needs a failure reason code, got {event.reason_code}")
    _set_reason(order, event.reason_code, event.reason, payload)
    order.next_retry_at = None
    if order.first_failed_at is None:
        order.first_failed_at = now


def _on_retry(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    if event.next_retry_at is None:
        raise InvalidEvent("OrderRetryScheduled needs next_retry_at")
    order.next_retry_at = event.next_retry_at
    if order.first_failed_at is None:
        order.first_failed_at = now
    payload["next_retry_at"] = event.next_retry_at.isoformat()
    if event.reason_code is not None:
        _set_reason(order, event.reason_code, event.reason, payload)


def _on_modified(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    changes: dict[str, dict[str, str | int | None]] = {}
    if event.quantity is not None and event.quantity != order.quantity:
        if event.quantity <= 0 or event.quantity < order.filled_quantity:
            raise InvalidEvent(
                f"modified quantity {event.quantity} is below the filled {order.filled_quantity}"
            )
        changes["quantity"] = {"old": order.quantity, "new": event.quantity}
        order.quantity = event.quantity
    if event.order_type is not None and event.order_type is not order.order_type:
        changes["order_type"] = {"old": order.order_type.value, "new": event.order_type.value}
        order.order_type = event.order_type
    takes = {"price": order.order_type in (OrderType.LIMIT, OrderType.SL),
             "trigger_price": order.order_type in (OrderType.SL, OrderType.SL_M)}
    for name in ("price", "trigger_price"):
        new_value: Decimal | None = getattr(event, name) if takes[name] else None
        old_value: Decimal | None = getattr(order, name)
        if new_value is None and takes[name]:
            new_value = old_value
        if new_value is None and takes[name] and "order_type" in changes:
            raise InvalidEvent(f"{order.order_type.value} orders need a {name}")
        if new_value != old_value:
            if new_value is not None and new_value <= 0:
                raise InvalidEvent(f"modified {name} {new_value} must be positive")
            changes[name] = {"old": _str(old_value), "new": _str(new_value)}
            setattr(order, name, new_value)
    payload["changes"] = changes


def _on_request(order: Order, event: OrderEvent, payload: dict[str, Any], now: datetime) -> None:
    payload["prior_status"] = order.status.value
    if event.type is E.ORDER_CANCEL_REQUESTED and event.cancelled_by is not None:
        order.extra[CANCEL_REQUESTED_BY] = event.cancelled_by.value
        payload["requested_by"] = event.cancelled_by.value
    for name in ("price", "trigger_price", "quantity", "order_type"):
        value = getattr(event, name)
        if value is not None:
            payload.setdefault("requested", {})[name] = _str(value)


_HANDLERS = {
    E.ORDER_DENIED: _on_denied,
    E.ORDER_SUBMITTED: _on_submitted,
    E.ORDER_ACCEPTED: _on_accepted,
    E.ORDER_PARTIALLY_FILLED: _on_fill,
    E.ORDER_FILLED: _on_fill,
    E.ORDER_REJECTED: _on_rejected,
    E.ORDER_CANCELLED: _on_cancelled,
    E.ORDER_DROPPED: _on_dropped,
    E.ORDER_EXPIRED: _on_expired,
    E.ORDER_FAILED: _on_failed,
    E.ORDER_RETRY_SCHEDULED: _on_retry,
    E.ORDER_MODIFIED: _on_modified,
    E.ORDER_CANCEL_REQUESTED: _on_request,
    E.ORDER_MODIFY_REQUESTED: _on_request,
}


def _check_quantities(order: Order) -> None:
    """Status and filled quantity must tell the same story."""
    filled, total = order.filled_quantity, order.quantity
    if not 0 <= filled <= total:
        raise InvalidEvent(f"filled quantity {filled} outside 0..{total}")
    if order.status is S.FILLED and filled != total:
        raise InvalidEvent(f"filled status with {filled} of {total} filled")
    if order.status is S.PARTIALLY_FILLED and not 0 < filled < total:
        raise InvalidEvent(f"partially_filled status with {filled} of {total} filled")
    if order.status in (S.CREATED, S.SUBMITTING, S.OPEN) and filled:
        raise InvalidEvent(f"{order.status.value} status but {filled} already filled")


# --- helpers --------------------------------------------------------------------------------


def _set_reason(order: Order, code: ReasonCode, reason: str | None,
                payload: dict[str, Any]) -> None:
    order.reason_code = code.value
    order.reason = reason or code.text
    payload["reason_code"] = order.reason_code
    payload["reason"] = order.reason


def _clear_reason(order: Order) -> None:
    order.reason_code = None
    order.reason = None


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _str(value: object) -> str | int | None:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
