"""Pure matching rules: when a stop triggers, when an order can execute, at what price.

Execution is against the last traded price (LTP):

* MARKET — executes at the LTP.
* LIMIT — a buy executes when LTP <= limit, a sell when LTP >= limit. An order that is
  marketable when it arrives (placed, modified or triggered) executes at the LTP; an order that
  was resting when the price moved through it executes at its limit price.
* SL / SL-M — wait (``TRIGGER PENDING``) until a buy's LTP >= trigger or a sell's LTP <=
  trigger; then SL behaves as LIMIT and SL-M as MARKET, both as arriving orders.
"""

from __future__ import annotations

from decimal import Decimal

from tradewarden.domain.orders import OrderType, Side

STOP_TYPES = frozenset({OrderType.SL, OrderType.SL_M})


def is_stop(order_type: OrderType) -> bool:
    return order_type in STOP_TYPES


def trigger_reached(side: Side, trigger_price: Decimal, last_price: Decimal) -> bool:
    """True when a stop order on ``side`` triggers at ``last_price``."""
    if side is Side.BUY:
        return last_price >= trigger_price
    return last_price <= trigger_price


def execution_price(
    side: Side,
    order_type: OrderType,
    limit_price: Decimal | None,
    last_price: Decimal,
    *,
    arriving: bool,
) -> Decimal | None:
    """The price this (triggered) order executes at now, or ``None`` if it cannot."""
    if order_type in (OrderType.MARKET, OrderType.SL_M) or limit_price is None:
        return last_price
    marketable = last_price <= limit_price if side is Side.BUY else last_price >= limit_price
    if not marketable:
        return None
    return last_price if arriving else limit_price


def fill_quantity(remaining: int, volume_left: int | None) -> int:
    """How much of ``remaining`` the available volume allows (``None``: unlimited)."""
    if volume_left is None:
        return remaining
    return max(0, min(remaining, volume_left))
