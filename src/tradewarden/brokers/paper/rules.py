"""Order checks the paper broker applies, each returning a broker-style reason or ``None``.

Structural problems (unknown instrument, non-positive quantity, missing price) are refused
synchronously by :func:`structural_problem`, and so are orders above the per-order limits
(:func:`limit_problem`, checked by the exchange where it knows the price); the others reject
an order the broker has already received, so it shows up as ``REJECTED`` with the reason.
"""

from __future__ import annotations

from decimal import Decimal

from tradewarden.brokers.base import OrderRequest
from tradewarden.domain.instruments import Instrument
from tradewarden.domain.money import is_multiple_of
from tradewarden.domain.orders import OrderType, Product, Side

TAG_MAX_LENGTH = 20
#: Per-order limits of the simulated RMS (real brokers refuse such orders before the exchange).
MAX_ORDER_QUANTITY = 100_000
MAX_ORDER_VALUE = Decimal("100000000")  # ₹10 crore
MARKET_CLOSED_TEXT = (
    "Market is closed. Regular orders are accepted from 09:00 to 15:30 IST on trading days; "
    "place an AMO (after-market order) instead."
)


def structural_problem(request: OrderRequest) -> str | None:
    """A reason the request is malformed (refused outright, no order created)."""
    if request.quantity <= 0:
        return f"Quantity {request.quantity} must be positive"
    needs_price = request.order_type in (OrderType.LIMIT, OrderType.SL)
    if needs_price and (request.price is None or request.price <= 0):
        return f"A {request.order_type.value} order needs a positive price"
    needs_trigger = request.order_type in (OrderType.SL, OrderType.SL_M)
    if needs_trigger and (request.trigger_price is None or request.trigger_price <= 0):
        return f"A {request.order_type.value} order needs a positive trigger price"
    if request.tag is not None and not valid_tag(request.tag):
        return f"Tag must be 1-{TAG_MAX_LENGTH} characters: letters, digits, '-' or '_'"
    return None


def valid_tag(tag: str) -> bool:
    """Tags are short alphanumeric strings (our client order ids are 20 of them)."""
    return 0 < len(tag) <= TAG_MAX_LENGTH and all(
        c.isascii() and (c.isalnum() or c in "-_") for c in tag
    )


def lot_problem(instrument: Instrument, quantity: int) -> str | None:
    if quantity % instrument.lot_size:
        return (
            f"Quantity {quantity} is not a multiple of the lot size {instrument.lot_size} "
            f"for {instrument.key}"
        )
    return None


def tick_problem(instrument: Instrument, price: Decimal | None, label: str) -> str | None:
    if price is None or is_multiple_of(price, instrument.tick_size):
        return None
    return (
        f"Tick size for {instrument.key} is {instrument.tick_size}: "
        f"{label} {price} is not a multiple of the tick size"
    )


def band_problem(
    instrument: Instrument, last_price: Decimal | None, price: Decimal | None, label: str
) -> str | None:
    if price is None or last_price is None:
        return None
    band = instrument.band(last_price)
    if band is None:
        return None
    low, high = band
    if low <= price <= high:
        return None
    return (
        f"{label.capitalize()} {price} is outside the price band {low} - {high} for "
        f"{instrument.key} ({instrument.band_percent}% around the last price {last_price})"
    )


def product_problem(instrument: Instrument, product: Product) -> str | None:
    return instrument.product_problem(product)


def limit_problem(instrument: Instrument, quantity: int, reference: Decimal | None) -> str | None:
    """An order above the per-order quantity or value limit (value = quantity x ``reference``,
    the limit/trigger price or the last price; not checked while there is none)."""
    if quantity > MAX_ORDER_QUANTITY:
        return (
            f"RMS:Order quantity {quantity} exceeds the limit of {MAX_ORDER_QUANTITY} per order "
            f"for {instrument.key}"
        )
    value = quantity * reference if reference is not None else None
    if value is not None and value > MAX_ORDER_VALUE:
        return (
            f"RMS:Order value {value:.2f} exceeds the limit of {MAX_ORDER_VALUE:.2f} per order "
            f"for {instrument.key}"
        )
    return None


def stop_problem(
    side: Side,
    order_type: OrderType,
    price: Decimal | None,
    trigger: Decimal | None,
    last_price: Decimal | None,
) -> str | None:
    """Stop orders: trigger on the right side of the limit and of the last price."""
    if order_type not in (OrderType.SL, OrderType.SL_M) or trigger is None:
        return None
    if order_type is OrderType.SL and price is not None:
        if side is Side.BUY and price < trigger:
            return (
                f"Limit price {price} of a stop-loss BUY must be at or above its trigger {trigger}"
            )
        if side is Side.SELL and price > trigger:
            return (
                f"Limit price {price} of a stop-loss SELL must be at or below its trigger {trigger}"
            )
    if last_price is None:
        return None
    if side is Side.BUY and trigger <= last_price:
        return (
            f"Trigger price {trigger} of a stop-loss BUY must be above the last traded price "
            f"{last_price}"
        )
    if side is Side.SELL and trigger >= last_price:
        return (
            f"Trigger price {trigger} of a stop-loss SELL must be below the last traded price "
            f"{last_price}"
        )
    return None
