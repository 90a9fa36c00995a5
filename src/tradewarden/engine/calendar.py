"""Trading days and session times for the engine (IST market logic, UTC instants).

Backed by the NSE calendar from ``pandas_market_calendars`` plus the local override table
(:mod:`tradewarden.store.calendar_overrides`): a ``holiday`` override makes a library trading
day non-trading; a ``special_session`` override makes its day trading with the override's IST
hours (replacing the library's hours on that day, e.g. Muhurat trading on a weekend).

The calendar never touches the database: overrides are loaded by the caller and handed in
(:meth:`TradingCalendar.with_overrides` for a new instance, :meth:`TradingCalendar.set_overrides`
to swap them in place on the instance the engine shares). Every question is a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.paper.calendar import PRE_OPEN_MINUTES, NseCalendar, nse_calendar
from tradewarden.clock import IST
from tradewarden.store.calendar_overrides import CalendarOverride, OverrideKind

PREMARKET_RETRY_START = time(9, 0)
PREMARKET_RETRY_END = time(9, 8)
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)
PRE_OPEN = timedelta(minutes=PRE_OPEN_MINUTES)


class TradingCalendar:
    """Questions the engine asks about trading days; instants are returned in UTC."""

    def __init__(self, calendar: NseCalendar | None = None,
                 overrides: Iterable[CalendarOverride] = ()) -> None:
        self._calendar = calendar or nse_calendar()
        self._overrides: Mapping[date, CalendarOverride] = {o.day: o for o in overrides}

    # -- overrides ---------------------------------------------------------------------------

    def with_overrides(self, overrides: Iterable[CalendarOverride]) -> TradingCalendar:
        """A calendar over the same library schedule with ``overrides`` (replacing any held)."""
        return TradingCalendar(self._calendar, overrides)

    def set_overrides(self, overrides: Iterable[CalendarOverride]) -> None:
        """Replace the overrides in place (one reference swap, safe for concurrent readers)."""
        self._overrides = {o.day: o for o in overrides}

    @property
    def overrides(self) -> list[CalendarOverride]:
        return sorted(self._overrides.values(), key=lambda o: o.day)

    def override_for(self, day: date) -> CalendarOverride | None:
        return self._overrides.get(day)

    # -- days and hours ----------------------------------------------------------------------

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """(open, close) of the IST date ``day`` as UTC instants, or ``None`` if not trading."""
        override = self._overrides.get(day)
        if override is not None:
            if override.kind is OverrideKind.HOLIDAY:
                return None
            assert override.open_time is not None and override.close_time is not None
            return (datetime.combine(day, override.open_time, IST).astimezone(UTC),
                    datetime.combine(day, override.close_time, IST).astimezone(UTC))
        hours = self._calendar.hours(day)
        if hours is None:
            return None
        return hours[0].astimezone(UTC), hours[1].astimezone(UTC)

    def is_trading_day(self, day: date) -> bool:
        return self.hours(day) is not None

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

    def open_of(self, day: date) -> datetime:
        """The session open of ``day`` as a UTC instant (09:15 IST if ``day`` does not trade)."""
        hours = self.hours(day)
        if hours is not None:
            return hours[0]
        return datetime.combine(day, SESSION_OPEN, IST).astimezone(UTC)

    def close_of(self, day: date) -> datetime:
        """The session close of ``day`` as a UTC instant (15:30 IST if ``day`` does not trade)."""
        hours = self.hours(day)
        if hours is not None:
            return hours[1]
        return datetime.combine(day, SESSION_CLOSE, IST).astimezone(UTC)

    def session_at(self, now: datetime) -> SessionName:
        """``pre_open`` (15 min before the open), ``open`` or ``closed`` at aware ``now``."""
        if now.tzinfo is None:
            raise ValueError("naive datetime refused; use timezone-aware UTC")
        hours = self.hours(now.astimezone(IST).date())
        if hours is None:
            return SessionName.CLOSED
        opens, closes = hours
        if opens <= now < closes:
            return SessionName.OPEN
        if opens - PRE_OPEN <= now < opens:
            return SessionName.PRE_OPEN
        return SessionName.CLOSED

    # -- retry queue helpers -----------------------------------------------------------------

    def next_premarket_window(self, now: datetime) -> datetime:
        """Start (UTC) of the next pre-market retry window after ``now``.

        The window opens with the pre-open, 15 minutes before the session open: 09:00 IST on a
        regular day, earlier or later on a special session.
        """
        day = now.astimezone(IST).date()
        hours = self.hours(day)
        if hours is not None and now < hours[0] - PRE_OPEN:
            return hours[0] - PRE_OPEN
        return self.open_of(self.next_trading_day(day)) - PRE_OPEN

    def retry_expiry(self, first_failed_at: datetime) -> datetime:
        """An entry in the retry queue expires at the next trading day's close (UTC)."""
        local_day = first_failed_at.astimezone(IST).date()
        return self.close_of(self.next_trading_day(local_day))
