"""An order intent: a signal translated into one order request, before it is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradewarden.domain.orders import (
    ExecutionType,
    OrderType,
    Origin,
    Product,
    Side,
    Validity,
    Variety,
)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a signal asks for. Intake records it as a ``created`` order, then guards it."""

    account_id: int
    exchange: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    product: Product = Product.MIS
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    variety: Variety = Variety.REGULAR
    validity: Validity = Validity.DAY
    origin: Origin = Origin.API
    execution_type: ExecutionType = ExecutionType.ENTRY
    strategy_id: int | None = None
    strategy_label: str | None = None
    idempotency_key: str | None = None
    #: Position-aware guards (cross-strategy conflict, already holding): on for configured
    #: strategies, off for OpenAlgo's free-text strategy label (BRIEF §3.3).
    position_guards: bool = False
    #: May become an AMO order when the market is closed.
    allow_amo: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
