"""Decimal money helpers. Prices and amounts are ``Decimal`` at every boundary."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

PAISE = Decimal("0.01")
ZERO = Decimal("0")


class MoneyError(ValueError):
    """A value could not be read as an exact decimal amount."""


def to_decimal(value: object) -> Decimal:
    """Convert str/int/Decimal (or float, via its shortest repr) to a finite Decimal.

    Floats are converted through ``repr`` so ``2501.35`` stays ``Decimal("2501.35")`` instead of
    its binary expansion. Booleans, NaN and infinities are refused.
    """
    if isinstance(value, bool):
        raise MoneyError(f"not a number: {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, int | str):
            result = Decimal(str(value).strip())
        else:
            raise MoneyError(f"not a number: {value!r}")
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    return result


def round_to_step(value: Decimal, step: Decimal, mode: str = "nearest") -> Decimal:
    """Round ``value`` to a multiple of ``step`` ("nearest", "down" or "up").

    The result keeps the step's number of decimal places (0.05 -> two places).
    """
    if step <= 0:
        raise MoneyError(f"step must be positive, got {step}")
    rounding = {"nearest": ROUND_HALF_UP, "down": ROUND_DOWN, "up": ROUND_UP}[mode]
    units = (value / step).quantize(Decimal(1), rounding=rounding)
    return (units * step).quantize(step)


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` lies exactly on the ``step`` grid (False when it cannot be told)."""
    try:
        return step > 0 and (value % step) == 0
    except InvalidOperation:
        return False


def rupees(value: Decimal) -> Decimal:
    """Quantize an amount to paise with banker's rounding (for P&L and totals)."""
    return value.quantize(PAISE, rounding=ROUND_HALF_EVEN)


def format_inr(value: Decimal) -> str:
    """Format as ``₹1,23,456.70`` with Indian digit grouping."""
    amount = rupees(value)
    sign = "-" if amount < 0 else ""
    whole, _, frac = f"{abs(amount):.2f}".partition(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        whole = ",".join([*groups, tail])
    return f"{sign}₹{whole}.{frac}"
