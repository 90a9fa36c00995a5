"""Translate what the broker shows for one order into ledger events (pure, no I/O).

Used by the executor's verification, the in-flight checks and the monitor, so there is one
place that decides what a broker order means for ours. Quantities come from the broker
(cumulative filled quantity, never re-aggregated); the events are applied in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from tradewarden.brokers.base import BrokerFill, BrokerOrder
from tradewarden.domain.events import EventSource, EventType, FillData, OrderEvent
from tradewarden.domain.lifecycle import CANCEL_REQUESTED_BY
from tradewarden.domain.orders import CancelledBy, Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.failures import final_rejection_code

S = OrderStatus
E = EventType



def events_from_broker(order: Order, seen: BrokerOrder,
                       source: EventSource = EventSource.BROKER,
                       fills: Sequence[BrokerFill] = ()) -> list[OrderEvent]:
    """The events that bring ``order`` in line with ``seen`` (empty when nothing changed).

    ``fills`` are the broker's executions (any order's; those of ``seen`` are attached to the
    fill event so they are recorded, de-duplicated by fill id).
    """
    events: list[OrderEvent] = []
    status = order.status
    raw = seen.raw_status
    unplaced = status in (S.SUBMITTING, S.FAILED)
    if unplaced and seen.status not in (S.REJECTED, S.CANCELLED) and seen.filled_quantity == 0:
        events.append(OrderEvent(E.ORDER_ACCEPTED, source,
                                 broker_order_id=seen.broker_order_id, broker_status=raw))
        status = S.OPEN
    modified = _modification(order, seen, source)
    if modified is not None:
        events.append(modified)
    if seen.filled_quantity > order.filled_quantity:
        complete = seen.filled_quantity >= seen.quantity
        events.append(OrderEvent(
            E.ORDER_FILLED if complete else E.ORDER_PARTIALLY_FILLED, source,
            broker_order_id=seen.broker_order_id, broker_status=raw,
            filled_quantity=seen.filled_quantity,
            average_price=seen.average_price if seen.average_price > 0 else None,
            fills=tuple(FillData(f.fill_id, f.quantity, f.price, f.filled_at) for f in fills
                        if f.broker_order_id == seen.broker_order_id),
        ))
        status = S.FILLED if complete else S.PARTIALLY_FILLED
    final = _final_event(order, seen, source, status)
    if final is not None:
        events.append(final)
    elif (not events and seen.broker_order_id == order.broker_order_id
          and raw != order.broker_status and status in (S.OPEN, S.PARTIALLY_FILLED)):
        events.append(OrderEvent(E.ORDER_UPDATED, source, broker_status=raw))
    return events


def _final_event(order: Order, seen: BrokerOrder, source: EventSource,
                 status: OrderStatus) -> OrderEvent | None:
    if status is S.FILLED or seen.status is None:
        return None
    raw = seen.raw_status
    if seen.status is S.REJECTED and status is not S.REJECTED:
        text = seen.rejection_reason or seen.status_message or raw
        return OrderEvent(E.ORDER_REJECTED, source, broker_order_id=seen.broker_order_id,
                          broker_status=raw, rejection_reason=text,
                          reason_code=final_rejection_code(text))
    if seen.status is S.CANCELLED and status is not S.CANCELLED:
        # who cancelled depends on whether *we* had asked (the status before this update)
        ours = order.status is S.PENDING_CANCEL
        requested = str(order.extra.get(CANCEL_REQUESTED_BY) or "")
        by = (CancelledBy(requested) if requested else CancelledBy.SYSTEM) if ours else (
            CancelledBy.MANUAL)
        reason = seen.status_message or seen.rejection_reason
        return OrderEvent(E.ORDER_CANCELLED,
                          EventSource.MANUAL if by is CancelledBy.MANUAL else source,
                          broker_order_id=seen.broker_order_id, broker_status=raw,
                          cancelled_by=by, reason=reason)
    if seen.status is S.EXPIRED and status is not S.EXPIRED:
        return OrderEvent(E.ORDER_EXPIRED, source, broker_order_id=seen.broker_order_id,
                          broker_status=raw, reason=seen.status_message)
    return None


def _modification(order: Order, seen: BrokerOrder, source: EventSource) -> OrderEvent | None:
    """An ``OrderModified`` when the broker's price/quantity/trigger differ from ours.

    Compares the order's own price and quantity fields (never the average price). A change we
    did not request is attributed to ``manual`` activity at the broker's app. An order that
    ended (filled, cancelled, …) takes no modification: only a late fill is news for it.
    """
    if (order.broker_order_id is None or order.status in (S.SUBMITTING, S.FAILED)
            or order.status.is_final):
        return None
    changed_quantity = seen.quantity if seen.quantity != order.quantity else None
    changed_price = seen.price if (seen.price is not None and order.price is not None
                                   and seen.price != order.price) else None
    changed_trigger = seen.trigger_price if (seen.trigger_price is not None
                                             and seen.trigger_price != order.trigger_price
                                             and order.trigger_price is not None) else None
    if changed_quantity is None and changed_price is None and changed_trigger is None:
        return None
    ours = order.status is S.PENDING_MODIFY
    return OrderEvent(E.ORDER_MODIFIED, source if ours else EventSource.MANUAL,
                      broker_status=seen.raw_status, quantity=changed_quantity,
                      price=changed_price, trigger_price=changed_trigger,
                      detail={} if ours else {"manual": True})
