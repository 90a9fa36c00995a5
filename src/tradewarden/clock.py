"""The process's one clock and the market's time zone.

Every component that reads the wall-clock time asks ``utcnow()`` (or takes a ``clock``
callable that defaults to it), so the time a row is stamped with and the time it is later
compared with always come from the same source. Tests replace the source for the whole
process with ``use_clock``; nothing else should call ``datetime.now`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

#: India Standard Time: the zone of the exchanges' sessions, trading days and every time shown.
IST = ZoneInfo("Asia/Kolkata")

#: A source of the current time (timezone-aware, UTC).
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's wall clock, in UTC."""
    return datetime.now(UTC)


_source: Clock = system_clock


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, from the process's clock."""
    return _source()


def ist_now() -> datetime:
    """The current time in IST."""
    return _source().astimezone(IST)


def ist_today() -> date:
    """Today's date in IST (the trading day's calendar date, not the UTC one)."""
    return ist_now().date()


def set_clock(source: Clock | None) -> None:
    """Make ``source`` the process's clock (``None``: back to the system clock)."""
    global _source
    _source = source or system_clock


@contextmanager
def use_clock(source: Clock) -> Iterator[None]:
    """The process's clock is ``source`` inside the block."""
    previous = _source
    set_clock(source)
    try:
        yield
    finally:
        set_clock(previous)
