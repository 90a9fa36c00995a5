"""Response models of the native API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from tradewarden.store.tables import FillRow, OrderEventRow, OrderRow


class OrderOut(BaseModel):
    orderid: str
    id: str
    client_order_id: str
    broker_order_id: str | None
    account_id: int
    strategy_id: int | None
    strategy: str | None
    exchange: str
    symbol: str
    side: str
    quantity: int
    filled_quantity: int
    average_price: Decimal
    order_type: str
    product: str
    price: Decimal | None
    trigger_price: Decimal | None
    variety: str
    validity: str
    status: str
    broker_status: str | None
    reason_code: str | None
    reason: str | None
    rejection_reason: str | None
    cancelled_by: str | None
    origin: str
    execution_type: str
    retry_count: int
    first_failed_at: datetime | None
    last_retry_at: datetime | None
    next_retry_at: datetime | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int

    @classmethod
    def of(cls, row: OrderRow) -> OrderOut:
        return cls(
            orderid=row.id, id=row.id, client_order_id=row.client_order_id,
            broker_order_id=row.broker_order_id, account_id=row.account_id,
            strategy_id=row.strategy_id, strategy=row.strategy_label, exchange=row.exchange,
            symbol=row.symbol, side=row.side, quantity=row.quantity,
            filled_quantity=row.filled_quantity, average_price=row.average_price,
            order_type=row.order_type, product=row.product, price=row.price,
            trigger_price=row.trigger_price, variety=row.variety, validity=row.validity,
            status=row.status, broker_status=row.broker_status, reason_code=row.reason_code,
            reason=row.reason, rejection_reason=row.rejection_reason,
            cancelled_by=row.cancelled_by, origin=row.origin,
            execution_type=row.execution_type, retry_count=row.retry_count,
            first_failed_at=row.first_failed_at, last_retry_at=row.last_retry_at,
            next_retry_at=row.next_retry_at, created_at=row.created_at,
            updated_at=row.updated_at, closed_at=row.closed_at, version=row.version,
        )


class EventOut(BaseModel):
    sequence: int
    type: str
    source: str
    from_status: str | None
    to_status: str
    payload: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: OrderEventRow) -> EventOut:
        return cls(sequence=row.sequence, type=row.type, source=row.source,
                   from_status=row.from_status, to_status=row.to_status,
                   payload=row.payload, created_at=row.created_at)


class FillOut(BaseModel):
    fill_id: str
    quantity: int
    price: Decimal
    filled_at: datetime

    @classmethod
    def of(cls, row: FillRow) -> FillOut:
        return cls(fill_id=row.broker_fill_id, quantity=row.quantity, price=row.price,
                   filled_at=row.filled_at)


class OrderDetail(OrderOut):
    events: list[EventOut]
    fills: list[FillOut]


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    page: int
    page_size: int
    total_pages: int
