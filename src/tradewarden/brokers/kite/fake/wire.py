"""The paper exchange's objects in Kite Connect v3's JSON shapes (field names, casing,
timestamps, status strings), and Kite's order ids.

Kite shows the paper exchange's status strings as they are (they are Kite's vocabulary), except
``EXPIRED``: Kite cancels an unfilled DAY order at the close, so it reads ``CANCELLED``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewarden.brokers.base import BrokerFill, BrokerOrder, Funds, Holding, Position
from tradewarden.brokers.kite.fake.symbols import KiteSymbols, kite_time
from tradewarden.domain.instruments import InstrumentKey

_PAPER_ID_BASE = 1_000_000_000_000
_KITE_ID_BASE = 251_000_000_000_000
_EXCHANGE_ID_BASE = 1_300_000_000_000_000
#: Paper statuses shown differently by Kite.
KITE_STATUS = {"EXPIRED": "CANCELLED"}
#: Statuses before the order reached the exchange (no exchange order id or timestamp yet).
_BEFORE_EXCHANGE = frozenset(
    {"PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "AMO REQ RECEIVED"}
)


def kite_order_id(paper_id: str) -> str:
    """The 15-digit numeric string Kite shows for a paper order id."""
    return str(int(paper_id) - _PAPER_ID_BASE + _KITE_ID_BASE)


def paper_order_id(kite_id: str) -> str | None:
    """The paper order id behind a Kite order id, or ``None`` if it cannot be one."""
    if not kite_id.isdigit() or int(kite_id) <= _KITE_ID_BASE:
        return None
    return str(int(kite_id) - _KITE_ID_BASE + _PAPER_ID_BASE)


def _num(value: Decimal | None) -> float:
    return 0.0 if value is None else float(value)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What one state of an order does not say by itself: whether it was modified before, and
    when it reached the exchange."""

    modified: bool = False
    exchange_at: datetime | None = None


def facts(history: list[BrokerOrder], upto: datetime | None = None) -> OrderFacts:
    """:class:`OrderFacts` from an order's history (the states up to ``upto`` if given)."""
    modified, exchange_at = False, None
    for state in history:
        if upto is not None and state.updated_at > upto:
            break
        modified = modified or state.raw_status == "MODIFY PENDING"
        if exchange_at is None and _at_exchange(state):
            exchange_at = state.updated_at
    return OrderFacts(modified, exchange_at)


def history_json(
    history: list[BrokerOrder], symbols: KiteSymbols, user_id: str
) -> list[dict[str, Any]]:
    """``GET /orders/{order_id}``: every state, oldest first."""
    return [
        order_json(state, symbols, user_id, facts(history[: n + 1]))
        for n, state in enumerate(history)
    ]


def _at_exchange(order: BrokerOrder) -> bool:
    return order.raw_status not in _BEFORE_EXCHANGE and order.raw_status != "REJECTED"


def order_json(
    order: BrokerOrder, symbols: KiteSymbols, user_id: str, known: OrderFacts | None = None
) -> dict[str, Any]:
    """One entry of ``GET /orders`` (and of an order's history)."""
    known = known or OrderFacts()
    status = KITE_STATUS.get(order.raw_status, order.raw_status)
    row = symbols.by_key(order.key)
    at_exchange = _at_exchange(order)
    update_time = kite_time(order.updated_at) if at_exchange else None
    exchange_time = kite_time(known.exchange_at or order.updated_at) if at_exchange else None
    message: str | None = None
    if status == "REJECTED":
        message = order.rejection_reason or order.status_message
    elif order.raw_status == "EXPIRED":
        message = order.status_message
    cancelled = order.pending_quantity if status == "CANCELLED" else 0
    pending = 0 if status in ("COMPLETE", "CANCELLED", "REJECTED") else order.pending_quantity
    kite_id = kite_order_id(order.broker_order_id)
    return {
        "placed_by": user_id,
        "order_id": kite_id,
        "exchange_order_id": str(int(kite_id) + _EXCHANGE_ID_BASE) if at_exchange else None,
        "parent_order_id": None,
        "status": status,
        "status_message": message,
        "status_message_raw": message,
        "order_timestamp": kite_time(order.updated_at),
        "exchange_update_timestamp": update_time,
        "exchange_timestamp": exchange_time,
        "variety": order.variety.value,
        "modified": known.modified,
        "exchange": order.exchange,
        "tradingsymbol": row.tradingsymbol if row else order.symbol,
        "instrument_token": row.instrument_token if row else 0,
        "order_type": order.order_type.value,
        "transaction_type": order.side.value,
        "validity": order.validity.value,
        "validity_ttl": 0,
        "product": order.product.value,
        "quantity": order.quantity,
        "disclosed_quantity": 0,
        "price": _num(order.price),
        "trigger_price": _num(order.trigger_price),
        "average_price": _num(order.average_price),
        "filled_quantity": order.filled_quantity,
        "pending_quantity": pending,
        "cancelled_quantity": cancelled,
        "market_protection": 0,
        "meta": {},
        "tag": order.tag,
        "tags": [order.tag] if order.tag else [],
        "guid": f"{user_id}-{kite_id}",
    }


def postback_json(
    order: BrokerOrder,
    symbols: KiteSymbols,
    user_id: str,
    api_secret: str,
    app_id: int,
    known: OrderFacts | None = None,
) -> dict[str, Any]:
    """The order update Kite pushes on the websocket (the postback payload): the order plus
    ``user_id``, ``app_id``, ``unfilled_quantity`` and ``checksum`` =
    sha256(order_id + order_timestamp + api_secret)."""
    data = order_json(order, symbols, user_id, known)
    text = f"{data['order_id']}{data['order_timestamp']}{api_secret}"
    return {
        "user_id": user_id,
        "unfilled_quantity": order.pending_quantity if data["status"] != "COMPLETE" else 0,
        "app_id": app_id,
        "checksum": hashlib.sha256(text.encode()).hexdigest(),
        **data,
    }


def trade_json(fill: BrokerFill, symbols: KiteSymbols, placed_at: str | None) -> dict[str, Any]:
    """One entry of ``GET /trades``."""
    row = symbols.by_key(InstrumentKey(fill.exchange, fill.symbol))
    kite_id = kite_order_id(fill.broker_order_id)
    return {
        "trade_id": fill.fill_id,
        "order_id": kite_id,
        "exchange": fill.exchange,
        "tradingsymbol": row.tradingsymbol if row else fill.symbol,
        "instrument_token": row.instrument_token if row else 0,
        "product": fill.product.value,
        "average_price": float(fill.price),
        "quantity": fill.quantity,
        "exchange_order_id": str(int(kite_id) + _EXCHANGE_ID_BASE),
        "transaction_type": fill.side.value,
        "fill_timestamp": kite_time(fill.filled_at),
        "order_timestamp": placed_at or kite_time(fill.filled_at),
        "exchange_timestamp": kite_time(fill.filled_at),
    }


def position_json(p: Position, symbols: KiteSymbols) -> dict[str, Any]:
    """One entry of ``GET /portfolio/positions`` (``net`` and ``day`` alike)."""
    row = symbols.by_key(InstrumentKey(p.exchange, p.symbol))
    buy_value = p.buy_average * p.buy_quantity
    sell_value = p.sell_average * p.sell_quantity
    last = _num(p.last_price)
    pnl = float(p.realised_pnl + p.unrealised_pnl)
    return {
        "tradingsymbol": row.tradingsymbol if row else p.symbol,
        "exchange": p.exchange,
        "instrument_token": row.instrument_token if row else 0,
        "product": p.product.value,
        "quantity": p.quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": float(p.average_price),
        "close_price": last,
        "last_price": last,
        "value": float(sell_value - buy_value),
        "pnl": pnl,
        "m2m": pnl,
        "unrealised": float(p.unrealised_pnl),
        "realised": float(p.realised_pnl),
        "buy_quantity": p.buy_quantity,
        "buy_price": float(p.buy_average),
        "buy_value": float(buy_value),
        "buy_m2m": float(buy_value),
        "sell_quantity": p.sell_quantity,
        "sell_price": float(p.sell_average),
        "sell_value": float(sell_value),
        "sell_m2m": float(sell_value),
        "day_buy_quantity": p.buy_quantity,
        "day_buy_price": float(p.buy_average),
        "day_buy_value": float(buy_value),
        "day_sell_quantity": p.sell_quantity,
        "day_sell_price": float(p.sell_average),
        "day_sell_value": float(sell_value),
    }


def holding_json(h: Holding, symbols: KiteSymbols) -> dict[str, Any]:
    """One entry of ``GET /portfolio/holdings``."""
    row = symbols.by_key(InstrumentKey(h.exchange, h.symbol))
    last = _num(h.last_price)
    average = float(h.average_price)
    return {
        "tradingsymbol": row.tradingsymbol if row else h.symbol,
        "exchange": h.exchange,
        "instrument_token": row.instrument_token if row else 0,
        "isin": "",
        "product": "CNC",
        "price": 0,
        "quantity": h.quantity,
        "used_quantity": h.used_quantity,
        "t1_quantity": 0,
        "realised_quantity": h.quantity,
        "authorised_quantity": 0,
        "authorised_date": None,
        "opening_quantity": h.quantity,
        "collateral_quantity": 0,
        "collateral_type": "",
        "discrepancy": False,
        "average_price": average,
        "last_price": last,
        "close_price": last,
        "pnl": (last - average) * h.quantity if h.last_price is not None else 0.0,
        "day_change": 0.0,
        "day_change_percentage": 0.0,
    }


def margins_json(funds: Funds) -> dict[str, Any]:
    """``GET /user/margins``: the paper account's cash as the equity segment."""
    equity = _segment(
        net=float(funds.available),
        cash=float(funds.cash),
        used=float(funds.used_margin),
        realised=float(funds.realised_pnl),
        unrealised=float(funds.unrealised_pnl),
    )
    return {"equity": equity, "commodity": _segment(0.0, 0.0, 0.0, 0.0, 0.0)}


def _segment(
    net: float, cash: float, used: float, realised: float, unrealised: float
) -> dict[str, Any]:
    return {
        "enabled": True,
        "net": net,
        "available": {
            "adhoc_margin": 0,
            "cash": cash,
            "opening_balance": cash,
            "live_balance": net,
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": used,
            "exposure": 0,
            "m2m_realised": realised,
            "m2m_unrealised": unrealised,
            "option_premium": 0,
            "payout": 0,
            "span": 0,
            "holding_sales": 0,
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": 0,
        },
    }


def profile_json(user_id: str, user_name: str) -> dict[str, Any]:
    """``GET /user/profile``."""
    return {
        "user_id": user_id,
        "user_type": "individual",
        "email": f"{user_id.lower()}@example.invalid",
        "user_name": user_name,
        "user_shortname": user_name.split()[0] if user_name else user_id,
        "broker": "ZERODHA",
        "exchanges": ["NSE", "NFO", "BFO", "CDS", "BSE", "MCX", "BCD", "MF"],
        "products": ["CNC", "NRML", "MIS", "BO", "CO"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }
