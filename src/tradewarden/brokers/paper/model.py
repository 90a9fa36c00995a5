"""The simulator's mutable state objects: orders, positions, holdings, accounts, prices.

Only :mod:`tradewarden.brokers.paper.exchange` mutates them (under its lock); everything that
leaves the simulator is a frozen snapshot from :mod:`tradewarden.brokers.base`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewarden.brokers.base import BrokerOrder, Holding, Position
from tradewarden.brokers.paper.statuses import FINAL, WORKING, PaperStatus, map_paper_status
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.money import ZERO, rupees
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety

START_CASH = Decimal("1000000")


@dataclass(slots=True, eq=False)
class SimOrder:
    """One order inside the simulator."""

    broker_order_id: str
    account: str
    tag: str | None
    exchange: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    variety: Variety
    validity: Validity
    price: Decimal | None
    trigger_price: Decimal | None
    status: PaperStatus
    placed_at: datetime
    updated_at: datetime
    priority: int
    day: int
    filled_quantity: int = 0
    filled_value: Decimal = ZERO
    rejection_reason: str | None = None
    status_message: str | None = None
    admitted: bool = False  # funds checked and margin blocked
    triggered: bool = False  # stop orders: trigger reached
    priced: bool = False  # has met a price since admission (else it executes as arriving)
    blocked: Decimal = ZERO  # margin currently blocked by this order
    hidden_until: float = 0.0  # monotonic time before which lookups do not see it (faults)
    _snapshot: BrokerOrder | None = field(default=None, repr=False)

    @property
    def key(self) -> InstrumentKey:
        return InstrumentKey(self.exchange, self.symbol)

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled_quantity

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def average_price(self) -> Decimal:
        if not self.filled_quantity:
            return ZERO
        return rupees(self.filled_value / self.filled_quantity)

    def touch(self, now: datetime) -> None:
        """Mark changed: new update time, snapshot cache dropped."""
        self.updated_at = now
        self._snapshot = None

    def snapshot(self) -> BrokerOrder:
        """The order as the broker shows it now (cached until the next change)."""
        if self._snapshot is None:
            self._snapshot = BrokerOrder(
                broker_order_id=self.broker_order_id,
                tag=self.tag,
                exchange=self.exchange,
                symbol=self.symbol,
                side=self.side,
                quantity=self.quantity,
                filled_quantity=self.filled_quantity,
                average_price=self.average_price,
                price=self.price,
                trigger_price=self.trigger_price,
                order_type=self.order_type,
                product=self.product,
                variety=self.variety,
                validity=self.validity,
                raw_status=self.status.value,
                status=map_paper_status(
                    self.status.value,
                    filled_quantity=self.filled_quantity,
                    quantity=self.quantity,
                ),
                rejection_reason=self.rejection_reason,
                status_message=self.status_message,
                placed_at=self.placed_at,
                updated_at=self.updated_at,
            )
        return self._snapshot

    def to_state(self) -> dict[str, Any]:
        return {
            "broker_order_id": self.broker_order_id,
            "account": self.account,
            "tag": self.tag,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": self.quantity,
            "order_type": self.order_type.value,
            "product": self.product.value,
            "variety": self.variety.value,
            "validity": self.validity.value,
            "price": _s(self.price),
            "trigger_price": _s(self.trigger_price),
            "status": self.status.value,
            "placed_at": self.placed_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "priority": self.priority,
            "day": self.day,
            "filled_quantity": self.filled_quantity,
            "filled_value": str(self.filled_value),
            "rejection_reason": self.rejection_reason,
            "status_message": self.status_message,
            "admitted": self.admitted,
            "triggered": self.triggered,
            "priced": self.priced,
            "blocked": str(self.blocked),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> SimOrder:
        return cls(
            broker_order_id=d["broker_order_id"],
            account=d["account"],
            tag=d["tag"],
            exchange=d["exchange"],
            symbol=d["symbol"],
            side=Side(d["side"]),
            quantity=int(d["quantity"]),
            order_type=OrderType(d["order_type"]),
            product=Product(d["product"]),
            variety=Variety(d["variety"]),
            validity=Validity(d["validity"]),
            price=_d(d["price"]),
            trigger_price=_d(d["trigger_price"]),
            status=PaperStatus(d["status"]),
            placed_at=datetime.fromisoformat(d["placed_at"]),
            updated_at=datetime.fromisoformat(d["updated_at"]),
            priority=int(d["priority"]),
            day=int(d["day"]),
            filled_quantity=int(d["filled_quantity"]),
            filled_value=Decimal(d["filled_value"]),
            rejection_reason=d["rejection_reason"],
            status_message=d["status_message"],
            admitted=bool(d["admitted"]),
            triggered=bool(d["triggered"]),
            priced=bool(d.get("priced", False)),
            blocked=Decimal(d["blocked"]),
        )


@dataclass(slots=True)
class PositionState:
    """Today's trades in one (instrument, product), plus quantity carried from earlier days."""

    exchange: str
    symbol: str
    product: Product
    buy_quantity: int = 0
    buy_value: Decimal = ZERO
    sell_quantity: int = 0
    sell_value: Decimal = ZERO
    net_quantity: int = 0
    net_average: Decimal = ZERO  # cost basis of the open net quantity
    realised: Decimal = ZERO

    def apply(self, side: Side, quantity: int, price: Decimal) -> Decimal:
        """Add a fill; returns the P&L it realised (average-cost method)."""
        value = price * quantity
        if side is Side.BUY:
            self.buy_quantity += quantity
            self.buy_value += value
        else:
            self.sell_quantity += quantity
            self.sell_value += value
        signed = quantity if side is Side.BUY else -quantity
        realised = ZERO
        net = self.net_quantity
        if net == 0 or (net > 0) == (signed > 0):
            total = abs(net) + quantity
            self.net_average = (self.net_average * abs(net) + value) / total
            self.net_quantity = net + signed
        else:
            closing = min(quantity, abs(net))
            direction = 1 if net > 0 else -1
            realised = (price - self.net_average) * closing * direction
            self.net_quantity = net + signed
            if self.net_quantity == 0:
                self.net_average = ZERO
            elif (self.net_quantity > 0) != (net > 0):
                self.net_average = price  # crossed through zero: the rest opens at this price
        self.realised += realised
        return realised

    def carried(self) -> PositionState:
        """The state that opens the next trading day (net quantity at its cost)."""
        fresh = PositionState(self.exchange, self.symbol, self.product)
        if self.net_quantity:
            side = Side.BUY if self.net_quantity > 0 else Side.SELL
            fresh.apply(side, abs(self.net_quantity), self.net_average)
        return fresh

    def view(self, last_price: Decimal | None) -> Position:
        unrealised = ZERO
        if last_price is not None and self.net_quantity:
            unrealised = (last_price - self.net_average) * self.net_quantity
        return Position(
            exchange=self.exchange,
            symbol=self.symbol,
            product=self.product,
            quantity=self.net_quantity,
            buy_quantity=self.buy_quantity,
            sell_quantity=self.sell_quantity,
            buy_average=_avg(self.buy_value, self.buy_quantity),
            sell_average=_avg(self.sell_value, self.sell_quantity),
            average_price=rupees(self.net_average),
            last_price=last_price,
            realised_pnl=rupees(self.realised),
            unrealised_pnl=rupees(unrealised),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "product": self.product.value,
            "buy_quantity": self.buy_quantity,
            "buy_value": str(self.buy_value),
            "sell_quantity": self.sell_quantity,
            "sell_value": str(self.sell_value),
            "net_quantity": self.net_quantity,
            "net_average": str(self.net_average),
            "realised": str(self.realised),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> PositionState:
        return cls(
            exchange=d["exchange"],
            symbol=d["symbol"],
            product=Product(d["product"]),
            buy_quantity=int(d["buy_quantity"]),
            buy_value=Decimal(d["buy_value"]),
            sell_quantity=int(d["sell_quantity"]),
            sell_value=Decimal(d["sell_value"]),
            net_quantity=int(d["net_quantity"]),
            net_average=Decimal(d["net_average"]),
            realised=Decimal(d["realised"]),
        )


@dataclass(slots=True)
class HoldingState:
    """Settled delivery quantity of one instrument."""

    exchange: str
    symbol: str
    quantity: int
    average_price: Decimal

    def to_state(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "symbol": self.symbol,
            "quantity": self.quantity,
            "average_price": str(self.average_price),
        }

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> HoldingState:
        return cls(d["exchange"], d["symbol"], int(d["quantity"]), Decimal(d["average_price"]))

    def view(self, used: int, last_price: Decimal | None) -> Holding:
        return Holding(
            exchange=self.exchange,
            symbol=self.symbol,
            quantity=self.quantity,
            used_quantity=used,
            average_price=rupees(self.average_price),
            last_price=last_price,
        )


PositionKey = tuple[str, str, Product]  # exchange, symbol, product
HoldingKey = tuple[str, str]  # exchange, symbol


@dataclass(slots=True)
class AccountState:
    """One broker-side account: cash ledger, blocked margin, positions and holdings."""

    name: str
    cash: Decimal = START_CASH
    blocked: Decimal = ZERO  # sum of SimOrder.blocked over its working orders (not persisted)
    positions: dict[PositionKey, PositionState] = field(default_factory=dict)
    holdings: dict[HoldingKey, HoldingState] = field(default_factory=dict)

    def position(self, exchange: str, symbol: str, product: Product) -> PositionState:
        key = (exchange, symbol, product)
        found = self.positions.get(key)
        if found is None:
            found = self.positions[key] = PositionState(exchange, symbol, product)
        return found

    def to_state(self) -> dict[str, Any]:
        return {"name": self.name, "cash": str(self.cash)}


@dataclass(slots=True)
class PriceState:
    """The last traded price of an instrument and the quantity still available at it."""

    last_price: Decimal
    volume_left: int | None  # None: unlimited
    at: datetime


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _avg(value: Decimal, quantity: int) -> Decimal:
    return rupees(value / quantity) if quantity else ZERO
