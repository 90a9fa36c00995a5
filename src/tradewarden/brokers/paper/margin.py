"""The paper broker's simple margin model.

Margin is a fraction of the order value (quantity x reference price):

=============================  =========================================
product / instrument           margin
=============================  =========================================
CNC buy (equity)               100 % — delivery needs the full cash
CNC sell                       none — needs holdings (or today's CNC buys)
MIS equity                     20 %
NRML equity                    100 %
futures                        MIS 10 %, NRML 15 %
options (buy or sell)          100 % of the premium (a stand-in for SPAN)
=============================  =========================================

Orders that reduce an open MIS/NRML position need margin only for the part that opens new
exposure. Open MIS/NRML positions keep their margin blocked; CNC buys debit cash when filled.
"""

from __future__ import annotations

from decimal import Decimal

from tradewarden.domain.instruments import Instrument
from tradewarden.domain.money import ZERO
from tradewarden.domain.orders import Product, Side

ONE = Decimal("1")
OPTION_TYPES = frozenset({"CE", "PE"})


def margin_rate(instrument: Instrument, product: Product, side: Side) -> Decimal:
    """The fraction of value blocked for exposure in ``product`` on ``side``."""
    kind = instrument.instrument_type
    if kind in OPTION_TYPES:
        return ONE
    if kind == "FUT":
        return Decimal("0.10") if product is Product.MIS else Decimal("0.15")
    if product is Product.CNC:
        return ONE if side is Side.BUY else ZERO
    if product is Product.MIS:
        return Decimal("0.20")
    return ONE


def order_margin(
    instrument: Instrument,
    product: Product,
    side: Side,
    quantity: int,
    reference_price: Decimal,
    position_quantity: int,
) -> Decimal:
    """Margin to block for ``quantity`` more on ``side`` given the current net position."""
    if product is Product.CNC:
        opening = quantity
    else:
        opposite = (position_quantity > 0 and side is Side.SELL) or (
            position_quantity < 0 and side is Side.BUY
        )
        opening = max(0, quantity - abs(position_quantity)) if opposite else quantity
    return opening * reference_price * margin_rate(instrument, product, side)


def position_margin(
    instrument: Instrument, product: Product, net_quantity: int, average: Decimal
) -> Decimal:
    """Margin an open MIS/NRML position keeps blocked (CNC positions are paid in cash)."""
    if product is Product.CNC or net_quantity == 0:
        return ZERO
    side = Side.BUY if net_quantity > 0 else Side.SELL
    return abs(net_quantity) * average * margin_rate(instrument, product, side)


def rms_margin_text(required: Decimal, available: Decimal, account: str) -> str:
    """The broker-style rejection text for insufficient margin."""
    return (
        f"RMS:Margin Exceeds,Required:{required:.2f}, Available:{available:.2f} "
        f"for entity account-{account} across exchange across segment across product"
    )


def rms_holdings_text(key: str, required: int, available: int) -> str:
    """The broker-style rejection text for selling more than is held."""
    return (
        f"RMS:Insufficient holdings for {key} to sell, Required:{required}, Available:{available}"
    )
