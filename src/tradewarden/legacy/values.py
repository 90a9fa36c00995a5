"""Readers for single legacy field values: numbers, timestamps, symbols, statuses, reasons.

Every reader raises ``ValueError`` with a sentence fit for the import report.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradewarden.clock import IST
from tradewarden.domain.instruments import EXCHANGES, canonical_symbol
from tradewarden.domain.money import MoneyError, to_decimal
from tradewarden.domain.orders import OrderType, Product, Side, Variety
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus

#: The seed-era code wrote ``datetime.now().isoformat()``: naive wall time in India.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S")
_SYMBOL = re.compile(r"^[A-Z0-9&_.-]{1,40}$")
MAX_QUANTITY = 10_000_000
PRICE_PLACES = Decimal("0.000001")  # NUMERIC(20, 6)


def _show(value: object) -> str:
    """A value as the report shows it: strings quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _words(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


def text(value: object, name: str) -> str:
    """A non-empty string (numbers are accepted and written in decimal)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} is missing")
    if isinstance(value, int | Decimal | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is missing")
    return value.strip()


def optional_text(value: object) -> str | None:
    try:
        return text(value, "value")
    except ValueError:
        return None


def quantity(value: object, name: str = "qty") -> int:
    """A positive whole number of shares ("10", 10 and 10.0 are all ten)."""
    try:
        amount = to_decimal(value)
    except MoneyError:
        raise ValueError(f"{name} {_show(value)} is not a number") from None
    if amount != amount.to_integral_value():
        raise ValueError(f"{name} {_show(value)} is not a whole number")
    if not 0 < amount <= MAX_QUANTITY:
        raise ValueError(f"{name} {_show(value)} must be between 1 and {MAX_QUANTITY}")
    return int(amount)


def filled(value: object, total: int) -> int:
    """An executed quantity between 0 and ``total`` (missing means 0)."""
    if value is None or value == "":
        return 0
    try:
        amount = to_decimal(value)
    except MoneyError:
        raise ValueError(f"executed_qty {_show(value)} is not a number") from None
    if amount != amount.to_integral_value() or not 0 <= amount <= total:
        raise ValueError(f"executed_qty {_show(value)} is outside 0..{total}")
    return int(amount)


def price(value: object, name: str) -> Decimal | None:
    """A price: ``None`` when missing or zero (the seed wrote 0.0 for market orders)."""
    if value is None or value == "":
        return None
    try:
        amount = to_decimal(value)
    except MoneyError:
        raise ValueError(f"{name} {_show(value)} is not a number") from None
    if amount < 0:
        raise ValueError(f"{name} {_show(value)} is negative")
    if amount == 0:
        return None
    if amount >= Decimal("1e12"):
        raise ValueError(f"{name} {_show(value)} is out of range")
    return amount.quantize(PRICE_PLACES).normalize()


def timestamp(value: object, name: str, *, now: datetime) -> datetime:
    """A timezone-aware UTC time; naive legacy times are India time (IST)."""
    moment: datetime | None = None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        seconds = float(value) / (1000 if float(value) > 1e11 else 1)
        moment = datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            for fmt in _FORMATS:
                try:
                    moment = datetime.strptime(raw, fmt).replace(tzinfo=IST)
                    break
                except ValueError:
                    continue
    elif value is None or value == "":
        raise ValueError(f"{name} is missing")
    if moment is None:
        raise ValueError(f"{name} {_show(value)} is not a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    moment = moment.astimezone(UTC)
    if not EARLIEST <= moment <= now + timedelta(days=1):
        raise ValueError(f"{name} {_show(value)} is out of range")
    return moment


def symbol(value: object) -> str:
    """The canonical symbol: ``RELIANCE-EQ`` and ``reliance`` are both ``RELIANCE``."""
    raw = text(value, "symbol").upper()
    if raw.endswith((".NS", ".BO")):
        raw = raw[:-3]
    canonical = canonical_symbol(raw)
    if not _SYMBOL.match(canonical):
        raise ValueError(f"symbol {_show(value)} is not a trading symbol")
    return canonical


def exchange(value: object, ticker: object) -> str:
    """The exchange: explicit, else from a Yahoo-style ticker (``.BO`` = BSE), else NSE."""
    explicit = optional_text(value)
    if explicit is not None:
        upper = explicit.upper()
        if upper not in EXCHANGES:
            raise ValueError(f"exchange {explicit!r} is not one of {', '.join(sorted(EXCHANGES))}")
        return upper
    tick = optional_text(ticker)
    return "BSE" if tick is not None and tick.upper().endswith(".BO") else "NSE"


def side(value: object) -> Side:
    raw = optional_text(value)
    if raw is None:
        return Side.BUY  # the seed's pending orders were AMO buys unless they said otherwise
    word = _words(raw)
    if word in ("b", "buy"):
        return Side.BUY
    if word in ("s", "sell"):
        return Side.SELL
    raise ValueError(f"side {raw!r} is neither BUY nor SELL")


def order_type(value: object, limit_price: Decimal | None) -> OrderType:
    raw = optional_text(value)
    if raw is None:
        return OrderType.LIMIT if limit_price is not None else OrderType.MARKET
    word = _words(raw)
    table = {"market": OrderType.MARKET, "mkt": OrderType.MARKET, "limit": OrderType.LIMIT,
             "l": OrderType.LIMIT, "sl": OrderType.SL, "sl m": OrderType.SL_M,
             "slm": OrderType.SL_M}
    if word not in table:
        raise ValueError(f"order_type {raw!r} is not MARKET, LIMIT, SL or SL-M")
    return table[word]


def product(value: object) -> Product:
    raw = optional_text(value)
    if raw is None:
        return Product.CNC  # the seed's DEFAULT_PRODUCT
    try:
        return Product(raw.upper())
    except ValueError:
        raise ValueError(f"product {raw!r} is not CNC, MIS or NRML") from None


def variety(value: object) -> Variety:
    raw = optional_text(value)
    if raw is None:
        return Variety.AMO  # the seed's DEFAULT_VARIETY
    word = _words(raw)
    if word in ("amo", "after market order"):
        return Variety.AMO
    if word in ("regular", "normal", "nrml", "day"):
        return Variety.REGULAR
    raise ValueError(f"variety {raw!r} is neither AMO nor REGULAR")


# --- statuses -------------------------------------------------------------------------------

_WORKING = frozenset({
    "pending", "open", "ongoing", "amo", "amo req received", "after market order req received",
    "put order req received", "trigger pending", "validation pending", "open pending",
    "pending execution", "modify pending", "modify validation pending", "modified",
    "cancel pending", "received", "placed", "pending validation",
})
_PARTIAL = frozenset({"partially filled", "partially executed", "partial", "part traded",
                      "partially complete", "partial fill"})
_FILLED = frozenset({"complete", "completed", "executed", "filled", "traded",
                     "fully executed", "fully filled"})
_EXPIRED = frozenset({"expired", "lapsed"})
_FAILED = frozenset({"failed", "retry pending", "not placed", "error"})


def order_status(raw: str) -> OrderStatus:
    """Our status for a broker/legacy order status string (BRIEF §10: every spelling).

    "ongoing" is a working order, never a fill: only statuses that say the order completed
    become ``filled``; anything the monitor can still verify stays ``open``.
    """
    word = _words(raw)
    if word in _WORKING:
        return OrderStatus.OPEN
    if word in _PARTIAL:
        return OrderStatus.PARTIALLY_FILLED
    if word in _FILLED:
        return OrderStatus.FILLED
    if word.startswith("reject"):
        return OrderStatus.REJECTED
    if word.startswith(("cancel", "closed")):  # CANCELED, "cancelled after market order"
        return OrderStatus.CANCELLED
    if word in _EXPIRED:
        return OrderStatus.EXPIRED
    if word in _FAILED:
        return OrderStatus.FAILED
    raise ValueError(f"status {raw!r} is not a known order status")


#: Trade statuses of ``trades_history.json`` (a position's status, not an order's).
TRADE_HOLDING = frozenset({"open", "holding", "active"})
TRADE_CLOSED = frozenset({"closed", "exited", "sold", "squared off", "square off"})


def trade_state(raw: str) -> str:
    """``holding``, ``closed`` or ``order`` (the trade's status is really its order's)."""
    word = _words(raw)
    if word in TRADE_HOLDING:
        return "holding"
    if word in TRADE_CLOSED:
        return "closed"
    return "order"


# --- failure reasons ------------------------------------------------------------------------

_REASON_WORDS: tuple[tuple[ReasonCode, tuple[str, ...]], ...] = (
    (ReasonCode.INSUFFICIENT_FUNDS, ("insufficient", "balance", "fund", "margin", "shortfall")),
    (ReasonCode.SESSION_EXPIRED, ("session", "login", "token", "2fa", "auth", "expired jwt")),
    (ReasonCode.BROKER_UNAVAILABLE, ("timeout", "timed out", "connection", "unavailable",
                                     "network", "server error", "503", "502", "rate limit")),
    (ReasonCode.LOST, ("not found", "lost", "missing")),
)


def failure_code(reason: str | None,
                 default: ReasonCode = ReasonCode.BROKER_VALIDATION) -> ReasonCode:
    """The failure reason code for a legacy reason text (no text: ``default``).

    Unrecognised texts are ``broker_validation`` (not retryable); the text itself is kept as
    the order's human reason.
    """
    if not reason:
        return default
    lowered = reason.lower()
    for code, words in _REASON_WORDS:
        if any(w in lowered for w in words):
            return code
    return ReasonCode.BROKER_VALIDATION
