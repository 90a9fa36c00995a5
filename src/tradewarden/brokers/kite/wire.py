"""Kite Connect v3 JSON ↔ our broker types (pure functions, no I/O).

Kite answers with numbers (parsed as ``Decimal`` by the client, never float), timestamps as
``"YYYY-MM-DD HH:MM:SS"`` in IST, and names instruments by ``exchange`` + ``tradingsymbol``;
:class:`KiteSymbols` maps those to our canonical :class:`InstrumentKey` and back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from tradewarden.brokers.base import (
    BrokerFill,
    BrokerOrder,
    Funds,
    Holding,
    ModifyRequest,
    OrderRequest,
    OrderUpdate,
    Position,
)
from tradewarden.brokers.kite import table
from tradewarden.clock import IST, utcnow
from tradewarden.domain.instruments import InstrumentKey
from tradewarden.domain.orders import Side
from tradewarden.domain.statuses import OrderStatus

ZERO = Decimal(0)


class WireError(ValueError):
    """A Kite answer lacks a field we need or holds a value we cannot read."""


class KiteSymbols(Protocol):
    """Maps our canonical instruments to Kite's ``tradingsymbol`` and back."""

    def to_kite(self, key: InstrumentKey) -> str: ...

    def from_kite(self, exchange: str, tradingsymbol: str) -> InstrumentKey: ...


class EquitySymbols:
    """The default map: Kite's equity symbols are ours (``INFY``); a series suffix such as
    ``-BE`` is dropped on the way in. Derivatives need the instrument master's map."""

    def to_kite(self, key: InstrumentKey) -> str:
        return key.symbol

    def from_kite(self, exchange: str, tradingsymbol: str) -> InstrumentKey:
        return InstrumentKey.of(exchange, tradingsymbol)


# ---- field readers ----------------------------------------------------------------------


def _field(data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise WireError(f"missing {name!r}")
    return data[name]


def _text(data: dict[str, Any], name: str) -> str:
    value = _field(data, name)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise WireError(f"{name!r} is not a string")
    return value


def _opt_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def dec(value: Any, name: str = "value") -> Decimal:
    """A JSON number (``Decimal``/``int``, or a numeric string) as ``Decimal``."""
    if isinstance(value, bool) or value is None:
        raise WireError(f"{name!r} is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise WireError(f"{name!r} is not a number") from exc
    raise WireError(f"{name!r} is not a number")


def _dec(data: dict[str, Any], name: str, default: Decimal | None = None) -> Decimal:
    value = data.get(name)
    if value is None:
        if default is not None:
            return default
        raise WireError(f"missing {name!r}")
    return dec(value, name)


def _int(data: dict[str, Any], name: str, default: int | None = None) -> int:
    value = data.get(name)
    if value is None and default is not None:
        return default
    number = dec(value, name)
    if number != number.to_integral_value():
        raise WireError(f"{name!r} is not a whole number")
    return int(number)


def _price(data: dict[str, Any], name: str) -> Decimal | None:
    """Kite sends 0 for "no price" (MARKET orders, no trigger)."""
    value = data.get(name)
    if value is None:
        return None
    number = dec(value, name)
    return number if number != 0 else None


def parse_time(value: Any) -> datetime | None:
    """Kite's ``"YYYY-MM-DD HH:MM:SS"`` (IST) as an aware UTC datetime; ``None`` if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        local = datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=IST)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        local = parsed if parsed.tzinfo else parsed.replace(tzinfo=IST)
    return local.astimezone(UTC)


def _side(data: dict[str, Any]) -> Side:
    raw = _text(data, "transaction_type").upper()
    try:
        return Side(raw)
    except ValueError as exc:
        raise WireError(f"unknown transaction_type {raw!r}") from exc


def tag_of(data: dict[str, Any]) -> str | None:
    """The order's client tag (see :func:`tradewarden.brokers.kite.table.client_tag`)."""
    return table.client_tag(data.get("tag"), data.get("tags"))


# ---- orders -----------------------------------------------------------------------------


def order_from_kite(data: Any, symbols: KiteSymbols) -> BrokerOrder:
    """One entry of ``GET /orders``, ``GET /orders/{id}`` or an order update."""
    if not isinstance(data, dict):
        raise WireError("order is not an object")
    exchange = _text(data, "exchange").upper()
    key = symbols.from_kite(exchange, _text(data, "tradingsymbol"))
    quantity = _int(data, "quantity")
    filled = _int(data, "filled_quantity", 0)
    raw_status = _text(data, "status")
    status = table.map_status(raw_status, filled_quantity=filled, quantity=quantity)
    message = _opt_text(data, "status_message")
    placed = parse_time(data.get("order_timestamp")) or utcnow()
    updated = (
        parse_time(data.get("exchange_update_timestamp"))
        or parse_time(data.get("exchange_timestamp"))
        or placed
    )
    try:
        order_type = table.order_type_from_kite(_text(data, "order_type"))
    except ValueError as exc:
        raise WireError(str(exc)) from exc
    return BrokerOrder(
        broker_order_id=_text(data, "order_id"),
        tag=tag_of(data),
        exchange=key.exchange,
        symbol=key.symbol,
        side=_side(data),
        quantity=quantity,
        filled_quantity=filled,
        average_price=_dec(data, "average_price", ZERO),
        price=_price(data, "price"),
        trigger_price=_price(data, "trigger_price"),
        order_type=order_type,
        product=table.product_from_kite(_text(data, "product")),
        variety=table.variety_from_kite(str(data.get("variety") or "regular")),
        validity=table.validity_from_kite(str(data.get("validity") or "DAY")),
        raw_status=raw_status,
        status=status,
        rejection_reason=message if status is OrderStatus.REJECTED else None,
        status_message=message,
        placed_at=placed,
        updated_at=max(updated, placed),
    )


def update_from_kite(data: Any, symbols: KiteSymbols) -> OrderUpdate:
    """A websocket ``{"type": "order", "data": …}`` payload (the postback format).

    Kite's update carries the order's filled quantity and average price but no trade id, so
    ``fill`` is ``None``: fills are read from the order state and the trade book.
    """
    return OrderUpdate(order=order_from_kite(data, symbols))


def fill_from_kite(data: Any, symbols: KiteSymbols) -> BrokerFill:
    """One entry of ``GET /trades``. The fill id is ``exchange:trade_id`` (trade ids are the
    exchange's, unique within it)."""
    if not isinstance(data, dict):
        raise WireError("trade is not an object")
    exchange = _text(data, "exchange").upper()
    key = symbols.from_kite(exchange, _text(data, "tradingsymbol"))
    filled_at = (
        parse_time(data.get("fill_timestamp"))
        or parse_time(data.get("exchange_timestamp"))
        or utcnow()
    )
    return BrokerFill(
        fill_id=f"{exchange}:{_text(data, 'trade_id')}",
        broker_order_id=_text(data, "order_id"),
        tag=tag_of(data),
        exchange=key.exchange,
        symbol=key.symbol,
        side=_side(data),
        quantity=_int(data, "quantity"),
        price=_dec(data, "average_price"),
        product=table.product_from_kite(_text(data, "product")),
        filled_at=filled_at,
    )


# ---- portfolio --------------------------------------------------------------------------


def position_from_kite(data: Any, symbols: KiteSymbols) -> Position:
    """One entry of ``GET /portfolio/positions`` → ``net``."""
    if not isinstance(data, dict):
        raise WireError("position is not an object")
    key = symbols.from_kite(_text(data, "exchange").upper(), _text(data, "tradingsymbol"))
    last = data.get("last_price")
    return Position(
        exchange=key.exchange,
        symbol=key.symbol,
        product=table.product_from_kite(_text(data, "product")),
        quantity=_int(data, "quantity"),
        buy_quantity=_int(data, "buy_quantity", 0),
        sell_quantity=_int(data, "sell_quantity", 0),
        buy_average=_dec(data, "buy_price", ZERO),
        sell_average=_dec(data, "sell_price", ZERO),
        average_price=_dec(data, "average_price", ZERO),
        last_price=dec(last, "last_price") if last is not None else None,
        realised_pnl=_dec(data, "realised", ZERO),
        unrealised_pnl=_dec(data, "unrealised", ZERO),
    )


def holding_from_kite(data: Any, symbols: KiteSymbols) -> Holding:
    """One entry of ``GET /portfolio/holdings``; T1 (bought yesterday) counts as held."""
    if not isinstance(data, dict):
        raise WireError("holding is not an object")
    key = symbols.from_kite(_text(data, "exchange").upper(), _text(data, "tradingsymbol"))
    last = data.get("last_price")
    return Holding(
        exchange=key.exchange,
        symbol=key.symbol,
        quantity=_int(data, "quantity") + _int(data, "t1_quantity", 0),
        used_quantity=_int(data, "used_quantity", 0),
        average_price=_dec(data, "average_price", ZERO),
        last_price=dec(last, "last_price") if last is not None else None,
    )


def funds_from_kite(data: Any) -> Funds:
    """``GET /user/margins``: the enabled segments (equity, commodity) added up."""
    if not isinstance(data, dict):
        raise WireError("margins is not an object")
    cash = available = used = realised = unrealised = ZERO
    segments = [s for s in (data.get("equity"), data.get("commodity")) if isinstance(s, dict)]
    if not segments:
        raise WireError("margins without a segment")
    for segment in segments:
        if segment.get("enabled") is False:
            continue
        avail = segment.get("available") if isinstance(segment.get("available"), dict) else {}
        utilised = segment.get("utilised") if isinstance(segment.get("utilised"), dict) else {}
        assert isinstance(avail, dict) and isinstance(utilised, dict)
        cash += _dec(avail, "cash", ZERO)
        available += _dec(segment, "net", ZERO)
        used += _dec(utilised, "debits", ZERO)
        realised += _dec(utilised, "m2m_realised", ZERO)
        unrealised += _dec(utilised, "m2m_unrealised", ZERO)
    return Funds(
        cash=cash,
        available=available,
        used_margin=used,
        realised_pnl=realised,
        unrealised_pnl=unrealised,
    )


# ---- requests ---------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


def order_form(
    request: OrderRequest, symbols: KiteSymbols, *, market_protection: Decimal
) -> dict[str, str]:
    """The form body of ``POST /orders/{variety}``."""
    form = {
        "exchange": request.exchange.upper(),
        "tradingsymbol": symbols.to_kite(InstrumentKey.of(request.exchange, request.symbol)),
        "transaction_type": request.side.value,
        "quantity": str(request.quantity),
        "product": table.PRODUCTS[request.product],
        "order_type": table.ORDER_TYPES[request.order_type],
        "validity": table.VALIDITIES[request.validity],
    }
    if request.price is not None:
        form["price"] = _number(request.price)
    if request.trigger_price is not None:
        form["trigger_price"] = _number(request.trigger_price)
    if request.order_type in table.PROTECTED_ORDER_TYPES:
        form["market_protection"] = _number(market_protection)
    if request.tag:
        form["tag"] = request.tag
    return form


def modify_form(change: ModifyRequest) -> dict[str, str]:
    """The form body of ``PUT /orders/{variety}/{order_id}`` (only what changes)."""
    form: dict[str, str] = {}
    if change.quantity is not None:
        form["quantity"] = str(change.quantity)
    if change.price is not None:
        form["price"] = _number(change.price)
    if change.trigger_price is not None:
        form["trigger_price"] = _number(change.trigger_price)
    if change.order_type is not None:
        form["order_type"] = table.ORDER_TYPES[change.order_type]
    return form
