"""Which ledger events are notified, as what, with which de-duplication key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.domain.factories import make_order
from tradewarden.domain.events import EventSource, EventType
from tradewarden.domain.orders import Origin
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.order_events import kind_of, notification_for

E, S, K = EventType, OrderStatus, NotificationKind


def applied(type_: EventType, source: EventSource = EventSource.BROKER,
            from_status: S | None = S.OPEN, to_status: S = S.OPEN,
            payload: dict[str, Any] | None = None, **order: Any) -> AppliedEvent:
    return AppliedEvent(make_order(to_status, **order), 7, 3, type_, source, from_status,
                        to_status, payload or {}, datetime(2026, 11, 23, 4, 45, tzinfo=UTC))


@pytest.mark.parametrize(("event", "kind"), [
    (applied(E.ORDER_CREATED, from_status=None, to_status=S.CREATED), None),
    (applied(E.ORDER_SUBMITTED, from_status=S.CREATED, to_status=S.SUBMITTING), None),
    (applied(E.ORDER_SUBMITTED, from_status=S.RETRY_PENDING, to_status=S.SUBMITTING),
     K.RETRY_RETRIED),
    (applied(E.ORDER_UPDATED), None),
    (applied(E.ORDER_CANCEL_REQUESTED, to_status=S.PENDING_CANCEL), None),
    (applied(E.ORDER_ACCEPTED, from_status=S.SUBMITTING), K.ORDER_PLACED),
    (applied(E.ORDER_MODIFIED, EventSource.MANUAL), K.ORDER_MODIFIED),
    (applied(E.ORDER_MODIFIED, EventSource.BROKER, from_status=S.PENDING_MODIFY), None),
    (applied(E.ORDER_RETRY_SCHEDULED, EventSource.SYSTEM, from_status=S.FAILED,
             to_status=S.RETRY_PENDING), K.RETRY_ADDED),
    (applied(E.ORDER_RETRY_SCHEDULED, EventSource.USER, from_status=S.RETRY_PENDING,
             to_status=S.RETRY_PENDING), None),
    (applied(E.ORDER_FAILED, EventSource.SYSTEM, from_status=S.RETRY_PENDING,
             to_status=S.FAILED, reason_code="broker_unavailable"), K.RETRY_EXPIRED),
    (applied(E.ORDER_FAILED, from_status=S.SUBMITTING, to_status=S.FAILED,
             reason_code="broker_unavailable"), None),
    (applied(E.ORDER_FAILED, from_status=S.SUBMITTING, to_status=S.FAILED,
             reason_code="broker_unavailable", retry_count=5), K.ORDER_FAILED),
    (applied(E.ORDER_FAILED, EventSource.RECONCILIATION, from_status=S.SUBMITTING,
             to_status=S.FAILED, reason_code="lost"), K.ORDER_FAILED),
    (applied(E.ORDER_DROPPED, EventSource.USER, from_status=S.RETRY_PENDING,
             to_status=S.CANCELLED), K.RETRY_DROPPED),
    (applied(E.ORDER_EXPIRED, to_status=S.EXPIRED), K.ORDER_EXPIRED),
    (applied(E.ORDER_DENIED, EventSource.SYSTEM, from_status=S.CREATED, to_status=S.DENIED),
     K.ORDER_DENIED),
])
def test_event_kinds(event: AppliedEvent, kind: K | None) -> None:
    assert kind_of(event, retry_attempts=5) is kind


def test_payload_and_dedupe_keys() -> None:
    found = notification_for(applied(
        E.ORDER_PARTIALLY_FILLED, to_status=S.PARTIALLY_FILLED,
        payload={"previous_filled_quantity": 0, "fills": [{"fill_id": "F1"}]},
        strategy_label="momentum", origin=Origin.WEBHOOK), 5)
    assert found is not None and found.kind is K.ORDER_PARTIALLY_FILLED
    order = found.payload
    assert found.dedupe_key == f"{order['order_id']}:partial:1"
    assert (order["symbol"], order["side"], order["quantity"], order["filled_quantity"]) == (
        "RELIANCE", "BUY", 10, 1)
    assert (order["price"], order["strategy"], order["origin"]) == ("2500.05", "momentum",
                                                                    "webhook")
    assert order["at"] == "2026-11-23T04:45:00+00:00" and "fills" not in order
    filled = notification_for(applied(E.ORDER_FILLED, to_status=S.FILLED), 5)
    assert filled is not None
    assert filled.dedupe_key == f"{filled.payload['order_id']}:order_executed"
    placed = notification_for(applied(E.ORDER_ACCEPTED, from_status=S.SUBMITTING), 5)
    assert placed is not None
    assert placed.dedupe_key == f"{placed.payload['order_id']}:placed:0"
