"""Readers for one row of each legacy list: a ``LegacyRow`` or a ``ValueError`` with the reason."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewarden.domain.orders import ExecutionType, OrderType, Side
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.legacy import values
from tradewarden.legacy.records import LegacyOrder, LegacyRow, RowRef, Section

S = OrderStatus
MAX_KEY = 128


# --- pending_orders.json --------------------------------------------------------------------


def read_pending(raw: dict[str, Any], number: int, now: datetime) -> LegacyRow:
    order_id = values.text(_first(raw, "order_id", "nOrdNo", "orderId"), "order_id")
    ref = RowRef(Section.PENDING_ORDERS, number, order_id)
    quantity = values.quantity(_first(raw, "qty", "quantity"))
    limit = values.price(raw.get("price"), "price")
    order_type = values.order_type(raw.get("order_type"), limit)
    placed = values.timestamp(raw.get("placed_at"), "placed_at", now=now)
    side = values.side(_first(raw, "side", "transaction_type", "txn_type", "action"))
    status_text = values.text(raw.get("status"), "status")
    order = LegacyOrder(
        key=_key(Section.PENDING_ORDERS, order_id),
        side=side,
        exchange=values.exchange(raw.get("exchange"), raw.get("ticker")),
        symbol=values.symbol(_first(raw, "symbol", "trading_symbol", "ticker")),
        quantity=quantity,
        order_type=order_type,
        product=values.product(raw.get("product")),
        variety=values.variety(raw.get("variety")),
        status=values.order_status(status_text),
        placed_at=placed,
        settled_at=_later(placed, raw, now, "execution_time", "last_status_check"),
        broker_status=status_text[:64],
        broker_order_id=order_id[:64],
        price=_order_price(order_type, limit),
        average_price=values.price(_first(raw, "execution_price", "avg_price",
                                          "average_price"), "execution_price") or limit,
        reason=values.optional_text(_first(raw, "rejection_reason", "failure_reason",
                                           "reason")),
        execution_type=ExecutionType.EXIT if side is Side.SELL else ExecutionType.ENTRY,
    )
    executed = values.filled(_first(raw, "executed_qty", "execution_qty", "filled_qty"),
                             quantity)
    return LegacyRow(ref, (_settle(order, executed),), raw)


def _settle(order: LegacyOrder, executed: int) -> LegacyOrder:
    """Reconcile the status with the executed quantity; refuse stories that contradict."""
    status, total = order.status, order.quantity
    if status is S.FILLED:
        if 0 < executed < total:
            raise ValueError(f"status {order.broker_status!r} but executed_qty {executed} of "
                             f"{total}")
        executed = total
    elif status is S.PARTIALLY_FILLED:
        if not 0 < executed < total:
            raise ValueError(f"status {order.broker_status!r} needs executed_qty between 1 and "
                             f"{total - 1}, got {executed}")
    elif status in (S.OPEN, S.CANCELLED, S.EXPIRED) and executed == total:
        status = S.FILLED
    elif status is S.OPEN and executed:
        status = S.PARTIALLY_FILLED
    elif status in (S.REJECTED, S.FAILED) and executed:
        raise ValueError(f"status {order.broker_status!r} but executed_qty {executed}")
    code: ReasonCode | None = None
    if status is S.FAILED:
        code = values.failure_code(order.reason)
    if status in (S.OPEN, S.PARTIALLY_FILLED) and order.broker_order_id is None:
        raise ValueError("a working order needs its broker order id (order_id) to be tracked")
    return replace(order, status=status, filled_quantity=executed, reason_code=code,
                   average_price=order.average_price if executed else None)


# --- trades_history.json: trades ------------------------------------------------------------


def read_trade(raw: dict[str, Any], number: int, now: datetime) -> LegacyRow:
    symbol = values.symbol(_first(raw, "placed_symbol", "symbol", "ticker"))
    entry_text = values.text(_first(raw, "entry_time", "buy_time", "placed_at"), "entry_time")
    entry_time = values.timestamp(entry_text, "entry_time", now=now)
    order_id = values.optional_text(_first(raw, "order_id", "buy_order_id", "entry_order_id")
                                    ) or _response_order_id(raw.get("order_response"))
    legacy_id = order_id or f"{symbol}@{entry_text}"
    ref = RowRef(Section.TRADES, number, legacy_id)
    quantity = values.quantity(_first(raw, "qty", "quantity"))
    entry_price = values.price(_first(raw, "entry_price", "buy_price"), "entry_price")
    status_text = values.text(raw.get("status"), "status")
    state = values.trade_state(status_text)
    base = LegacyOrder(
        key=_key(Section.TRADES, legacy_id), side=Side.BUY,
        exchange=values.exchange(raw.get("exchange"), raw.get("ticker")), symbol=symbol,
        quantity=quantity, order_type=values.order_type(raw.get("order_type"), None),
        product=values.product(raw.get("product")), variety=values.variety(raw.get("variety")),
        status=S.FILLED, placed_at=entry_time, settled_at=entry_time,
        broker_order_id=order_id[:64] if order_id else None,
        average_price=entry_price,
        reason=values.optional_text(_first(raw, "rejection_reason", "reason")),
    )
    if base.order_type in (OrderType.LIMIT, OrderType.SL):
        base = replace(base, price=entry_price)
        if entry_price is None:
            raise ValueError(f"a {base.order_type.value} trade needs entry_price")
    if state == "order":  # the trade never became a position: its status is its order's
        entry = replace(base, status=values.order_status(status_text),
                        broker_status=status_text[:64])
        executed = quantity if entry.status is S.FILLED else values.filled(
            _first(raw, "executed_qty", "filled_qty"), quantity)
        return LegacyRow(ref, (_settle(entry, executed),), raw)
    if entry_price is None:
        raise ValueError(f"trade status {status_text!r} needs entry_price")
    entry = replace(base, filled_quantity=quantity)
    if state == "holding":
        return LegacyRow(ref, (entry,), raw)
    exit_time = entry_time
    if _first(raw, "exit_time", "sell_time") is not None:
        exit_time = values.timestamp(_first(raw, "exit_time", "sell_time"), "exit_time", now=now)
        if exit_time < entry_time:
            raise ValueError("exit_time is before entry_time")
    exit_id = values.optional_text(_first(raw, "sell_order_id", "exit_order_id"))
    exit_order = replace(
        entry, key=_key(Section.TRADES, legacy_id, "exit"), side=Side.SELL,
        order_type=OrderType.MARKET, price=None, variety=values.variety("REGULAR"),
        placed_at=exit_time, settled_at=exit_time,
        broker_order_id=exit_id[:64] if exit_id else None,
        average_price=values.price(_first(raw, "exit_price", "sell_price"), "exit_price"),
        reason=values.optional_text(raw.get("exit_reason")),
        execution_type=ExecutionType.EXIT,
    )
    return LegacyRow(ref, (entry, exit_order), raw)


def _response_order_id(response: object) -> str | None:
    """The broker order id inside a stored Kotak Neo placement response, if any."""
    if not isinstance(response, dict):
        return None
    data = response.get("data", response)
    if not isinstance(data, dict):
        return None
    return values.optional_text(_first(data, "nOrdNo", "neoOrdNo", "orderId", "order_id"))


# --- trades_history.json: failed_orders -----------------------------------------------------


def read_failed(raw: dict[str, Any], number: int, now: datetime) -> LegacyRow:
    symbol = values.symbol(_first(raw, "placed_symbol", "symbol", "ticker"))
    failed_text = values.text(_first(raw, "first_failed_at", "timestamp", "failed_at"),
                              "first_failed_at")
    failed_at = values.timestamp(failed_text, "first_failed_at", now=now)
    legacy_id = f"{symbol}@{failed_text}"
    reason = values.optional_text(_first(raw, "reason", "failure_reason"))
    side = values.side(_first(raw, "side", "transaction_type", "action"))
    order = LegacyOrder(
        key=_key(Section.FAILED_ORDERS, legacy_id), side=side,
        exchange=values.exchange(raw.get("exchange"), raw.get("ticker")), symbol=symbol,
        quantity=values.quantity(_first(raw, "qty", "quantity")),
        order_type=OrderType.MARKET, product=values.product(raw.get("product")),
        variety=values.variety(raw.get("variety")), status=S.FAILED,
        placed_at=failed_at,
        settled_at=_later(failed_at, raw, now, "last_retry_attempt"),
        # the seed kept only insufficient-balance failures in this list
        broker_status=None,
        reason_code=values.failure_code(reason, ReasonCode.INSUFFICIENT_FUNDS),
        reason=reason or "failed in the legacy system for insufficient balance (no reason "
                         "text recorded)",
        execution_type=ExecutionType.EXIT if side is Side.SELL else ExecutionType.ENTRY,
        retry_count=_count(raw.get("retry_count")),
    )
    return LegacyRow(RowRef(Section.FAILED_ORDERS, number, legacy_id), (order,), raw)


# --- helpers --------------------------------------------------------------------------------


def _first(raw: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = raw.get(name)
        if value is not None and value != "":
            return value
    return None


def _key(section: Section, legacy_id: str, suffix: str = "") -> str:
    """``legacy:<section>:<legacy id>[:suffix]``; over-long ids are hashed to fit the column."""
    tail = f":{suffix}" if suffix else ""
    key = f"legacy:{section.value}:{legacy_id}{tail}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(legacy_id.encode()).hexdigest()[:40]
    return f"legacy:{section.value}:sha256:{digest}{tail}"


def _order_price(order_type: OrderType, limit: Decimal | None) -> Decimal | None:
    if order_type in (OrderType.LIMIT, OrderType.SL):
        if limit is None:
            raise ValueError(f"a {order_type.value} order needs a price")
        return limit
    return None


def _later(start: datetime, raw: dict[str, Any], now: datetime, *names: str) -> datetime:
    """The first readable of ``names`` not before ``start``; else ``start``."""
    for name in names:
        try:
            moment = values.timestamp(raw.get(name), name, now=now)
        except ValueError:
            continue
        return max(start, moment)
    return start


def _count(value: object) -> int:
    try:
        return values.filled(value, 1_000)
    except ValueError:
        return 0


def legacy_id(raw: dict[str, Any]) -> str | None:
    found = _first(raw, "order_id", "nOrdNo", "buy_order_id")
    if found is None and raw.get("symbol") is not None:
        stamp = _first(raw, "entry_time", "first_failed_at", "placed_at", "timestamp")
        return f"{raw['symbol']}@{stamp}" if stamp is not None else str(raw["symbol"])
    return str(found) if found is not None else None
