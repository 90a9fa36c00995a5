"""Small, forgiving formatters for messages: rupees with Indian grouping, IST times."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from tradewarden.clock import IST

PAISE = Decimal("0.01")


def decimal_or_none(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def inr(value: object, *, signed: bool = False) -> str:
    """``₹12,34,567.50`` (lakh/crore grouping); ``+``/``-`` with ``signed``; ``—`` if unknown."""
    amount = decimal_or_none(value)
    if amount is None:
        return "—"
    amount = amount.quantize(PAISE, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    whole, fraction = f"{abs(amount):.2f}".split(".")
    if len(whole) > 3:
        head, groups = whole[:-3], [whole[-3:]]
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        whole = ",".join([head, *groups] if head else groups)
    return f"{sign}₹{whole}.{fraction}"


def percent(part: object, whole: object) -> str:
    numerator, denominator = decimal_or_none(part), decimal_or_none(whole)
    if numerator is None or not denominator:
        return "—"
    value = (numerator * 100 / denominator).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ist(value: object, now: datetime) -> str:
    """``10:15:03 IST``; with the date when it is not today's (IST) date."""
    moment = parse_time(value)
    if moment is None:
        return ""
    local = moment.astimezone(IST)
    if local.date() == now.astimezone(IST).date():
        return f"{local:%H:%M:%S} IST"
    return f"{local.day} {local:%b %H:%M:%S} IST"


def words(value: object) -> str:
    """``trailing_stop`` → ``trailing stop``."""
    return str(value or "").replace("_", " ").strip()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jsonable(value: Any) -> Any:
    """Payload values as JSON: Decimal and datetime become strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
