"""The simulator's clock: simulated time plus the market session.

One object serves all three modes; the mode only sets where it starts:

* ``manual`` — session pinned to ``closed`` until the control API changes it;
* ``real`` — session follows the NSE calendar at IST wall time;
* ``open`` — session pinned to ``open`` (always in session).

``pin(session)`` fixes the session; ``set_now(t)`` moves simulated time to ``t`` (it then
advances with the wall clock) and makes the session follow the calendar at that time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from tradewarden.brokers.base import SessionName
from tradewarden.brokers.paper.calendar import NseCalendar, nse_calendar
from tradewarden.clock import IST, utcnow


class ClockMode(StrEnum):
    MANUAL = "manual"
    REAL = "real"
    OPEN = "open"


class PaperClock:
    """Simulated time and session; state is a small dict so the store can persist it."""

    def __init__(
        self,
        mode: ClockMode,
        *,
        wall: Callable[[], datetime] = utcnow,
        calendar: Callable[[], NseCalendar] = nse_calendar,
    ) -> None:
        self.mode = mode
        self.utcnow = wall
        self._calendar = calendar
        self.pinned: SessionName | None = None
        self.offset = timedelta(0)
        self.reset()

    def reset(self) -> None:
        """Back to the mode's starting state."""
        self.offset = timedelta(0)
        self.pinned = {
            ClockMode.MANUAL: SessionName.CLOSED,
            ClockMode.OPEN: SessionName.OPEN,
            ClockMode.REAL: None,
        }[self.mode]

    def now(self) -> datetime:
        """Simulated current time (UTC)."""
        return self.utcnow() + self.offset

    def session(self, now: datetime | None = None) -> SessionName:
        """The session now (or at ``now``)."""
        if self.pinned is not None:
            return self.pinned
        return self._calendar().session_at(now or self.now())

    def trading_date(self, now: datetime | None = None) -> date:
        """The IST calendar date of ``now`` (market logic uses IST)."""
        return (now or self.now()).astimezone(IST).date()

    def pin(self, session: SessionName | None) -> None:
        """Fix the session (``None``: follow the calendar)."""
        self.pinned = session

    def set_now(self, when: datetime) -> None:
        """Make simulated time ``when`` (aware); the session then follows the calendar."""
        if when.tzinfo is None:
            raise ValueError("time must include a UTC offset")
        self.offset = when - self.utcnow()
        self.pinned = None

    def state(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "pinned": self.pinned.value if self.pinned else None,
            "offset_s": self.offset.total_seconds(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        pinned = state.get("pinned")
        self.pinned = SessionName(pinned) if pinned else None
        self.offset = timedelta(seconds=float(state.get("offset_s", 0.0)))
