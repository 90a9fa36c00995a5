from __future__ import annotations

from decimal import Decimal

import pytest

from tradewarden.domain.instruments import Instrument, InstrumentKey, canonical_symbol
from tradewarden.domain.money import MoneyError, format_inr, round_to_step, to_decimal
from tradewarden.domain.reasons import DENIAL_CODES, FAILURE_CODES, RETRYABLE, ReasonCode


def test_floats_become_their_shortest_decimal() -> None:
    assert to_decimal(2501.35) == Decimal("2501.35")
    assert to_decimal("  10 ") == Decimal(10)
    for bad in ("abc", "NaN", "inf", True, None, [1]):
        with pytest.raises(MoneyError):
            to_decimal(bad)


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [("2501.37", "nearest", "2501.35"), ("2501.38", "nearest", "2501.40"),
     ("2501.375", "nearest", "2501.40"), ("2501.39", "down", "2501.35"),
     ("2501.31", "up", "2501.35"), ("100", "nearest", "100.00")],
)
def test_round_to_tick(value: str, mode: str, expected: str) -> None:
    assert round_to_step(Decimal(value), Decimal("0.05"), mode) == Decimal(expected)
    assert str(round_to_step(Decimal(value), Decimal("0.05"), mode)) == expected


def test_instrument_price_and_quantity_rules() -> None:
    nifty = Instrument("NFO", "NIFTY26NOVFUT", lot_size=75, instrument_type="FUT")
    assert nifty.price_problem(Decimal("24000.05")) is None
    assert "tick size" in (nifty.price_problem(Decimal("24000.03")) or "")
    assert "positive" in (nifty.price_problem(Decimal("0")) or "")
    assert nifty.quantity_problem(150) is None
    assert "lot size 75" in (nifty.quantity_problem(100) or "")
    equity = Instrument("NSE", "RELIANCE")
    assert equity.band(Decimal("2500")) == (Decimal("2000.00"), Decimal("3000.00"))
    assert equity.round_price(Decimal("2500.03")) == Decimal("2500.05")


def test_suffix_variants_are_one_instrument() -> None:
    for raw in ("RELIANCE-EQ", "reliance-be", "RELIANCE-BL", "RELIANCE-BZ", " RELIANCE "):
        assert canonical_symbol(raw) == "RELIANCE"
    assert InstrumentKey.of("nse", "RELIANCE-EQ") == InstrumentKey.parse("NSE:RELIANCE")
    assert str(InstrumentKey.parse("NSE:SBIN-EQ")) == "NSE:SBIN"
    with pytest.raises(ValueError, match="EXCHANGE:SYMBOL"):
        InstrumentKey.parse("RELIANCE")


def test_inr_format_uses_indian_grouping() -> None:
    assert format_inr(Decimal("1234567.8")) == "₹12,34,567.80"
    assert format_inr(Decimal("-999.5")) == "-₹999.50"
    assert format_inr(Decimal("100000")) == "₹1,00,000.00"


def test_every_reason_code_has_text_and_a_kind() -> None:
    for code in ReasonCode:
        assert code.text.endswith(".")
        assert (code in DENIAL_CODES) != (code in FAILURE_CODES)
    assert RETRYABLE <= FAILURE_CODES
    assert ReasonCode.INSUFFICIENT_FUNDS.retryable and not ReasonCode.LOST.retryable


def test_histogram_overflow_is_its_own_bucket() -> None:
    from tradewarden.metrics import Metrics

    metrics = Metrics()
    metrics.observe("x_seconds", 12.0)
    metrics.observe("x_seconds", 0.5)
    text = metrics.render()
    assert "x_seconds_sum 12.5" in text and "x_seconds_count 2" in text
    assert 'x_seconds_bucket{le="10"} 1' in text and 'x_seconds_bucket{le="+Inf"} 2' in text
