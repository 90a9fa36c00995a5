"""From a legacy record to a new order plus the legal event path to its legacy status.

Imported orders start ``created`` like any other and reach their status only through events
the transition table allows (BRIEF §3.1), each stamped with the time the legacy file gives:

============================  ============================================================
legacy status                 event path after ``OrderCreated``
============================  ============================================================
working (PENDING, OPEN, …)    OrderSubmitted → OrderAccepted
partially filled              OrderSubmitted → OrderAccepted → OrderPartiallyFilled
filled (COMPLETE, EXECUTED)   OrderSubmitted → OrderAccepted* → OrderFilled
rejected                      OrderSubmitted → OrderRejected
cancelled / expired           OrderSubmitted → OrderAccepted* → (OrderPartiallyFilled) →
                              OrderCancelled / OrderExpired
failed (failed_orders)        OrderSubmitted → OrderFailed (reason code from the text)
============================  ============================================================

\\* only when the legacy row has a broker order id. Nothing is ever sent to a broker.
``validate`` runs the path through the pure domain first, so a row that cannot be expressed
is reported invalid before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import apply_event
from tradewarden.domain.orders import (
    CancelledBy,
    Order,
    Origin,
    new_client_order_id,
    new_order_id,
)
from tradewarden.domain.statuses import OrderStatus
from tradewarden.legacy.records import LegacyOrder, LegacyRow

E = EventType
S = OrderStatus

#: Client order ids of imported orders start with this instead of ``TW``: no broker ever saw
#: them as a tag of ours.
LEGACY_CLIENT_PREFIX = "LG"
SOURCE = EventSource.SYSTEM


@dataclass(frozen=True, slots=True)
class Step:
    """One event of the path and the moment it happened in the legacy system."""

    at: datetime
    event: OrderEvent


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    record: LegacyOrder
    order: Order
    steps: tuple[Step, ...]


def build_order(record: LegacyOrder, row: LegacyRow, *, user_id: int, account_id: int,
                file: str, imported_at: datetime) -> Order:
    """The new order (status ``created``); the legacy row is kept under ``extra["legacy"]``."""
    legacy: dict[str, Any] = {
        "file": file, "section": row.ref.section.value, "row": row.ref.number,
        "id": row.ref.legacy_id, "imported_at": imported_at.isoformat(),
        "fields": _jsonable(row.raw),
    }
    return Order(
        id=new_order_id(), user_id=user_id, account_id=account_id,
        client_order_id=LEGACY_CLIENT_PREFIX + new_client_order_id()[2:],
        exchange=record.exchange, symbol=record.symbol, side=record.side,
        quantity=record.quantity, order_type=record.order_type, product=record.product,
        created_at=record.placed_at, updated_at=record.placed_at, price=record.price,
        variety=record.variety, origin=Origin.EXTERNAL, execution_type=record.execution_type,
        idempotency_key=record.key, retry_count=record.retry_count,
        last_retry_at=record.settled_at if record.retry_count else None,
        extra={"legacy": legacy},
    )


def steps_for(record: LegacyOrder) -> tuple[Step, ...]:
    """The events that bring a new order to ``record.status``."""
    start, end = record.placed_at, record.settled_at
    detail = {"import": "legacy"}
    steps = [Step(start, OrderEvent(E.ORDER_SUBMITTED, SOURCE, detail=detail,
                                    broker_order_id=record.broker_order_id))]
    status = record.status
    if status is S.REJECTED:
        steps.append(Step(end, OrderEvent(
            E.ORDER_REJECTED, SOURCE, broker_status=record.broker_status, detail=detail,
            rejection_reason=record.reason or "rejected (no reason in the legacy file)")))
        return tuple(steps)
    if status is S.FAILED:  # at the first failure: that is the order's first_failed_at
        steps.append(Step(start, OrderEvent(E.ORDER_FAILED, SOURCE, reason_code=record.reason_code,
                                          reason=record.reason, detail=detail)))
        return tuple(steps)
    if record.broker_order_id is not None:
        accepted_status = record.broker_status if status is S.OPEN else None
        steps.append(Step(start, OrderEvent(E.ORDER_ACCEPTED, SOURCE, detail=detail,
                                            broker_status=accepted_status)))
    if status is S.OPEN:
        return tuple(steps)
    if status is S.FILLED:
        steps.append(Step(end, _fill(record, E.ORDER_FILLED)))
        return tuple(steps)
    if 0 < record.filled_quantity < record.quantity:
        steps.append(Step(end, _fill(record, E.ORDER_PARTIALLY_FILLED)))
    if status is S.CANCELLED:
        steps.append(Step(end, OrderEvent(
            E.ORDER_CANCELLED, SOURCE, cancelled_by=CancelledBy.BROKER, detail=detail,
            broker_status=record.broker_status,
            reason=f"cancelled in the legacy system (status {record.broker_status!r})")))
    elif status is S.EXPIRED:
        steps.append(Step(end, OrderEvent(
            E.ORDER_EXPIRED, SOURCE, broker_status=record.broker_status, detail=detail,
            reason=f"expired in the legacy system (status {record.broker_status!r})")))
    return tuple(steps)


def _fill(record: LegacyOrder, event_type: EventType) -> OrderEvent:
    return OrderEvent(event_type, SOURCE, broker_status=record.broker_status,
                      filled_quantity=record.filled_quantity,
                      average_price=record.average_price, detail={"import": "legacy"})


def validate(order: Order, steps: tuple[Step, ...], target: OrderStatus) -> None:
    """Dry-run the path in the pure domain; raise ``InvalidEvent`` if any step is refused."""
    current = replace(order, version=1, extra=dict(order.extra))
    for step in steps:
        current = apply_event(current, step.event, step.at).order
    if current.status is not target:
        raise AssertionError(f"path ends in {current.status}, expected {target}")


def plan(row: LegacyRow, *, user_id: int, account_id: int, file: str,
         imported_at: datetime) -> list[PlannedOrder]:
    """Every order of ``row`` with its validated path (raises ``InvalidEvent``)."""
    planned = []
    for record in row.orders:
        order = build_order(record, row, user_id=user_id, account_id=account_id, file=file,
                            imported_at=imported_at)
        steps = steps_for(record)
        validate(order, steps, record.status)
        planned.append(PlannedOrder(record, order, steps))
    return planned


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # Decimal (the JSON was read with parse_float=Decimal)
