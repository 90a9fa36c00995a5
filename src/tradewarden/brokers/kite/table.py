"""Kite Connect v3's vocabulary in one table: statuses, errors, tags, enums, limits.

Everything the adapter must know about Zerodha's strings lives here, so a change at Kite is
one edit: the order status strings (order book, history and the websocket's order updates),
``error_type`` → our error class, the tag rule, the product / order type / variety / validity
spellings, the per-endpoint rate limits and which orders carry market protection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tradewarden.brokers.errors import (
    BrokerError,
    BrokerResponseError,
    BrokerServerError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    SessionExpiredError,
)
from tradewarden.brokers.status_table import StatusTable
from tradewarden.domain.orders import OrderType, Product, Validity, Variety
from tradewarden.domain.statuses import OrderStatus

S = OrderStatus

# ---- order statuses ---------------------------------------------------------------------

#: Kite's order status strings. Transient "request in progress" states map to the order's
#: underlying state (open): whether a cancel or modify is *ours* and pending is the ledger's
#: knowledge. ``UPDATE`` appears only in the websocket/postback stream (a modification or a
#: partial fill of an open order). An unknown string maps to ``None``: treat it as working.
KITE_STATUSES: dict[str, OrderStatus] = {
    "PUT ORDER REQ RECEIVED": S.OPEN,
    "VALIDATION PENDING": S.OPEN,
    "OPEN PENDING": S.OPEN,
    "OPEN": S.OPEN,
    "TRIGGER PENDING": S.OPEN,
    "MODIFY VALIDATION PENDING": S.OPEN,
    "MODIFY PENDING": S.OPEN,
    "MODIFIED": S.OPEN,
    "CANCEL PENDING": S.OPEN,
    "AMO REQ RECEIVED": S.OPEN,
    "UPDATE": S.OPEN,
    "COMPLETE": S.FILLED,
    "CANCELLED": S.CANCELLED,
    "REJECTED": S.REJECTED,
}

KITE_STATUS_TABLE = StatusTable("kite", KITE_STATUSES)


def map_status(raw: str, *, filled_quantity: int = 0, quantity: int = 0) -> OrderStatus | None:
    """Our status for a Kite status string; ``None`` when unknown (keep it as working).

    A working status with fills is ``partially_filled`` (``filled`` once all is filled).
    """
    return KITE_STATUS_TABLE.map(raw, filled_quantity=filled_quantity, quantity=quantity)


# ---- errors -----------------------------------------------------------------------------


class KiteErrorType(StrEnum):
    """The documented ``error_type`` values of an error envelope."""

    TOKEN = "TokenException"
    USER = "UserException"
    ORDER = "OrderException"
    INPUT = "InputException"
    MARGIN = "MarginException"
    HOLDING = "HoldingException"
    NETWORK = "NetworkException"
    DATA = "DataException"
    GENERAL = "GeneralException"
    PERMISSION = "PermissionException"


#: Texts of an ``OrderException``/``InputException`` that mean money, not parameters.
_FUNDS_TEXT = re.compile(
    r"insufficient (funds?|margin|balance)|margin exceeds|margin shortfall", re.IGNORECASE
)
#: Texts of a targeted order query that mean "no such order".
_NOT_FOUND_TEXT = re.compile(r"couldn'?t find|not found|invalid order ?id", re.IGNORECASE)

#: Error types that mean Kite could not tell what its order system did.
_UNCERTAIN = frozenset({KiteErrorType.NETWORK, KiteErrorType.DATA, KiteErrorType.GENERAL})


def error_for(
    *,
    http_status: int,
    error_type: str | None,
    message: str,
    placement: bool = False,
    order_lookup: bool = False,
    retry_after: float = 1.0,
) -> BrokerError:
    """The error to raise for a Kite error answer.

    ``placement``: the request was ``POST /orders/{variety}`` — anything that leaves its
    outcome open (5xx, Network/Data/General exceptions, 429) is ambiguous then: resolve it from
    the order book by tag, never by sending it again. ``order_lookup``: the request was a
    targeted ``GET /orders/{id}``, where a not-found answer is :class:`OrderNotFoundError`.
    """
    kind = error_type or ""
    if kind == KiteErrorType.TOKEN or (http_status == 403 and not kind):
        return SessionExpiredError(message, code="session_expired")
    if http_status == 429:
        if placement:
            return BrokerServerError(
                f"rate limited on placement, outcome unknown: {message}",
                status_code=429,
                code="rate_limited",
            )
        return RateLimitedError(message, retry_after=retry_after, code="rate_limited")
    if order_lookup and http_status < 500 and (
        http_status == 404 or _NOT_FOUND_TEXT.search(message)
    ):
        return OrderNotFoundError(message, code="not_found")
    if kind == KiteErrorType.MARGIN:
        return InsufficientFundsError(message, code="insufficient_funds")
    if kind == KiteErrorType.HOLDING:
        return OrderRejectedError(message, code="no_holdings")
    if kind in (KiteErrorType.INPUT, KiteErrorType.ORDER, KiteErrorType.USER,
                KiteErrorType.PERMISSION):
        if _FUNDS_TEXT.search(message):
            return InsufficientFundsError(message, code="insufficient_funds")
        return OrderRejectedError(message, code=kind.removesuffix("Exception").lower())
    if kind in _UNCERTAIN or http_status >= 500:
        status = http_status if http_status >= 500 else 502
        return BrokerServerError(message, status_code=status, code=kind or "server_error")
    if not kind:
        return BrokerResponseError(f"unexpected answer (HTTP {http_status}): {message}")
    # An error type Kite may add later: refused, but we cannot say more.
    return OrderRejectedError(message, code=kind)


# ---- tags -------------------------------------------------------------------------------

TAG_MAX_LENGTH = 20
_TAG = re.compile(r"[A-Za-z0-9]{1,20}")


def valid_tag(tag: str) -> bool:
    """Kite's rule: alphanumeric, at most 20 characters (our client order ids fit)."""
    return _TAG.fullmatch(tag) is not None


#: Tags Kite adds itself to an order's ``tags`` list (``mktp``, ``mktp:2.00`` on orders with
#: market protection): never a client's tag.
KITE_SYSTEM_TAG_PREFIXES: tuple[str, ...] = ("mktp",)


def client_tag(tag: object, tags: object) -> str | None:
    """The client's tag of an order: its ``tag``, else the first of ``tags`` that is a valid
    tag and not one Kite adds itself."""
    if isinstance(tag, str) and tag:
        return tag
    if isinstance(tags, list):
        for item in tags:
            if (isinstance(item, str) and valid_tag(item)
                    and not item.lower().startswith(KITE_SYSTEM_TAG_PREFIXES)):
                return item
    return None


# ---- enums ------------------------------------------------------------------------------

PRODUCTS: dict[Product, str] = {Product.CNC: "CNC", Product.MIS: "MIS", Product.NRML: "NRML"}
ORDER_TYPES: dict[OrderType, str] = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.SL: "SL",
    OrderType.SL_M: "SL-M",
}
VARIETIES: dict[Variety, str] = {Variety.REGULAR: "regular", Variety.AMO: "amo"}
VALIDITIES: dict[Validity, str] = {Validity.DAY: "DAY", Validity.IOC: "IOC"}

#: Products of orders placed elsewhere (Kite app) that have no product of ours: the nearest.
_OTHER_PRODUCTS: dict[str, Product] = {"CO": Product.MIS, "BO": Product.MIS, "MTF": Product.CNC}


def product_from_kite(raw: str) -> Product:
    for ours, theirs in PRODUCTS.items():
        if theirs == raw.upper():
            return ours
    return _OTHER_PRODUCTS.get(raw.upper(), Product.MIS)


def order_type_from_kite(raw: str) -> OrderType:
    for ours, theirs in ORDER_TYPES.items():
        if theirs == raw.upper():
            return ours
    raise ValueError(f"unknown Kite order type {raw!r}")


def variety_from_kite(raw: str) -> Variety:
    """``amo`` is AMO; ``regular``, ``co``, ``iceberg``, ``auction`` are regular to us."""
    return Variety.AMO if raw.lower() == "amo" else Variety.REGULAR


def validity_from_kite(raw: str) -> Validity:
    """``IOC`` is IOC; ``DAY`` and ``TTL`` (minutes) are day orders to us."""
    return Validity.IOC if raw.upper() == "IOC" else Validity.DAY


#: Exchanges (segments) Kite trades that Tradewarden knows.
EXCHANGES: frozenset[str] = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "MCX"})

# ---- market protection ------------------------------------------------------------------

#: Kite's value for "apply the exchange's automatic market protection".
MARKET_PROTECTION_AUTO = -1
#: Order types sent with ``market_protection`` (exchange rule for API orders since April 2026).
PROTECTED_ORDER_TYPES: frozenset[OrderType] = frozenset({OrderType.MARKET, OrderType.SL_M})

# ---- rate limits ------------------------------------------------------------------------


class Endpoint(StrEnum):
    """The classes of Kite endpoints that have their own rate limit."""

    ORDERS = "orders"  # POST/PUT/DELETE /orders/...
    QUOTES = "quotes"  # /quote, /quote/ohlc, /quote/ltp
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Limit:
    per_second: float


RATE_LIMITS: dict[Endpoint, Limit] = {
    Endpoint.ORDERS: Limit(10.0),
    Endpoint.QUOTES: Limit(1.0),
    Endpoint.OTHER: Limit(10.0),
}


def endpoint_of(method: str, path: str) -> Endpoint:
    """Which limit a request counts against."""
    if path.startswith("/quote"):
        return Endpoint.QUOTES
    if path.startswith("/orders/") and method.upper() in ("POST", "PUT", "DELETE"):
        return Endpoint.ORDERS
    return Endpoint.OTHER


#: At most this many instruments per ``GET /quote/ltp``.
LTP_MAX_INSTRUMENTS = 1000
