"""The order model (BRIEF §3.2) and its vocabulary. Pure data; changes go through lifecycle."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tradewarden.domain.money import ZERO
from tradewarden.domain.statuses import OrderStatus


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"
    SL_M = "SL-M"


class Product(StrEnum):
    CNC = "CNC"
    MIS = "MIS"
    NRML = "NRML"


class Variety(StrEnum):
    REGULAR = "regular"
    AMO = "amo"


class Validity(StrEnum):
    DAY = "DAY"
    IOC = "IOC"


class Origin(StrEnum):
    API = "api"
    WEBHOOK = "webhook"
    OPENALGO = "openalgo"
    TRADE_EXIT = "trade_exit"
    RETRY = "retry"
    EXTERNAL = "external"


class ExecutionType(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class CancelledBy(StrEnum):
    SYSTEM = "system"
    USER = "user"
    MANUAL = "manual"
    BROKER = "broker"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Every 10-bit value as its two Crockford characters: ids are built two characters a step.
_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)


def _base32(value: int, length: int) -> str:
    """The low ``5 * length`` bits of ``value`` as ``length`` Crockford base32 characters."""
    pairs = []
    for _ in range(length // 2):
        value, pair = divmod(value, 1024)
        pairs.append(_PAIRS[pair])
    if length % 2:
        pairs.append(_CROCKFORD[value % 32])
    return "".join(reversed(pairs))


class _RandomPool:
    """Random bytes from the OS, fetched in blocks: one ``os.urandom`` call per id would hand
    the GIL away twice per order on the hot intake path."""

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._buffer = b""
        self._lock = threading.Lock()

    def take(self, count: int) -> bytes:
        with self._lock:
            if len(self._buffer) < count:
                self._buffer = os.urandom(self._block)
            chunk, self._buffer = self._buffer[:count], self._buffer[count:]
            return chunk


_random = _RandomPool()


def new_order_id() -> str:
    """A 26-character, time-sortable, unique order id (ULID layout)."""
    return _base32(time.time_ns() // 1_000_000, 10) + _base32(
        int.from_bytes(_random.take(10), "big"), 16
    )


#: Every client order id (broker tag) Tradewarden generates starts with this.
CLIENT_ORDER_ID_PREFIX = "TW"


def new_client_order_id() -> str:
    """A 20-character alphanumeric id sent to the broker as the order tag.

    Brokers cap tags at 20 characters (Zerodha) and some accept alphanumerics only.
    """
    return CLIENT_ORDER_ID_PREFIX + _base32(time.time_ns() // 1_000_000, 9) + _base32(
        int.from_bytes(_random.take(6), "big"), 9
    )


@dataclass(slots=True)
class Order:
    """An order as Tradewarden knows it. Only ``lifecycle.apply_event`` changes its state."""

    id: str
    user_id: int
    account_id: int
    client_order_id: str
    exchange: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    created_at: datetime
    updated_at: datetime
    status: OrderStatus = OrderStatus.CREATED
    strategy_id: int | None = None
    strategy_label: str | None = None
    alert_id: str | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    variety: Variety = Variety.REGULAR
    validity: Validity = Validity.DAY
    origin: Origin = Origin.API
    execution_type: ExecutionType = ExecutionType.ENTRY
    idempotency_key: str | None = None
    broker_order_id: str | None = None
    broker_status: str | None = None
    filled_quantity: int = 0
    average_price: Decimal = ZERO
    reason_code: str | None = None
    reason: str | None = None
    rejection_reason: str | None = None
    cancelled_by: CancelledBy | None = None
    prior_status: OrderStatus | None = None
    retry_count: int = 0
    first_failed_at: datetime | None = None
    last_retry_at: datetime | None = None
    next_retry_at: datetime | None = None
    last_status_check_at: datetime | None = None
    closed_at: datetime | None = None
    version: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.filled_quantity
