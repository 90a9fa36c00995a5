"""Typed records of the legacy files: what each input row says, or why it cannot be used."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewarden.domain.orders import ExecutionType, OrderType, Product, Side, Variety
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus


class Section(StrEnum):
    """Where a row came from; part of every imported order's idempotency key."""

    PENDING_ORDERS = "pending_orders"  # pending_orders.json "orders"
    TRADES = "trades"  # trades_history.json "trades"
    FAILED_ORDERS = "failed_orders"  # trades_history.json "failed_orders"


@dataclass(frozen=True, slots=True)
class RowRef:
    """One input row: its section, 1-based position, and legacy id when it has one."""

    section: Section
    number: int
    legacy_id: str | None = None

    def __str__(self) -> str:
        label = f"{self.section.value} row {self.number}"
        return f"{label} ({self.legacy_id})" if self.legacy_id else label


@dataclass(frozen=True, slots=True)
class LegacyOrder:
    """One order a legacy row describes, normalised (canonical symbol, Decimal, UTC)."""

    key: str  # idempotency key: legacy:<section>:<legacy id>[:exit]
    side: Side
    exchange: str
    symbol: str
    quantity: int
    order_type: OrderType
    product: Product
    variety: Variety
    status: OrderStatus  # the status the import brings the order to
    placed_at: datetime
    settled_at: datetime  # when the legacy status was last seen (>= placed_at)
    broker_status: str | None = None
    broker_order_id: str | None = None
    price: Decimal | None = None
    filled_quantity: int = 0
    average_price: Decimal | None = None
    reason_code: ReasonCode | None = None
    reason: str | None = None
    execution_type: ExecutionType = ExecutionType.ENTRY
    retry_count: int = 0


@dataclass(frozen=True, slots=True)
class LegacyRow:
    """A usable row: the order(s) it becomes (a closed trade is an entry and an exit)."""

    ref: RowRef
    orders: tuple[LegacyOrder, ...]
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InvalidRow:
    ref: RowRef
    reason: str


@dataclass(slots=True)
class ParsedSection:
    """Everything read from one section of one file; ``total`` counts every input row."""

    section: Section
    file: str
    rows: list[LegacyRow] = field(default_factory=list)
    invalid: list[InvalidRow] = field(default_factory=list)
    total: int = 0

    @property
    def label(self) -> str:
        return f"{self.file} [{self.section.value}]"


class MalformedFile(Exception):
    """The file is not JSON of the expected shape; nothing from it can be imported."""
