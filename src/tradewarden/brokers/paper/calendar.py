"""NSE trading sessions from ``pandas_market_calendars`` (loaded lazily: pandas is slow to import).

Session hours in IST: pre-open 09:00-09:15, open 09:15-15:30 on trading days (the library's
schedule supplies the days and the open/close instants, including special sessions).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from tradewarden.brokers.base import SessionName
from tradewarden.clock import IST

PRE_OPEN_MINUTES = 15


class NseCalendar:
    """Answers "which session is it at instant t?" for NSE, one year of schedule at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._years: dict[int, dict[date, tuple[datetime, datetime]]] = {}

    def _year(self, year: int) -> dict[date, tuple[datetime, datetime]]:
        with self._lock:
            cached = self._years.get(year)
            if cached is not None:
                return cached
            import pandas_market_calendars as mcal

            schedule = mcal.get_calendar("NSE").schedule(f"{year}-01-01", f"{year}-12-31")
            days: dict[date, tuple[datetime, datetime]] = {}
            for day, row in schedule.iterrows():
                opens = row["market_open"].to_pydatetime()
                closes = row["market_close"].to_pydatetime()
                days[day.date()] = (opens, closes)
            self._years[year] = days
            return days

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """(open, close) as aware datetimes for a trading day, else ``None``."""
        return self._year(day.year).get(day)

    def is_trading_day(self, day: date) -> bool:
        return self.hours(day) is not None

    def session_at(self, now: datetime) -> SessionName:
        """The NSE session at ``now`` (aware datetime)."""
        local = now.astimezone(IST)
        hours = self.hours(local.date())
        if hours is None:
            return SessionName.CLOSED
        opens, closes = hours
        if opens <= now < closes:
            return SessionName.OPEN
        if opens - timedelta(minutes=PRE_OPEN_MINUTES) <= now < opens:
            return SessionName.PRE_OPEN
        return SessionName.CLOSED


_CALENDAR: NseCalendar | None = None


def nse_calendar() -> NseCalendar:
    """The process-wide calendar instance."""
    global _CALENDAR
    if _CALENDAR is None:
        _CALENDAR = NseCalendar()
    return _CALENDAR
