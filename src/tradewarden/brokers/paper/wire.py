"""JSON forms of the broker result types, shared by the paper server, its HTTP client and its
state file. Decimals travel as strings, timestamps as ISO 8601 with offset.

Decoders raise :class:`WireError` on anything malformed, so a garbage body never turns into a
half-built object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from tradewarden.brokers.base import (
    BrokerFill,
    BrokerOrder,
    Funds,
    Holding,
    MarketSession,
    ModifyRequest,
    OrderRequest,
    OrderUpdate,
    Position,
    Quote,
    SessionName,
    Tick,
)
from tradewarden.brokers.paper.statuses import map_paper_status
from tradewarden.domain.money import MoneyError, to_decimal
from tradewarden.domain.orders import OrderType, Product, Side, Validity, Variety

Json = dict[str, Any]
E = TypeVar("E", bound=StrEnum)


class WireError(ValueError):
    """A JSON document did not have the expected shape."""


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def ts(value: datetime) -> str:
    return value.isoformat()


def _get(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise WireError(f"missing field {key!r}")
    return data[key]


def _str(data: Mapping[str, Any], key: str) -> str:
    value = _get(data, key)
    if not isinstance(value, str):
        raise WireError(f"field {key!r} must be a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise WireError(f"field {key!r} must be a string or null")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"field {key!r} must be an integer")
    return value


def _dec(data: Mapping[str, Any], key: str) -> Decimal:
    try:
        return to_decimal(_get(data, key))
    except MoneyError as exc:
        raise WireError(f"field {key!r}: {exc}") from exc


def _opt_dec(data: Mapping[str, Any], key: str) -> Decimal | None:
    return None if data.get(key) is None else _dec(data, key)


def _ts(data: Mapping[str, Any], key: str) -> datetime:
    try:
        value = datetime.fromisoformat(_str(data, key))
    except ValueError as exc:
        raise WireError(f"field {key!r} is not an ISO timestamp") from exc
    if value.tzinfo is None:
        raise WireError(f"field {key!r} has no UTC offset")
    return value


def _enum(cls: type[E], data: Mapping[str, Any], key: str) -> E:
    try:
        return cls(_str(data, key))
    except ValueError as exc:
        raise WireError(f"field {key!r} has an unknown value") from exc


def _obj(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise WireError("expected a JSON object")
    return data


def order_to_json(order: BrokerOrder) -> Json:
    return {
        "broker_order_id": order.broker_order_id,
        "tag": order.tag,
        "exchange": order.exchange,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": order.quantity,
        "filled_quantity": order.filled_quantity,
        "average_price": dec(order.average_price),
        "price": dec(order.price),
        "trigger_price": dec(order.trigger_price),
        "order_type": order.order_type.value,
        "product": order.product.value,
        "variety": order.variety.value,
        "validity": order.validity.value,
        "status": order.raw_status,
        "rejection_reason": order.rejection_reason,
        "status_message": order.status_message,
        "placed_at": ts(order.placed_at),
        "updated_at": ts(order.updated_at),
    }


def order_from_json(raw: Any) -> BrokerOrder:
    data = _obj(raw)
    status = _str(data, "status")
    quantity = _int(data, "quantity")
    filled = _int(data, "filled_quantity")
    return BrokerOrder(
        broker_order_id=_str(data, "broker_order_id"),
        tag=_opt_str(data, "tag"),
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        side=_enum(Side, data, "side"),
        quantity=quantity,
        filled_quantity=filled,
        average_price=_dec(data, "average_price"),
        price=_opt_dec(data, "price"),
        trigger_price=_opt_dec(data, "trigger_price"),
        order_type=_enum(OrderType, data, "order_type"),
        product=_enum(Product, data, "product"),
        variety=_enum(Variety, data, "variety"),
        validity=_enum(Validity, data, "validity"),
        raw_status=status,
        status=map_paper_status(status, filled_quantity=filled, quantity=quantity),
        rejection_reason=_opt_str(data, "rejection_reason"),
        status_message=_opt_str(data, "status_message"),
        placed_at=_ts(data, "placed_at"),
        updated_at=_ts(data, "updated_at"),
    )


def fill_to_json(fill: BrokerFill) -> Json:
    return {
        "fill_id": fill.fill_id,
        "broker_order_id": fill.broker_order_id,
        "tag": fill.tag,
        "exchange": fill.exchange,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "quantity": fill.quantity,
        "price": dec(fill.price),
        "product": fill.product.value,
        "filled_at": ts(fill.filled_at),
    }


def fill_from_json(raw: Any) -> BrokerFill:
    data = _obj(raw)
    return BrokerFill(
        fill_id=_str(data, "fill_id"),
        broker_order_id=_str(data, "broker_order_id"),
        tag=_opt_str(data, "tag"),
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        side=_enum(Side, data, "side"),
        quantity=_int(data, "quantity"),
        price=_dec(data, "price"),
        product=_enum(Product, data, "product"),
        filled_at=_ts(data, "filled_at"),
    )


def update_to_json(update: OrderUpdate) -> Json:
    return {
        "order": order_to_json(update.order),
        "fill": fill_to_json(update.fill) if update.fill else None,
    }


def update_from_json(raw: Any) -> OrderUpdate:
    data = _obj(raw)
    fill = data.get("fill")
    return OrderUpdate(
        order=order_from_json(_get(data, "order")),
        fill=fill_from_json(fill) if fill is not None else None,
    )


def position_to_json(p: Position) -> Json:
    return {
        "exchange": p.exchange,
        "symbol": p.symbol,
        "product": p.product.value,
        "quantity": p.quantity,
        "buy_quantity": p.buy_quantity,
        "sell_quantity": p.sell_quantity,
        "buy_average": dec(p.buy_average),
        "sell_average": dec(p.sell_average),
        "average_price": dec(p.average_price),
        "last_price": dec(p.last_price),
        "realised_pnl": dec(p.realised_pnl),
        "unrealised_pnl": dec(p.unrealised_pnl),
    }


def position_from_json(raw: Any) -> Position:
    data = _obj(raw)
    return Position(
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        product=_enum(Product, data, "product"),
        quantity=_int(data, "quantity"),
        buy_quantity=_int(data, "buy_quantity"),
        sell_quantity=_int(data, "sell_quantity"),
        buy_average=_dec(data, "buy_average"),
        sell_average=_dec(data, "sell_average"),
        average_price=_dec(data, "average_price"),
        last_price=_opt_dec(data, "last_price"),
        realised_pnl=_dec(data, "realised_pnl"),
        unrealised_pnl=_dec(data, "unrealised_pnl"),
    )


def holding_to_json(h: Holding) -> Json:
    return {
        "exchange": h.exchange,
        "symbol": h.symbol,
        "quantity": h.quantity,
        "used_quantity": h.used_quantity,
        "average_price": dec(h.average_price),
        "last_price": dec(h.last_price),
    }


def holding_from_json(raw: Any) -> Holding:
    data = _obj(raw)
    return Holding(
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        quantity=_int(data, "quantity"),
        used_quantity=_int(data, "used_quantity"),
        average_price=_dec(data, "average_price"),
        last_price=_opt_dec(data, "last_price"),
    )


def funds_to_json(f: Funds) -> Json:
    return {
        "cash": dec(f.cash),
        "available": dec(f.available),
        "used_margin": dec(f.used_margin),
        "realised_pnl": dec(f.realised_pnl),
        "unrealised_pnl": dec(f.unrealised_pnl),
    }


def funds_from_json(raw: Any) -> Funds:
    data = _obj(raw)
    return Funds(
        cash=_dec(data, "cash"),
        available=_dec(data, "available"),
        used_margin=_dec(data, "used_margin"),
        realised_pnl=_dec(data, "realised_pnl"),
        unrealised_pnl=_dec(data, "unrealised_pnl"),
    )


def tick_to_json(t: Tick) -> Json:
    return {
        "exchange": t.exchange,
        "symbol": t.symbol,
        "last_price": dec(t.last_price),
        "volume": t.volume,
        "timestamp": ts(t.timestamp),
    }


def tick_from_json(raw: Any) -> Tick:
    data = _obj(raw)
    volume = data.get("volume")
    if volume is not None and (isinstance(volume, bool) or not isinstance(volume, int)):
        raise WireError("field 'volume' must be an integer or null")
    return Tick(
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        last_price=_dec(data, "last_price"),
        volume=volume,
        timestamp=_ts(data, "timestamp"),
    )


def quote_to_json(q: Quote) -> Json:
    return {
        "exchange": q.exchange,
        "symbol": q.symbol,
        "last_price": dec(q.last_price),
        "timestamp": ts(q.timestamp),
    }


def quote_from_json(raw: Any) -> Quote:
    data = _obj(raw)
    return Quote(
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        last_price=_dec(data, "last_price"),
        timestamp=_ts(data, "timestamp"),
    )


def session_to_json(s: MarketSession) -> Json:
    return {"session": s.session.value, "now": ts(s.now)}


def session_from_json(raw: Any) -> MarketSession:
    data = _obj(raw)
    return MarketSession(session=_enum(SessionName, data, "session"), now=_ts(data, "now"))


def request_to_json(r: OrderRequest) -> Json:
    return {
        "exchange": r.exchange,
        "symbol": r.symbol,
        "side": r.side.value,
        "quantity": r.quantity,
        "order_type": r.order_type.value,
        "product": r.product.value,
        "price": dec(r.price),
        "trigger_price": dec(r.trigger_price),
        "variety": r.variety.value,
        "validity": r.validity.value,
        "tag": r.tag,
    }


def request_from_json(raw: Any) -> OrderRequest:
    data = _obj(raw)
    return OrderRequest(
        exchange=_str(data, "exchange"),
        symbol=_str(data, "symbol"),
        side=_enum(Side, data, "side"),
        quantity=_int(data, "quantity"),
        order_type=_enum(OrderType, data, "order_type"),
        product=_enum(Product, data, "product"),
        price=_opt_dec(data, "price"),
        trigger_price=_opt_dec(data, "trigger_price"),
        variety=_enum(Variety, data, "variety") if data.get("variety") else Variety.REGULAR,
        validity=_enum(Validity, data, "validity") if data.get("validity") else Validity.DAY,
        tag=_opt_str(data, "tag"),
    )


def modify_to_json(m: ModifyRequest) -> Json:
    return {
        "quantity": m.quantity,
        "price": dec(m.price),
        "trigger_price": dec(m.trigger_price),
        "order_type": m.order_type.value if m.order_type else None,
    }


def modify_from_json(raw: Any) -> ModifyRequest:
    data = _obj(raw)
    quantity = data.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
        raise WireError("field 'quantity' must be an integer")
    return ModifyRequest(
        quantity=quantity,
        price=_opt_dec(data, "price"),
        trigger_price=_opt_dec(data, "trigger_price"),
        order_type=_enum(OrderType, data, "order_type") if data.get("order_type") else None,
    )
