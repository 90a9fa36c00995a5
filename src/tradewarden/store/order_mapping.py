"""Translate between the domain ``Order`` and the ``orders`` row."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from tradewarden.domain.orders import (
    CancelledBy,
    ExecutionType,
    Order,
    OrderType,
    Origin,
    Product,
    Side,
    Validity,
    Variety,
)
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.store.tables import OrderRow

# Columns copied verbatim between the two shapes (enums are stored as their string values).
_COLUMNS = (
    "id", "user_id", "account_id", "strategy_id", "strategy_label", "alert_id",
    "client_order_id",
    "idempotency_key", "broker_order_id", "exchange", "symbol", "side", "quantity",
    "filled_quantity", "average_price", "order_type", "product", "price", "trigger_price",
    "variety", "validity", "status", "prior_status", "broker_status", "reason_code", "reason",
    "rejection_reason", "cancelled_by", "origin", "execution_type", "retry_count",
    "first_failed_at", "last_retry_at", "next_retry_at", "last_status_check_at", "created_at",
    "updated_at", "closed_at", "version", "extra",
)  # fmt: skip


_column_values = attrgetter(*_COLUMNS)
_ENUMS: tuple[type[Enum], ...] = (CancelledBy, ExecutionType, OrderType, Origin, Product, Side,
                                  Validity, Variety, OrderStatus, ReasonCode)
#: Every enum member an order field can hold → its plain value (a dict lookup is much cheaper
#: than the enum's ``value`` property, and this runs for every order the ledger writes).
_PLAIN: dict[Any, Any] = {member: member.value for kind in _ENUMS for member in kind}
_VERBATIM = frozenset({str, int, type(None), Decimal, datetime, dict, bool})


def order_values(order: Order) -> dict[str, Any]:
    """Column values for ``order`` (enums as plain strings)."""
    values: dict[str, Any] = {}
    for name, value in zip(_COLUMNS, _column_values(order), strict=True):
        kind = type(value)
        if kind in _VERBATIM:
            values[name] = value
        elif kind in _ENUMS:
            values[name] = _PLAIN[value]
        else:
            values[name] = value.value if hasattr(value, "value") else value
    return values


def order_from_row(row: OrderRow | Row[Any]) -> Order:
    """The domain order held in ``row`` (an ORM object or a Core row of ``orders``)."""
    return Order(
        id=row.id,
        user_id=row.user_id,
        account_id=row.account_id,
        strategy_id=row.strategy_id,
        strategy_label=row.strategy_label,
        alert_id=row.alert_id,
        client_order_id=row.client_order_id,
        idempotency_key=row.idempotency_key,
        broker_order_id=row.broker_order_id,
        exchange=row.exchange,
        symbol=row.symbol,
        side=Side(row.side),
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        average_price=row.average_price,
        order_type=OrderType(row.order_type),
        product=Product(row.product),
        price=row.price,
        trigger_price=row.trigger_price,
        variety=Variety(row.variety),
        validity=Validity(row.validity),
        status=OrderStatus(row.status),
        prior_status=OrderStatus(row.prior_status) if row.prior_status else None,
        broker_status=row.broker_status,
        reason_code=row.reason_code,
        reason=row.reason,
        rejection_reason=row.rejection_reason,
        cancelled_by=CancelledBy(row.cancelled_by) if row.cancelled_by else None,
        origin=Origin(row.origin),
        execution_type=ExecutionType(row.execution_type),
        retry_count=row.retry_count,
        first_failed_at=row.first_failed_at,
        last_retry_at=row.last_retry_at,
        next_retry_at=row.next_retry_at,
        last_status_check_at=row.last_status_check_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        version=row.version,
        extra=dict(row.extra or {}),
    )


def load_order(session: Session, order_id: str, user_id: int | None = None) -> Order | None:
    """One order by id (scoped to ``user_id`` when given), or ``None``."""
    query = select(OrderRow.__table__).where(OrderRow.id == order_id)
    if user_id is not None:
        query = query.where(OrderRow.user_id == user_id)
    row = session.execute(query).first()
    return order_from_row(row) if row is not None else None


def load_orders(session: Session, order_ids: list[str]) -> dict[str, Order]:
    """Orders by id, in one query (missing ids are absent)."""
    if not order_ids:
        return {}
    rows = session.execute(select(OrderRow.__table__).where(OrderRow.id.in_(order_ids)))
    return {order.id: order for order in map(order_from_row, rows)}
