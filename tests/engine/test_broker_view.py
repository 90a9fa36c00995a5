"""What the broker shows for an order, translated into our events (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from tests.domain.factories import NOW, make_order
from tradewarden.brokers.base import BrokerOrder
from tradewarden.domain.events import EventSource, EventType
from tradewarden.domain.lifecycle import CANCEL_REQUESTED_BY, apply_event
from tradewarden.domain.orders import (
    CancelledBy,
    Order,
    OrderType,
    Product,
    Side,
    Validity,
    Variety,
)
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.broker_view import events_from_broker

S = OrderStatus
E = EventType
AT = datetime(2026, 11, 23, 4, tzinfo=UTC)


def seen(raw: str, status: OrderStatus | None, *, filled: int = 0, quantity: int = 10,
         price: str = "2500.05") -> BrokerOrder:
    return BrokerOrder(
        broker_order_id="B-1", tag="TAG", exchange="NSE", symbol="RELIANCE", side=Side.BUY,
        quantity=quantity, filled_quantity=filled,
        average_price=Decimal("2500") if filled else Decimal(0), price=Decimal(price),
        trigger_price=None, order_type=OrderType.LIMIT, product=Product.CNC,
        variety=Variety.REGULAR, validity=Validity.DAY, raw_status=raw, status=status,
        rejection_reason=None, status_message=None, placed_at=AT, updated_at=AT)


def run(order: Order, view: BrokerOrder) -> tuple[list[EventType], Order]:
    events = events_from_broker(order, view)
    for event in events:
        order = apply_event(order, event, NOW).order
    return [e.type for e in events], order


def test_our_cancel_with_a_last_partial_fill_is_ours() -> None:
    order = replace(make_order(S.PENDING_CANCEL), extra={CANCEL_REQUESTED_BY: "user"})
    types, final = run(order, seen("CANCELLED", S.CANCELLED, filled=3))
    assert types == [E.ORDER_PARTIALLY_FILLED, E.ORDER_CANCELLED]
    assert final.status is S.CANCELLED and final.cancelled_by is CancelledBy.USER
    assert final.filled_quantity == 3


def test_a_cancel_we_did_not_ask_for_is_manual() -> None:
    events = events_from_broker(make_order(S.OPEN), seen("CANCELLED", S.CANCELLED))
    (event,) = events
    assert event.cancelled_by is CancelledBy.MANUAL and event.source is EventSource.MANUAL


def test_a_late_rejection_is_classified_like_one_at_placement() -> None:
    """An AMO accepted overnight and rejected at the open keeps the broker's real reason."""
    view = replace(seen("REJECTED", S.REJECTED), rejection_reason="RMS:Insufficient holdings")
    (event,) = events_from_broker(make_order(S.OPEN), view)
    assert event.reason_code is ReasonCode.NO_HOLDINGS
    vague = replace(seen("REJECTED", S.REJECTED), rejection_reason="something odd")
    assert events_from_broker(make_order(S.OPEN), vague)[0].reason_code is \
        ReasonCode.BROKER_VALIDATION


def test_a_late_rejection_for_funds_is_not_called_retryable() -> None:
    """Nothing retries an order the broker rejected later (an AMO rejected at the open for
    margin ends ``rejected``), so its code does not promise a retry; the text stays."""
    text = "RMS:Margin Exceeds,Required:25000.00, Available:1000.00"
    view = replace(seen("REJECTED", S.REJECTED), rejection_reason=text)
    types, final = run(make_order(S.OPEN), view)
    assert types == [E.ORDER_REJECTED] and final.status is S.REJECTED
    assert final.reason_code == ReasonCode.BROKER_VALIDATION.value
    assert "can be retried" not in ReasonCode(final.reason_code).text
    assert final.rejection_reason == text
    expired = replace(seen("REJECTED", S.REJECTED), rejection_reason="Session Expired")
    assert events_from_broker(make_order(S.OPEN), expired)[0].reason_code is \
        ReasonCode.BROKER_VALIDATION
    limit = replace(seen("REJECTED", S.REJECTED), status_message="Max order value exceeded")
    assert events_from_broker(make_order(S.OPEN), limit)[0].reason_code is \
        ReasonCode.ORDER_LIMIT


def test_a_price_change_we_did_not_ask_for_is_a_manual_modification() -> None:
    types, final = run(make_order(S.OPEN), seen("OPEN", S.OPEN, price="2490.00"))
    assert types == [E.ORDER_MODIFIED] and final.price == Decimal("2490.00")
    (event,) = events_from_broker(make_order(S.OPEN), seen("OPEN", S.OPEN, price="2490.00"))
    assert event.source is EventSource.MANUAL


def test_expiry_while_our_cancel_is_pending_is_applied() -> None:
    types, final = run(make_order(S.PENDING_CANCEL), seen("EXPIRED", S.EXPIRED))
    assert types == [E.ORDER_EXPIRED] and final.status is S.EXPIRED


def test_unknown_broker_text_changes_nothing_but_the_raw_status() -> None:
    order = replace(make_order(S.OPEN), broker_status="OPEN")
    types, final = run(order, seen("SOMETHING NEW", None))
    assert types == [E.ORDER_UPDATED] and final.status is S.OPEN
    assert final.broker_status == "SOMETHING NEW"


def test_nothing_changed_means_no_events() -> None:
    order = replace(make_order(S.OPEN), broker_status="OPEN")
    assert events_from_broker(order, seen("OPEN", S.OPEN)) == []


def test_external_ids_are_unique_per_account() -> None:
    from tradewarden.engine.strays import external_client_order_id

    first = external_client_order_id(1, "1000000000001")
    assert first != external_client_order_id(2, "1000000000001")
    assert first == external_client_order_id(1, "1000000000001")
    assert len(external_client_order_id(7, "X" * 64)) <= 32
