"""How numbers, money and times read on the dashboard: ₹ with Indian digit grouping, IST."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tradewarden.clock import IST, ist_now

MINUS = "\u2212"
UNKNOWN = "\u2013"  # en dash: no value


def group_indian(digits: str) -> str:
    """``1234567`` → ``12,34,567`` (the last three digits, then pairs)."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs: list[str] = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail]) if head else ",".join([*pairs, tail])


def number(value: Decimal | int | float | None, places: int = 2) -> str:
    """A number with Indian grouping and ``places`` decimals; ``UNKNOWN`` when unknown."""
    if value is None:
        return UNKNOWN
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not amount.is_finite():
            return UNKNOWN
        quantum = Decimal(1).scaleb(-places)
        rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return UNKNOWN
    sign = MINUS if rounded < 0 else ""
    whole, _, fraction = format(abs(rounded), "f").partition(".")
    text = group_indian(whole)
    return f"{sign}{text}.{fraction}" if fraction else f"{sign}{text}"


def inr(value: Decimal | int | float | None, places: int = 2) -> str:
    """``₹1,23,456.70``; negative amounts with a minus sign."""
    text = number(value, places)
    if text == UNKNOWN:
        return text
    if text.startswith(MINUS):
        return f"{MINUS}₹{text[1:]}"
    return f"₹{text}"


def signed_inr(value: Decimal | int | float | None) -> str:
    """P&L with its sign: ``+₹1,200.00``, or the minus sign for losses."""
    text = inr(value)
    if text == UNKNOWN or text.startswith(MINUS):
        return text
    try:
        positive = Decimal(str(value)) > 0
    except InvalidOperation:
        positive = False
    return f"+{text}" if positive else text


def pnl_class(value: Decimal | int | float | None) -> str:
    """CSS class for a P&L figure: ``pos``, ``neg`` or ``flat``."""
    if value is None:
        return "flat"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "flat"
    return "pos" if amount > 0 else "neg" if amount < 0 else "flat"


def ist_time(moment: datetime | None) -> str:
    """``14:03:12 IST``."""
    return moment.astimezone(IST).strftime("%H:%M:%S IST") if moment else UNKNOWN


def ist_datetime(moment: datetime | None) -> str:
    """``21 Nov 2026 14:03:12 IST``."""
    return moment.astimezone(IST).strftime("%d %b %Y %H:%M:%S IST") if moment else UNKNOWN


def ist_short(moment: datetime | None) -> str:
    """Today's times as ``14:03:12 IST``, other days as ``21 Nov 14:03 IST``."""
    if moment is None:
        return UNKNOWN
    local = moment.astimezone(IST)
    if local.date() == ist_now().date():
        return local.strftime("%H:%M:%S IST")
    return local.strftime("%d %b %H:%M IST")


def label(value: str | None) -> str:
    """``retry_pending`` → ``retry pending``."""
    return (value or "").replace("_", " ")
