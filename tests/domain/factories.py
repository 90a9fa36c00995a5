"""Builders for domain objects used across tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradewarden.domain.events import EventType, OrderEvent
from tradewarden.domain.orders import (
    CancelledBy,
    Order,
    OrderType,
    Product,
    Side,
    new_client_order_id,
    new_order_id,
)
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
QUANTITY = 10


def make_order(status: OrderStatus = OrderStatus.CREATED, **fields: Any) -> Order:
    """An order placed in ``status`` with consistent quantities for that status."""
    order = Order(
        id=new_order_id(), user_id=1, account_id=1, client_order_id=new_client_order_id(),
        exchange="NSE", symbol="RELIANCE", side=Side.BUY, quantity=QUANTITY,
        order_type=OrderType.LIMIT, product=Product.CNC, price=Decimal("2500.05"),
        created_at=NOW, updated_at=NOW, status=status, version=1,
    )
    if status is not OrderStatus.CREATED:
        order.broker_order_id = "B-1"
    if status is OrderStatus.PARTIALLY_FILLED:
        order.filled_quantity = 1
    if status is OrderStatus.FILLED:
        order.filled_quantity = QUANTITY
    if status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_MODIFY):
        order.prior_status = OrderStatus.OPEN
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def event_targeting(target: OrderStatus, order: Order) -> OrderEvent | None:
    """An event whose fixed target is ``target`` (None for ``created``: no event creates)."""
    E = EventType
    S = OrderStatus
    builders: dict[OrderStatus, OrderEvent] = {
        S.DENIED: OrderEvent(E.ORDER_DENIED, reason_code=ReasonCode.RISK_BLOCKED),
        S.SUBMITTING: OrderEvent(E.ORDER_SUBMITTED),
        S.OPEN: OrderEvent(E.ORDER_ACCEPTED, broker_order_id="B-1", broker_status="OPEN"),
        S.PARTIALLY_FILLED: OrderEvent(E.ORDER_PARTIALLY_FILLED,
                                       filled_quantity=order.filled_quantity + 1,
                                       average_price=Decimal("2500")),
        S.FILLED: OrderEvent(E.ORDER_FILLED, filled_quantity=order.quantity,
                             average_price=Decimal("2500")),
        S.REJECTED: OrderEvent(E.ORDER_REJECTED, rejection_reason="RMS:Margin Exceeds"),
        S.PENDING_CANCEL: OrderEvent(E.ORDER_CANCEL_REQUESTED),
        S.PENDING_MODIFY: OrderEvent(E.ORDER_MODIFY_REQUESTED, price=Decimal("2490")),
        S.CANCELLED: OrderEvent(E.ORDER_CANCELLED, cancelled_by=CancelledBy.SYSTEM),
        S.EXPIRED: OrderEvent(E.ORDER_EXPIRED),
        S.FAILED: OrderEvent(E.ORDER_FAILED, reason_code=ReasonCode.BROKER_UNAVAILABLE),
        S.RETRY_PENDING: OrderEvent(E.ORDER_RETRY_SCHEDULED, next_retry_at=NOW),
    }
    return builders.get(target)
