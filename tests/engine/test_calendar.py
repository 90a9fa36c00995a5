"""TradingCalendar: library holidays, override holidays, special sessions, sessions in IST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from tradewarden.brokers.base import SessionName
from tradewarden.engine.calendar import IST, TradingCalendar
from tradewarden.store.calendar_overrides import (
    CalendarOverride,
    CalendarOverrides,
    OverrideKind,
    load_overrides,
)
from tradewarden.store.db import Database

REPUBLIC_DAY = date(2026, 1, 26)  # a Monday; NSE holiday in pandas_market_calendars
TUESDAY = date(2026, 1, 27)
WEDNESDAY = date(2026, 1, 28)
MUHURAT_SUNDAY = date(2026, 11, 8)


def ist(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), IST)


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return TradingCalendar()


def test_library_holiday_and_weekend_are_not_trading(calendar: TradingCalendar) -> None:
    assert REPUBLIC_DAY.weekday() == 0
    assert not calendar.is_trading_day(REPUBLIC_DAY)
    assert not calendar.is_trading_day(date(2026, 1, 25))  # Sunday
    assert calendar.is_trading_day(TUESDAY)
    assert calendar.next_trading_day(date(2026, 1, 23)) == TUESDAY
    assert calendar.session_at(ist(REPUBLIC_DAY, 10)) is SessionName.CLOSED


def test_regular_day_hours_and_sessions_in_ist(calendar: TradingCalendar) -> None:
    assert calendar.hours(TUESDAY) == (ist(TUESDAY, 9, 15).astimezone(UTC),
                                       ist(TUESDAY, 15, 30).astimezone(UTC))
    assert calendar.session_at(ist(TUESDAY, 8, 59)) is SessionName.CLOSED
    assert calendar.session_at(ist(TUESDAY, 9, 0)) is SessionName.PRE_OPEN
    assert calendar.session_at(ist(TUESDAY, 9, 15).astimezone(UTC)) is SessionName.OPEN
    assert calendar.session_at(ist(TUESDAY, 15, 29)) is SessionName.OPEN
    assert calendar.session_at(ist(TUESDAY, 15, 30)) is SessionName.CLOSED
    with pytest.raises(ValueError, match="naive"):
        calendar.session_at(datetime(2026, 1, 27, 10, 0))


def test_override_holiday_makes_a_library_trading_day_non_trading(
        calendar: TradingCalendar) -> None:
    assert calendar.is_trading_day(WEDNESDAY)
    overridden = calendar.with_overrides([CalendarOverride.holiday(WEDNESDAY, "closure")])
    assert not overridden.is_trading_day(WEDNESDAY)
    assert overridden.hours(WEDNESDAY) is None
    assert overridden.session_at(ist(WEDNESDAY, 10)) is SessionName.CLOSED
    assert overridden.next_trading_day(TUESDAY) == date(2026, 1, 29)
    assert not overridden.is_trading_day(REPUBLIC_DAY)  # library holidays still apply
    assert calendar.is_trading_day(WEDNESDAY)  # the original instance is untouched


def test_special_session_makes_a_weekend_day_trading_with_its_hours(
        calendar: TradingCalendar) -> None:
    assert MUHURAT_SUNDAY.weekday() == 6
    assert not calendar.is_trading_day(MUHURAT_SUNDAY)
    muhurat = CalendarOverride.special_session(MUHURAT_SUNDAY, time(18, 15), time(19, 15),
                                               "Muhurat trading")
    overridden = calendar.with_overrides([muhurat])
    assert overridden.is_trading_day(MUHURAT_SUNDAY)
    assert overridden.hours(MUHURAT_SUNDAY) == (ist(MUHURAT_SUNDAY, 18, 15).astimezone(UTC),
                                                ist(MUHURAT_SUNDAY, 19, 15).astimezone(UTC))
    assert overridden.session_at(ist(MUHURAT_SUNDAY, 10)) is SessionName.CLOSED
    assert overridden.session_at(ist(MUHURAT_SUNDAY, 18, 5)) is SessionName.PRE_OPEN
    assert overridden.session_at(ist(MUHURAT_SUNDAY, 18, 30)) is SessionName.OPEN
    assert overridden.session_at(ist(MUHURAT_SUNDAY, 19, 15)) is SessionName.CLOSED
    assert overridden.next_trading_day(date(2026, 11, 7)) == MUHURAT_SUNDAY
    assert overridden.close_of(MUHURAT_SUNDAY) == ist(MUHURAT_SUNDAY, 19, 15).astimezone(UTC)
    assert overridden.next_premarket_window(ist(MUHURAT_SUNDAY, 12)) == ist(
        MUHURAT_SUNDAY, 18, 0).astimezone(UTC)


def test_special_session_replaces_library_hours(calendar: TradingCalendar) -> None:
    short_day = calendar.with_overrides(
        [CalendarOverride.special_session(TUESDAY, time(10, 0), time(13, 0))])
    assert short_day.session_at(ist(TUESDAY, 9, 30)) is SessionName.CLOSED
    assert short_day.session_at(ist(TUESDAY, 9, 50)) is SessionName.PRE_OPEN
    assert short_day.session_at(ist(TUESDAY, 12, 59)) is SessionName.OPEN
    assert short_day.session_at(ist(TUESDAY, 14)) is SessionName.CLOSED


def test_set_overrides_swaps_in_place() -> None:
    calendar = TradingCalendar()
    calendar.set_overrides([CalendarOverride.holiday(WEDNESDAY)])
    assert not calendar.is_trading_day(WEDNESDAY)
    assert calendar.override_for(WEDNESDAY) is not None
    calendar.set_overrides([])
    assert calendar.is_trading_day(WEDNESDAY)
    assert calendar.overrides == []


def test_premarket_window_and_retry_expiry_on_regular_days(calendar: TradingCalendar) -> None:
    assert calendar.next_premarket_window(ist(TUESDAY, 8)) == ist(TUESDAY, 9).astimezone(UTC)
    assert calendar.next_premarket_window(ist(TUESDAY, 9, 1)) == ist(
        WEDNESDAY, 9).astimezone(UTC)
    # Friday 23rd after the window: Monday 26th is Republic Day, so Tuesday.
    assert calendar.next_premarket_window(ist(date(2026, 1, 23), 12)) == ist(
        TUESDAY, 9).astimezone(UTC)
    assert calendar.retry_expiry(ist(date(2026, 1, 23), 12)) == ist(
        TUESDAY, 15, 30).astimezone(UTC)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": OverrideKind.HOLIDAY, "open_time": time(9, 15)}, "no session times"),
    ({"kind": OverrideKind.SPECIAL_SESSION, "open_time": time(9, 15)}, "open and a close"),
    ({"kind": OverrideKind.SPECIAL_SESSION, "open_time": time(15), "close_time": time(9)},
     "before close"),
])
def test_override_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalendarOverride(day=TUESDAY, **kwargs)  # type: ignore[arg-type]


def test_overrides_round_trip_through_the_store(db: Database) -> None:
    holiday = CalendarOverride.holiday(WEDNESDAY, "exchange closure")
    session = CalendarOverride.special_session(MUHURAT_SUNDAY, time(18, 15), time(19, 15),
                                               "Muhurat")
    with db.transaction() as s:
        store = CalendarOverrides(s)
        assert store.put(holiday) is None
        assert store.put(CalendarOverride.holiday(MUHURAT_SUNDAY)) is None
        assert store.put(session) == CalendarOverride.holiday(MUHURAT_SUNDAY)  # replaced
    assert load_overrides(db) == [holiday, session]
    assert load_overrides(db, start=date(2026, 2, 1)) == [session]
    with db.read() as s:
        assert CalendarOverrides(s).in_range(end=date(2026, 2, 1)) == [holiday]
        assert CalendarOverrides(s).get(MUHURAT_SUNDAY) == session

    calendar = TradingCalendar().with_overrides(load_overrides(db))
    assert not calendar.is_trading_day(REPUBLIC_DAY)  # from the library
    assert not calendar.is_trading_day(WEDNESDAY)  # from the override table
    assert calendar.is_trading_day(MUHURAT_SUNDAY)

    with db.transaction() as s:
        assert CalendarOverrides(s).remove(WEDNESDAY)
        assert not CalendarOverrides(s).remove(WEDNESDAY)
    assert load_overrides(db) == [session]
