"""Single legacy field values: timestamps, symbols, statuses, reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.legacy import values

NOW = datetime(2025, 2, 1, tzinfo=UTC)
IST_1605_UTC = datetime(2025, 1, 27, 10, 35, tzinfo=UTC)


@pytest.mark.parametrize("raw", [
    "2025-01-27T16:05:00",  # the seed's naive datetime.now().isoformat(): India time
    "2025-01-27 16:05:00",
    "2025-01-27T16:05:00+05:30",
    "2025-01-27T10:35:00Z",
    "27-Jan-2025 16:05:00",  # Kotak's ordDtTm
    1737974100,  # epoch seconds
    1737974100000,  # epoch milliseconds
])
def test_timestamps_become_aware_utc(raw: object) -> None:
    moment = values.timestamp(raw, "placed_at", now=NOW)
    assert moment == IST_1605_UTC
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(("raw", "message"), [
    (None, "placed_at is missing"),
    ("yesterday", "is not a date and time"),
    ("1999-12-31T10:00:00", "out of range"),
    ("2025-03-01T10:00:00", "out of range"),  # a month after "now"
])
def test_bad_timestamps_are_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.timestamp(raw, "placed_at", now=NOW)


@pytest.mark.parametrize("raw", ["RELIANCE-EQ", "reliance", " RELIANCE-BE ", "RELIANCE.NS",
                                 "RELIANCE-BL"])
def test_suffix_variants_are_one_symbol(raw: str) -> None:
    assert values.symbol(raw) == "RELIANCE"


@pytest.mark.parametrize(("raw", "expected"), [
    ("PENDING", OrderStatus.OPEN),
    ("OPEN", OrderStatus.OPEN),
    ("ongoing", OrderStatus.OPEN),  # never a fill (BRIEF §10)
    ("ONGOING", OrderStatus.OPEN),
    ("AMO REQ RECEIVED", OrderStatus.OPEN),
    ("after market order req received", OrderStatus.OPEN),
    ("trigger pending", OrderStatus.OPEN),
    ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
    ("COMPLETE", OrderStatus.FILLED),
    ("EXECUTED", OrderStatus.FILLED),
    ("REJECTED", OrderStatus.REJECTED),
    ("CANCELLED", OrderStatus.CANCELLED),
    ("CANCELED", OrderStatus.CANCELLED),  # Shoonya's spelling
    ("cancelled after market order", OrderStatus.CANCELLED),
    ("CLOSED", OrderStatus.CANCELLED),  # the seed's DB mapping of a cancelled pending order
    ("EXPIRED", OrderStatus.EXPIRED),
    ("FAILED", OrderStatus.FAILED),
])
def test_every_legacy_status_spelling(raw: str, expected: OrderStatus) -> None:
    assert values.order_status(raw) is expected


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not a known order status"):
        values.order_status("SENT_TO_MOON")


@pytest.mark.parametrize(("text", "code"), [
    ("insufficient_balance", ReasonCode.INSUFFICIENT_FUNDS),
    ("RMS:Margin Exceeds,Required:9446.00", ReasonCode.INSUFFICIENT_FUNDS),
    ("Session expired, please login again", ReasonCode.SESSION_EXPIRED),
    ("Connection timed out", ReasonCode.BROKER_UNAVAILABLE),
    ("Scrip not allowed in AMO", ReasonCode.BROKER_VALIDATION),
    (None, ReasonCode.BROKER_VALIDATION),
])
def test_failure_reason_codes(text: str | None, code: ReasonCode) -> None:
    assert values.failure_code(text) is code


def test_quantities_and_prices() -> None:
    assert values.quantity("10") == values.quantity(Decimal("10.0")) == 10
    for bad in ("ten", "2.5", 0, -1, True):
        with pytest.raises(ValueError):
            values.quantity(bad)
    assert values.price(Decimal("1640.05"), "price") == Decimal("1640.05")
    assert values.price(0.0, "price") is None  # the seed's "no price" for market orders
    with pytest.raises(ValueError, match="negative"):
        values.price("-1", "price")
