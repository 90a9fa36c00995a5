"""Storage of one user's channels, preferences and outbox (every query scoped by user)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.notify.outbox import FAILED, PENDING, SUPPRESSED
from tradewarden.store.tables import NotificationChannel, NotificationSettings, OutboxRow

RESENDABLE = (FAILED, SUPPRESSED)


class NameTaken(Exception):
    """The user already has a channel with that name."""


class NotResendable(Exception):
    """Only failed or suppressed rows can be sent again."""


def _merge(current: Mapping[str, Any], changes: Mapping[str, str | None]) -> dict[str, Any]:
    """``changes`` applied to ``current``; a None value removes the key (back to default)."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class NotificationStore:
    def __init__(self, session: Session, user_id: int) -> None:
        self.session = session
        self.user_id = user_id

    # --- channels ---------------------------------------------------------------------------

    def channels(self) -> list[NotificationChannel]:
        return list(self.session.scalars(select(NotificationChannel).where(
            NotificationChannel.user_id == self.user_id).order_by(NotificationChannel.id)))

    def channel(self, channel_id: int) -> NotificationChannel | None:
        return self.session.scalar(select(NotificationChannel).where(
            NotificationChannel.id == channel_id, NotificationChannel.user_id == self.user_id))

    def add_channel(self, name: str, scheme: str, url_encrypted: str, *, enabled: bool = True,
                    rate: tuple[int, int] | None = None) -> NotificationChannel:
        now = utcnow()
        row = NotificationChannel(
            user_id=self.user_id, name=name, scheme=scheme, url_encrypted=url_encrypted,
            enabled=enabled, preferences={}, rate_count=rate[0] if rate else None,
            rate_window_ms=rate[1] if rate else None, created_at=now, updated_at=now)
        self.session.add(row)
        self._flush_name()
        return row

    def update_channel(self, row: NotificationChannel, **changes: Any) -> NotificationChannel:
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        self._flush_name()
        return row

    def delete_channel(self, row: NotificationChannel) -> None:
        self.session.delete(row)
        self.session.flush()

    def _flush_name(self) -> None:
        try:
            with self.session.begin_nested():
                self.session.flush()
        except IntegrityError as exc:
            raise NameTaken("a channel with that name already exists") from exc

    # --- preferences ------------------------------------------------------------------------

    def settings(self) -> NotificationSettings | None:
        return self.session.get(NotificationSettings, self.user_id)

    def save_preferences(self, *, events: Mapping[str, str | None] | None = None,
                         channels: Mapping[int, Mapping[str, str | None]] | None = None,
                         quiet: tuple[time, time] | None = None,
                         set_quiet: bool = False) -> None:
        """Merge the changes (None values reset to the default) into the stored preferences."""
        if events is not None or set_quiet:
            row = self.settings()
            if row is None:
                row = NotificationSettings(user_id=self.user_id, events={}, updated_at=utcnow())
                self.session.add(row)
            if events is not None:
                row.events = _merge(row.events or {}, events)
            if set_quiet:
                row.quiet_start, row.quiet_end = quiet if quiet else (None, None)
            row.updated_at = utcnow()
        for channel_id, modes in (channels or {}).items():
            channel = self.channel(channel_id)
            if channel is not None:
                channel.preferences = _merge(channel.preferences or {}, modes)
                channel.updated_at = utcnow()
        self.session.flush()

    # --- outbox -----------------------------------------------------------------------------

    def outbox(self, *, status: str | None = None, channel_id: int | None = None,
               limit: int = 100, before_id: int | None = None) -> list[OutboxRow]:
        query = select(OutboxRow).where(OutboxRow.user_id == self.user_id)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        if channel_id is not None:
            query = query.where(OutboxRow.channel_id == channel_id)
        if before_id is not None:
            query = query.where(OutboxRow.id < before_id)
        return list(self.session.scalars(query.order_by(OutboxRow.id.desc()).limit(limit)))

    def resend(self, row_id: int, now: datetime | None = None) -> OutboxRow | None:
        """A failed or suppressed row back to ``pending``, due now; None if not the user's."""
        row = self.session.scalar(select(OutboxRow).where(OutboxRow.id == row_id,
                                                          OutboxRow.user_id == self.user_id))
        if row is None:
            return None
        if row.status not in RESENDABLE:
            raise NotResendable(f"notification is {row.status}; only failed or suppressed "
                                "notifications can be sent again")
        row.status = PENDING
        row.attempts = 0
        row.last_error = None
        row.next_attempt_at = now or utcnow()
        self.session.flush()
        return row
