"""Derivative contracts: expiry dates and their symbols as OpenAlgo writes them (pure).

Futures read ``NIFTY29DEC26FUT`` and options ``NIFTY29DEC2626000CE``: underlying, expiry as
``DDMMMYY``, then ``FUT`` or strike and ``CE``/``PE``. NSE's index and stock derivatives
expire on the last Tuesday of the month (NIFTY also weekly, every Tuesday); BSE's on Thursday.
An expiry that falls on a holiday moves to the trading day before it.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

TUESDAY = 1
THURSDAY = 3

#: Is this date a trading day? (weekday check unless a calendar says more)
TradingDayTest = Callable[[date], bool]


def weekdays_only(day: date) -> bool:
    """The simplest trading-day test: Monday to Friday."""
    return day.weekday() < 5


def expiry_code(expiry: date) -> str:
    """``29DEC26`` for 2026-12-29."""
    return f"{expiry.day:02d}{calendar.month_abbr[expiry.month].upper()}{expiry:%y}"


def future_symbol(underlying: str, expiry: date) -> str:
    """``NIFTY29DEC26FUT``."""
    return f"{underlying.upper()}{expiry_code(expiry)}FUT"


def option_symbol(underlying: str, expiry: date, strike: Decimal | int, right: str) -> str:
    """``NIFTY29DEC2626000CE`` (a whole strike has no decimals; ``right`` is CE or PE)."""
    if right not in ("CE", "PE"):
        raise ValueError(f"option right must be CE or PE, got {right!r}")
    text = format(Decimal(strike).normalize(), "f")
    return f"{underlying.upper()}{expiry_code(expiry)}{text}{right}"


def _on_trading_day(day: date, is_trading_day: TradingDayTest) -> date:
    """``day``, or the trading day before it when the exchange is shut that day."""
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def monthly_expiry(year: int, month: int, weekday: int = TUESDAY,
                   is_trading_day: TradingDayTest = weekdays_only) -> date:
    """The month's expiry: its last ``weekday``, moved earlier over holidays."""
    last = date(year, month, calendar.monthrange(year, month)[1])
    day = last - timedelta(days=(last.weekday() - weekday) % 7)
    return _on_trading_day(day, is_trading_day)


def monthly_expiries(today: date, count: int, weekday: int = TUESDAY,
                     is_trading_day: TradingDayTest = weekdays_only) -> list[date]:
    """The next ``count`` monthly expiries on or after ``today``."""
    found: list[date] = []
    year, month = today.year, today.month
    while len(found) < count:
        expiry = monthly_expiry(year, month, weekday, is_trading_day)
        if expiry >= today:
            found.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def weekly_expiries(today: date, count: int, weekday: int = TUESDAY,
                    is_trading_day: TradingDayTest = weekdays_only) -> list[date]:
    """The next ``count`` weekly expiries on or after ``today``."""
    found: list[date] = []
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    while len(found) < count:
        expiry = _on_trading_day(day, is_trading_day)
        if expiry >= today:
            found.append(expiry)
        day += timedelta(days=7)
    return found
