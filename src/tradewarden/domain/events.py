"""Order event vocabulary: what happened, who said so, and what it carries (BRIEF §3.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewarden.domain.orders import CancelledBy, OrderType, Variety
from tradewarden.domain.reasons import ReasonCode


class EventType(StrEnum):
    ORDER_CREATED = "OrderCreated"
    ORDER_DENIED = "OrderDenied"
    ORDER_SUBMITTED = "OrderSubmitted"
    ORDER_ACCEPTED = "OrderAccepted"
    ORDER_UPDATED = "OrderUpdated"  # broker status text changed, our status did not
    ORDER_PARTIALLY_FILLED = "OrderPartiallyFilled"
    ORDER_FILLED = "OrderFilled"
    ORDER_REJECTED = "OrderRejected"
    ORDER_CANCEL_REQUESTED = "OrderCancelRequested"
    ORDER_CANCEL_REJECTED = "OrderCancelRejected"
    ORDER_CANCELLED = "OrderCancelled"
    ORDER_MODIFY_REQUESTED = "OrderModifyRequested"
    ORDER_MODIFY_REJECTED = "OrderModifyRejected"
    ORDER_MODIFIED = "OrderModified"
    ORDER_EXPIRED = "OrderExpired"
    ORDER_FAILED = "OrderFailed"
    ORDER_RETRY_SCHEDULED = "OrderRetryScheduled"
    ORDER_DROPPED = "OrderDropped"


class EventSource(StrEnum):
    SYSTEM = "system"
    BROKER = "broker"
    USER = "user"
    MANUAL = "manual"
    RECONCILIATION = "reconciliation"


@dataclass(frozen=True, slots=True)
class FillData:
    """One execution reported by the broker. ``fill_id`` is unique per broker account."""

    fill_id: str
    quantity: int
    price: Decimal
    filled_at: datetime


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """A request to change an order, as reported by ``source``.

    Only the fields meaningful for ``type`` are read; ``filled_quantity`` is the broker's
    cumulative filled quantity (never an increment), so replaying an event cannot inflate it.
    """

    type: EventType
    source: EventSource = EventSource.SYSTEM
    broker_order_id: str | None = None
    broker_status: str | None = None
    client_order_id: str | None = None
    filled_quantity: int | None = None
    average_price: Decimal | None = None
    fills: tuple[FillData, ...] = ()
    reason_code: ReasonCode | None = None
    reason: str | None = None
    rejection_reason: str | None = None
    cancelled_by: CancelledBy | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    quantity: int | None = None
    next_retry_at: datetime | None = None
    variety: Variety | None = None  # OrderSubmitted: sent as AMO or regular
    order_type: OrderType | None = None  # OrderModified / OrderModifyRequested: new type
    detail: dict[str, Any] = field(default_factory=dict)
