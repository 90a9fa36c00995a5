"""Local corrections to the NSE calendar: extra holidays and special sessions, one per IST date.

The engine loads them into :class:`tradewarden.engine.calendar.TradingCalendar` (which stays
pure and never queries the database itself); the CLI edits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.store.db import Database
from tradewarden.store.tables import CalendarOverrideRow


class OverrideKind(StrEnum):
    HOLIDAY = "holiday"
    SPECIAL_SESSION = "special_session"


@dataclass(frozen=True, slots=True)
class CalendarOverride:
    """One override: a holiday, or a special session with IST wall-clock open/close times."""

    day: date
    kind: OverrideKind
    open_time: time | None = None
    close_time: time | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind is OverrideKind.HOLIDAY:
            if self.open_time is not None or self.close_time is not None:
                raise ValueError("a holiday has no session times")
            return
        if self.open_time is None or self.close_time is None:
            raise ValueError("a special session needs an open and a close time")
        if self.open_time >= self.close_time:
            raise ValueError(
                f"session open {self.open_time:%H:%M} must be before close {self.close_time:%H:%M}"
            )

    @classmethod
    def holiday(cls, day: date, note: str = "") -> CalendarOverride:
        return cls(day, OverrideKind.HOLIDAY, note=note)

    @classmethod
    def special_session(cls, day: date, open_time: time, close_time: time,
                        note: str = "") -> CalendarOverride:
        return cls(day, OverrideKind.SPECIAL_SESSION, open_time, close_time, note)


def _to_override(row: CalendarOverrideRow) -> CalendarOverride:
    return CalendarOverride(row.day, OverrideKind(row.kind), row.open_time, row.close_time,
                            row.note or "")


class CalendarOverrides:
    """Reads and writes overrides inside the caller's session (transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, day: date) -> CalendarOverride | None:
        row = self._row(day)
        return _to_override(row) if row is not None else None

    def put(self, override: CalendarOverride, *, now: datetime | None = None
            ) -> CalendarOverride | None:
        """Insert or replace the override for ``override.day``; return the one replaced."""
        row = self._row(override.day)
        previous = _to_override(row) if row is not None else None
        if row is None:
            row = CalendarOverrideRow(day=override.day, created_at=now or utcnow())
            self._session.add(row)
        row.kind = override.kind.value
        row.open_time = override.open_time
        row.close_time = override.close_time
        row.note = override.note
        self._session.flush()
        return previous

    def remove(self, day: date) -> bool:
        """Delete the override for ``day``; ``False`` when there was none."""
        result = self._session.execute(
            delete(CalendarOverrideRow).where(CalendarOverrideRow.day == day))
        return bool(getattr(result, "rowcount", 0))

    def in_range(self, start: date | None = None,
                 end: date | None = None) -> list[CalendarOverride]:
        """Overrides with ``start <= day <= end`` (either bound optional), by date."""
        query = select(CalendarOverrideRow).order_by(CalendarOverrideRow.day)
        if start is not None:
            query = query.where(CalendarOverrideRow.day >= start)
        if end is not None:
            query = query.where(CalendarOverrideRow.day <= end)
        return [_to_override(row) for row in self._session.scalars(query)]

    def _row(self, day: date) -> CalendarOverrideRow | None:
        return self._session.scalars(
            select(CalendarOverrideRow).where(CalendarOverrideRow.day == day)).first()


def load_overrides(db: Database, start: date | None = None) -> list[CalendarOverride]:
    """All overrides (from ``start`` on, if given). Blocking: call via ``await db.run(...)``."""
    with db.read() as session:
        return CalendarOverrides(session).in_range(start)
