"""What a placement attempt produced, and the ledger events it implies (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tradewarden.brokers.base import BrokerFill, BrokerOrder
from tradewarden.brokers.errors import BrokerError
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker
from tradewarden.engine.failures import classify, rejection_code

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


def refusal(placement: Placement) -> tuple[ReasonCode, str] | None:
    """Why the broker refused ``placement`` (a synchronous error or an order it shows as
    rejected), as (code, broker text); None when it did not refuse."""
    error = placement.error
    if error is not None:
        return _error_code(error), error.message
    seen = placement.seen
    if seen is not None and seen.status is OrderStatus.REJECTED:
        text = seen.rejection_reason or seen.status_message or seen.raw_status
        return rejection_code(text), text
    return None


def _error_code(error: BrokerError) -> ReasonCode:
    """The table's code when it recognises the refusal's text, else what the error's type
    says (a retryable type keeps its code, any other is ``broker_validation``)."""
    by_type = error.reason_code if error.reason_code.retryable else ReasonCode.BROKER_VALIDATION
    return classify(error.message) or by_type


def failure_of(placement: Placement) -> tuple[ReasonCode, str] | None:
    """A refusal a retry can fix (a *failure*, not a rejection), as (code, broker text)."""
    refused = refusal(placement)
    if refused is not None and refused[0].retryable:
        return refused
    return None


def placement_events(placement: Placement, fills: Sequence[BrokerFill]) -> list[OrderEvent]:
    """The events that record ``placement`` (a failure is handled by ``failure_of``); a
    rejection carries the reason code its text implies (a synchronous one here, one the
    broker shows as rejected by :func:`events_from_broker`)."""
    order = placement.order
    if placement.ambiguous:
        return []
    if placement.error is not None:
        return [OrderEvent(E.ORDER_REJECTED, EventSource.BROKER,
                           rejection_reason=placement.error.message,
                           reason_code=_error_code(placement.error))]
    if placement.seen is None:
        return [OrderEvent(E.ORDER_ACCEPTED, EventSource.BROKER,
                           broker_order_id=placement.broker_order_id)]
    return events_from_broker(order, placement.seen, EventSource.BROKER, fills)
