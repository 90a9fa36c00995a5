"""Preferences in memory: who has which channels, which modes, which quiet hours.

The outbox recorder runs inside the ledger's write transactions, so it must not query: it reads
a ``Snapshot`` that the notifier reloads after every change made through the API and every few
seconds (for changes made by other processes). ``verdict`` decides, at delivery time, whether
a row is sent (loudly or silently), held for quiet hours, or suppressed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.notify.events import Mode, is_critical, resolve_mode
from tradewarden.notify.quiet_hours import QuietHours, quiet_hours
from tradewarden.store.db import Database
from tradewarden.store.tables import NotificationChannel, NotificationSettings


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: int
    user_id: int
    name: str
    scheme: str
    url_encrypted: str
    enabled: bool
    modes: dict[str, str]  # per-kind overrides for this channel
    rate_count: int | None
    rate_window_ms: int | None

    @classmethod
    def of(cls, row: NotificationChannel) -> ChannelInfo:
        return cls(row.id, row.user_id, row.name, row.scheme, row.url_encrypted, row.enabled,
                   dict(row.preferences or {}), row.rate_count, row.rate_window_ms)


@dataclass(frozen=True, slots=True)
class UserPreferences:
    modes: dict[str, str] = field(default_factory=dict)
    quiet: QuietHours | None = None


NO_PREFERENCES = UserPreferences()


@dataclass(frozen=True, slots=True)
class Snapshot:
    channels: dict[int, ChannelInfo] = field(default_factory=dict)
    enabled_by_user: dict[int, tuple[ChannelInfo, ...]] = field(default_factory=dict)
    users: dict[int, UserPreferences] = field(default_factory=dict)

    def user(self, user_id: int) -> UserPreferences:
        return self.users.get(user_id, NO_PREFERENCES)

    def targets(self, user_id: int, kind: str, severity: str) -> list[int]:
        """The channels a new ``kind`` message of ``user_id`` is written for."""
        channels = self.enabled_by_user.get(user_id)
        if not channels:
            return []
        if is_critical(severity):
            return [c.id for c in channels]
        modes = self.user(user_id).modes
        return [c.id for c in channels if resolve_mode(kind, c.modes, modes) is not Mode.OFF]


def load_snapshot(session: Session, user_id: int | None = None) -> Snapshot:
    """Channels and settings of every user (or of one)."""
    channel_query = select(NotificationChannel).order_by(NotificationChannel.id)
    settings_query = select(NotificationSettings)
    if user_id is not None:
        channel_query = channel_query.where(NotificationChannel.user_id == user_id)
        settings_query = settings_query.where(NotificationSettings.user_id == user_id)
    channels = {row.id: ChannelInfo.of(row) for row in session.scalars(channel_query)}
    enabled: dict[int, list[ChannelInfo]] = {}
    for channel in channels.values():
        if channel.enabled:
            enabled.setdefault(channel.user_id, []).append(channel)
    users = {row.user_id: UserPreferences(dict(row.events or {}),
                                          quiet_hours(row.quiet_start, row.quiet_end))
             for row in session.scalars(settings_query)}
    return Snapshot(channels, {k: tuple(v) for k, v in enabled.items()}, users)


class PreferenceCache:
    """The current snapshot; replaced as a whole, so readers on any thread see one version."""

    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self.loaded_at: float | None = None

    def load(self, db: Database) -> None:
        """Blocking: run on the DB thread pool."""
        with db.read() as session:
            self.snapshot = load_snapshot(session)
        self.loaded_at = time.monotonic()

    def age(self) -> float:
        return float("inf") if self.loaded_at is None else time.monotonic() - self.loaded_at


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Literal["send", "hold", "suppress"]
    silent: bool = False
    until: datetime | None = None
    reason: str = ""


def verdict(channel: ChannelInfo | None, user: UserPreferences, kind: str, severity: str,
            now: datetime) -> Verdict:
    """What to do with a due row now: send it, hold it for quiet hours, or suppress it."""
    if channel is None or not channel.enabled:
        return Verdict("suppress", reason="channel disabled")
    if is_critical(severity):
        return Verdict("send")
    mode = resolve_mode(kind, channel.modes, user.modes)
    if mode is Mode.OFF:
        return Verdict("suppress", reason="turned off in preferences")
    if user.quiet is not None:
        until = user.quiet.ends_after(now)
        if until is not None:
            return Verdict("hold", until=until, reason=f"quiet hours {user.quiet.describe()}")
    return Verdict("send", silent=mode is Mode.SILENT)
