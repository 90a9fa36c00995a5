"""The transition table, exercised exhaustively and with random event sequences."""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.factories import NOW, event_targeting, make_order
from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent, TransitionRefused, apply_event
from tradewarden.domain.orders import CancelledBy
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import FINAL_STATUSES, TRANSITIONS, OrderStatus, is_allowed

S = OrderStatus
E = EventType
PAIRS = [(a, b) for a in OrderStatus for b in OrderStatus]


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair_is_applied_exactly_when_the_table_allows_it(
    current: OrderStatus, target: OrderStatus
) -> None:
    order = make_order(current)
    before = copy.deepcopy(order)
    event = event_targeting(target, order)
    if event is None:  # nothing may move an order back to "created"
        assert target not in {t for targets in TRANSITIONS.values() for t in targets}
        return
    if is_allowed(current, target):
        result = apply_event(order, event, NOW)
        assert result.order.status is target
        assert result.from_status is current and result.to_status is target
        assert result.order.version == order.version + 1
    else:
        with pytest.raises(TransitionRefused) as refused:
            apply_event(order, event, NOW)
        assert refused.value.from_status is current
    assert order == before, "apply_event must never mutate its input"


def test_table_matches_the_brief() -> None:
    assert TRANSITIONS[S.CREATED] == {S.SUBMITTING, S.DENIED, S.CANCELLED, S.RETRY_PENDING}
    assert TRANSITIONS[S.SUBMITTING] == {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED,
                                         S.FAILED, S.CANCELLED}
    for final in (S.DENIED, S.FILLED, S.REJECTED):
        assert TRANSITIONS[final] == frozenset()
    # late fills after cancel/expiry are applied, not refused
    for status in (S.CANCELLED, S.EXPIRED):
        assert TRANSITIONS[status] == {S.PARTIALLY_FILLED, S.FILLED}
    assert {S.DENIED, S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED} == FINAL_STATUSES


def test_cancel_rejected_returns_to_the_status_before_the_request() -> None:
    order = make_order(S.PARTIALLY_FILLED)
    pending = apply_event(order, OrderEvent(E.ORDER_CANCEL_REQUESTED), NOW).order
    assert pending.status is S.PENDING_CANCEL and pending.prior_status is S.PARTIALLY_FILLED
    back = apply_event(pending, OrderEvent(E.ORDER_CANCEL_REJECTED, broker_status="OPEN"), NOW)
    assert back.order.status is S.PARTIALLY_FILLED and back.order.prior_status is None
    with pytest.raises(TransitionRefused):  # not pending a modify
        apply_event(pending, OrderEvent(E.ORDER_MODIFY_REJECTED), NOW)


def test_modify_confirmed_records_old_and_new_values() -> None:
    order = make_order(S.OPEN)
    pending = apply_event(order, OrderEvent(E.ORDER_MODIFY_REQUESTED, price=Decimal("2490")),
                          NOW).order
    done = apply_event(pending, OrderEvent(E.ORDER_MODIFIED, price=Decimal("2490"), quantity=12),
                       NOW)
    assert done.order.status is S.OPEN
    assert done.order.price == Decimal("2490") and done.order.quantity == 12
    assert done.payload["changes"] == {"quantity": {"old": 10, "new": 12},
                                       "price": {"old": "2500.05", "new": "2490"}}


def test_late_fill_after_cancel_is_applied_and_reopens_closed_at() -> None:
    cancelled = apply_event(make_order(S.OPEN),
                            OrderEvent(E.ORDER_CANCELLED, cancelled_by=CancelledBy.MANUAL),
                            NOW).order
    assert cancelled.closed_at == NOW and cancelled.cancelled_by is CancelledBy.MANUAL
    late = apply_event(cancelled, OrderEvent(E.ORDER_FILLED, average_price=Decimal("2500")),
                       NOW + timedelta(seconds=1)).order
    assert late.status is S.FILLED and late.filled_quantity == late.quantity
    assert late.closed_at == NOW + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("status", "event", "message"),
    [
        (S.OPEN, OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=10), "outside"),
        (S.OPEN, OrderEvent(E.ORDER_PARTIALLY_FILLED), "cumulative"),
        (S.OPEN, OrderEvent(E.ORDER_FILLED, filled_quantity=7), "7 of 10"),
        (S.SUBMITTING, OrderEvent(E.ORDER_FAILED, reason_code=ReasonCode.RISK_BLOCKED),
         "failure reason"),
        (S.CREATED, OrderEvent(E.ORDER_DENIED, reason_code=ReasonCode.LOST), "denial reason"),
        (S.OPEN, OrderEvent(E.ORDER_CANCELLED), "cancelled_by"),
        (S.FAILED, OrderEvent(E.ORDER_RETRY_SCHEDULED), "next_retry_at"),
        (S.OPEN, OrderEvent(E.ORDER_MODIFIED, quantity=0), "below the filled"),
        (S.PENDING_CANCEL, OrderEvent(E.ORDER_ACCEPTED, broker_order_id="B-1"), "already filled"),
    ],
)
def test_inconsistent_events_are_refused(status: OrderStatus, event: OrderEvent,
                                         message: str) -> None:
    order = make_order(status)
    if status is S.PENDING_CANCEL:
        order.prior_status, order.filled_quantity = S.PARTIALLY_FILLED, 4
    with pytest.raises(InvalidEvent, match=message):
        apply_event(order, event, NOW)


def test_filled_quantity_never_goes_down() -> None:
    order = make_order(S.PARTIALLY_FILLED, filled_quantity=6)
    with pytest.raises(InvalidEvent, match="cannot go down"):
        apply_event(order, OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=3), NOW)
    with pytest.raises(InvalidEvent, match="no new fill"):
        apply_event(order, OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=6), NOW)


def test_retry_attempt_advances_count_and_takes_the_new_client_order_id() -> None:
    order = make_order(S.RETRY_PENDING, retry_count=1, reason_code="insufficient_funds")
    result = apply_event(order, OrderEvent(E.ORDER_SUBMITTED, client_order_id="TWNEW0000000000001"),
                         NOW)
    assert result.order.retry_count == 2 and result.order.last_retry_at == NOW
    assert result.order.client_order_id == "TWNEW0000000000001"
    assert result.payload["previous_client_order_id"] == order.client_order_id
    assert result.order.reason_code is None


# --- random sequences ----------------------------------------------------------------------

_EVENTS = st.sampled_from([
    OrderEvent(E.ORDER_SUBMITTED),
    OrderEvent(E.ORDER_ACCEPTED, broker_order_id="B-9"),
    OrderEvent(E.ORDER_UPDATED, broker_status="TRIGGER PENDING"),
    OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=3),
    OrderEvent(E.ORDER_PARTIALLY_FILLED, filled_quantity=7),
    OrderEvent(E.ORDER_FILLED),
    OrderEvent(E.ORDER_REJECTED, rejection_reason="RMS:Blocked"),
    OrderEvent(E.ORDER_CANCEL_REQUESTED),
    OrderEvent(E.ORDER_CANCEL_REJECTED),
    OrderEvent(E.ORDER_CANCELLED, cancelled_by=CancelledBy.BROKER),
    OrderEvent(E.ORDER_MODIFY_REQUESTED),
    OrderEvent(E.ORDER_MODIFY_REJECTED),
    OrderEvent(E.ORDER_MODIFIED, price=Decimal("2400")),
    OrderEvent(E.ORDER_EXPIRED),
    OrderEvent(E.ORDER_FAILED, reason_code=ReasonCode.LOST),
    OrderEvent(E.ORDER_RETRY_SCHEDULED, next_retry_at=NOW),
    OrderEvent(E.ORDER_DROPPED),
    OrderEvent(E.ORDER_DENIED, reason_code=ReasonCode.GUARD_BLOCKED),
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENTS, max_size=25))
def test_random_event_sequences_keep_every_invariant(events: list[OrderEvent]) -> None:
    order = make_order(S.CREATED)
    for event in events:
        before = copy.deepcopy(order)
        try:
            result = apply_event(order, event, NOW)
        except InvalidEvent:
            assert order == before
            continue
        new = result.order
        assert is_allowed(order.status, new.status)
        assert new.version == order.version + 1
        assert order.filled_quantity <= new.filled_quantity <= new.quantity
        assert (new.status is S.FILLED) == (new.filled_quantity == new.quantity)
        assert (new.closed_at is not None) == (new.status in FINAL_STATUSES)
        order = new


def test_a_requested_cancel_remembers_who_asked() -> None:
    from tradewarden.domain.lifecycle import CANCEL_REQUESTED_BY

    pending = apply_event(make_order(S.OPEN), OrderEvent(
        E.ORDER_CANCEL_REQUESTED, cancelled_by=CancelledBy.USER), NOW).order
    assert pending.extra[CANCEL_REQUESTED_BY] == "user"
