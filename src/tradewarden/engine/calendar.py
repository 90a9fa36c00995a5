"""Trading days and session times for the engine (IST market logic, UTC instants).

Backed by the NSE calendar from ``pandas_market_calendars``; the override table for holidays
and special sessions arrives with the scheduler.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tradewarden.brokers.paper.calendar import NseCalendar, nse_calendar

IST = ZoneInfo("Asia/Kolkata")
PREMARKET_RETRY_START = time(9, 0)
PREMARKET_RETRY_END = time(9, 8)
SESSION_CLOSE = time(15, 30)


class TradingCalendar:
    """Questions the engine asks about trading days."""

    def __init__(self, calendar: NseCalendar | None = None) -> None:
        self._calendar = calendar or nse_calendar()

    def is_trading_day(self, day: date) -> bool:
        return self._calendar.is_trading_day(day)

    def next_trading_day(self, after: date) -> date:
        """The first trading day strictly after ``after``."""
        day = after + timedelta(days=1)
        for _ in range(30):
            if self.is_trading_day(day):
                return day
            day += timedelta(days=1)
        raise RuntimeError(f"no trading day within 30 days after {after}")

    def trading_day_on_or_after(self, day: date) -> date:
        return day if self.is_trading_day(day) else self.next_trading_day(day)

    def close_of(self, day: date) -> datetime:
        """The session close of ``day`` as a UTC instant."""
        hours = self._calendar.hours(day)
        if hours is not None:
            return hours[1].astimezone(UTC)
        return datetime.combine(day, SESSION_CLOSE, IST).astimezone(UTC)

    def next_premarket_window(self, now: datetime) -> datetime:
        """Start (UTC) of the next pre-market retry window (09:00 IST) after ``now``."""
        local = now.astimezone(IST)
        day = local.date()
        start = datetime.combine(day, PREMARKET_RETRY_START, IST)
        if not (self.is_trading_day(day) and local < start):
            day = self.next_trading_day(day)
            start = datetime.combine(day, PREMARKET_RETRY_START, IST)
        return start.astimezone(UTC)

    def retry_expiry(self, first_failed_at: datetime) -> datetime:
        """An entry in the retry queue expires at the next trading day's close (UTC)."""
        local_day = first_failed_at.astimezone(IST).date()
        return self.close_of(self.next_trading_day(local_day))
