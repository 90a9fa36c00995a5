"""Quiet hours: a daily IST window (it may cross midnight) that holds non-critical messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from tradewarden.clock import IST


@dataclass(frozen=True, slots=True)
class QuietHours:
    """``start`` inclusive, ``end`` exclusive, both IST wall-clock times; ``start != end``."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need different start and end times")

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def active(self, now: datetime) -> bool:
        """True when ``now`` (timezone-aware) falls inside the window."""
        clock = now.astimezone(IST).time().replace(tzinfo=None)
        if self.crosses_midnight:
            return clock >= self.start or clock < self.end
        return self.start <= clock < self.end

    def ends_after(self, now: datetime) -> datetime | None:
        """When the window containing ``now`` ends (UTC), or None outside the window."""
        if not self.active(now):
            return None
        local = now.astimezone(IST)
        end = datetime.combine(local.date(), self.end, IST)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)

    def describe(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} IST"


def quiet_hours(start: time | None, end: time | None) -> QuietHours | None:
    """The stored pair as a window, or None when unset (or unusable)."""
    if start is None or end is None or start == end:
        return None
    return QuietHours(start.replace(tzinfo=None), end.replace(tzinfo=None))
