"""Expiry dates and contract symbols, for any 'today' (no fixed expiries)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tradewarden.domain.contracts import (
    THURSDAY,
    TUESDAY,
    future_symbol,
    monthly_expiries,
    monthly_expiry,
    option_symbol,
    weekly_expiries,
)


def test_symbols_as_openalgo_writes_them() -> None:
    assert future_symbol("nifty", date(2026, 12, 29)) == "NIFTY29DEC26FUT"
    assert option_symbol("NIFTY", date(2027, 1, 5), 26000, "CE") == "NIFTY05JAN2726000CE"
    assert option_symbol("NIFTY", date(2027, 1, 5), Decimal("25950.00"), "PE") == \
        "NIFTY05JAN2725950PE"
    assert option_symbol("USDINR", date(2027, 1, 5), Decimal("83.25"), "CE") == \
        "USDINR05JAN2783.25CE"


def test_monthly_expiry_is_the_last_tuesday_moved_back_over_holidays() -> None:
    assert monthly_expiry(2026, 12) == date(2026, 12, 29)
    assert monthly_expiry(2027, 3, THURSDAY) == date(2027, 3, 25)
    holiday = date(2026, 12, 29)
    assert monthly_expiry(2026, 12, is_trading_day=lambda d: d.weekday() < 5 and d != holiday) \
        == date(2026, 12, 28)


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)))
def test_expiries_from_any_day_are_in_the_future_and_ordered(today: date) -> None:
    months = monthly_expiries(today, 3)
    assert today <= months[0] < months[1] < months[2]
    assert all(m.weekday() == TUESDAY for m in months)
    assert all((m + timedelta(days=7)).month != m.month for m in months)
    weeks = weekly_expiries(today, 2)
    assert today <= weeks[0] < weeks[1] and (weeks[0] - today).days < 7
    assert months[0] in weekly_expiries(today, 6)
