"""What a placement attempt produced, and the ledger events it implies (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradewarden.brokers.base import BrokerFill, BrokerOrder
from tradewarden.brokers.errors import (
    BrokerError,
    InsufficientFundsError,
    SessionExpiredError,
)
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.failures import rejection_code

E = EventType


@dataclass(slots=True)
class Placement:
    """One attempt to place ``order`` (status ``submitting``) and what the broker said."""

    order: Order
    broker_order_id: str | None = None
    seen: BrokerOrder | None = None  # the order read back right after placing it
    error: BrokerError | None = None  # a definitive refusal
    ambiguous: bool = False  # outcome unknown: resolve by tag lookup

    @property
    def needs_fills(self) -> bool:
        return self.seen is not None and self.seen.filled_quantity > 0


def failure_of(placement: Placement) -> tuple[ReasonCode, str] | None:
    """A retryable-or-not *failure* (not a rejection), as (code, broker text)."""
    error = placement.error
    if isinstance(error, InsufficientFundsError | SessionExpiredError):
        return error.reason_code, error.message
    seen = placement.seen
    if seen is not None and seen.status is OrderStatus.REJECTED:
        text = seen.rejection_reason or seen.status_message or seen.raw_status
        code = rejection_code(text)
        if code.retryable:
            return code, text
    return None


def placement_events(placement: Placement, fills: Sequence[BrokerFill]) -> list[OrderEvent]:
    """The events that record ``placement`` (a failure is handled by ``failure_of``)."""
    order = placement.order
    if placement.ambiguous:
        return []
    if placement.error is not None:
        return [OrderEvent(E.ORDER_REJECTED, EventSource.BROKER,
                           rejection_reason=placement.error.message,
                           reason_code=ReasonCode.BROKER_VALIDATION)]
    if placement.seen is None:
        return [OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER,
                           broker_order_id=placement.broker_order_id)]
    return events_from_broker(order, placement.seen, EventSource.BROKER, fills)
