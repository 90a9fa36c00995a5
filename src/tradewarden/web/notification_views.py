"""What the notifications page and the overview's alerts card show: event types in plain words,
the preference matrix, quiet hours, recent system alerts and undelivered notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradewarden.notify.events import DEFAULT_MODES, Mode, NotificationKind
from tradewarden.notify.messages import render
from tradewarden.notify.outbox import FAILED
from tradewarden.notify.schemas import ChannelOut, PreferencesOut
from tradewarden.store.tables import OutboxRow

K = NotificationKind
MODES = tuple(m.value for m in Mode)

#: (group, [(kind, label, when)]) in the order the matrix shows them
EVENT_GROUPS: tuple[tuple[str, tuple[tuple[NotificationKind, str, str], ...]], ...] = (
    ("Orders", (
        (K.ORDER_PLACED, "Order placed", "the broker accepted an order"),
        (K.ORDER_EXECUTED, "Order executed", "fully filled"),
        (K.ORDER_PARTIALLY_FILLED, "Partly filled", "a part filled"),
        (K.ORDER_REJECTED, "Order rejected", "rejected by the broker"),
        (K.ORDER_CANCELLED, "Order cancelled", "cancelled, and by whom"),
        (K.ORDER_MODIFIED, "Order modified", "changed at the broker's app"),
        (K.ORDER_EXPIRED, "Order expired", "validity ended unfilled"),
        (K.ORDER_DENIED, "Order denied", "blocked before sending"),
        (K.ORDER_FAILED, "Order failed", "not placed, not retried"))),
    ("Retry queue", (
        (K.RETRY_ADDED, "Queued for retry", "a retryable failure"),
        (K.RETRY_RETRIED, "Retry attempt", "each new attempt"),
        (K.RETRY_DROPPED, "Dropped from queue", "by you or the guards"),
        (K.RETRY_EXPIRED, "Retry expired", "not placed by the next close"))),
    ("Trades", (
        (K.TRADE_OPENED, "Trade opened", "a managed trade opened"),
        (K.TRADE_EXITED, "Trade exited", "closed: reason and P&L"),
        (K.PORTFOLIO_LIMIT_HIT, "Portfolio limit hit", "a strategy's limit was hit"),
        (K.MANUAL_POSITION, "Manual position", "bought or sold outside Tradewarden"))),
    ("Service", (
        (K.SYSTEM_ALERT, "System alert", "engine alerts (errors always arrive)"),
        (K.DAILY_SUMMARY, "Daily summary", "after the end of the day"))),
)
KIND_LABELS = {kind: label for _, rows in EVENT_GROUPS for kind, label, _ in rows}


@dataclass(frozen=True, slots=True)
class MatrixRow:
    kind: str
    label: str
    when: str
    mode: str  # your choice (effective)
    default: str
    channels: dict[int, str]  # channel id → its own choice ("" when it follows yours)


def matrix(preferences: PreferencesOut,
           channels: list[ChannelOut]) -> list[tuple[str, list[MatrixRow]]]:
    """The preference matrix by group, from the API's answer."""
    groups = []
    for group, kinds in EVENT_GROUPS:
        rows = []
        for kind, label, when in kinds:
            found = preferences.events[kind.value]
            rows.append(MatrixRow(kind.value, label, when, found.mode.value,
                                  found.default.value,
                                  {c.id: found.channels[str(c.id)].value
                                   if str(c.id) in found.channels else "" for c in channels}))
        groups.append((group, rows))
    return groups


def preference_changes(form: dict[str, str], channel_ids: list[int]) -> dict[str, Any]:
    """The matrix form → a ``PreferencesIn`` document. Your choice equal to the default is
    stored as "default"; a channel set to follow yours drops its own choice. Fields missing
    from the form (a channel added elsewhere since the page loaded) are left as they are."""
    events: dict[str, str | None] = {}
    per_channel: dict[int, dict[str, str | None]] = {}
    for kind in NotificationKind:
        name = f"mode-{kind.value}"
        if name in form:
            value = form[name]
            events[kind.value] = None if value == DEFAULT_MODES[kind].value else value
        for channel_id in channel_ids:
            name = f"mode-{kind.value}-{channel_id}"
            if name in form:
                per_channel.setdefault(channel_id, {})[kind.value] = form[name] or None
    return {"events": events, "channels": per_channel}


@dataclass(frozen=True, slots=True)
class Alert:
    severity: str
    text: str
    at: datetime


def recent_alerts(session: Session, user_id: int, since: datetime,
                  limit: int = 5) -> list[Alert]:
    """The user's system alerts since ``since``, newest first, once each (the outbox holds
    one row per channel)."""
    rows = session.execute(
        select(OutboxRow.severity, OutboxRow.payload, OutboxRow.created_at)
        .where(OutboxRow.user_id == user_id, OutboxRow.kind == K.SYSTEM_ALERT.value,
               OutboxRow.created_at >= since)
        .order_by(OutboxRow.id.desc()).limit(limit * 10)).all()
    alerts: list[Alert] = []
    seen: set[tuple[datetime, str]] = set()
    for severity, payload, created_at in rows:
        text = render(K.SYSTEM_ALERT.value, payload or {}, severity).line()
        if (created_at, text) not in seen and len(alerts) < limit:
            seen.add((created_at, text))
            alerts.append(Alert(severity, text, created_at))
    return alerts


def failed_count(session: Session, user_id: int) -> int:
    """Notifications that gave up (they can be sent again from the notifications page)."""
    return session.scalar(select(func.count()).select_from(OutboxRow).where(
        OutboxRow.user_id == user_id, OutboxRow.status == FAILED)) or 0
