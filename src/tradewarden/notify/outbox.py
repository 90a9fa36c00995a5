"""The outbox: notifications written in the same transaction as what they report.

* ``OutboxRecorder`` is registered with the ledger (``Ledger.add_recorder``) and turns
  notifiable order events into rows, one multi-row INSERT per call, from preferences held in
  memory.
* ``enqueue`` is the API for other engines (trades, holdings, EOD): call it inside your own
  transaction and the message exists exactly when your change does.
* ``alert`` raises a system alert from code that has no session.

One row per (message, channel). Rows whose ``(channel_id, dedupe_key)`` already exists are
skipped (``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL), never an error that would roll
the caller's transaction back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewarden.clock import utcnow
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.notify.events import NotificationKind, Severity, default_severity
from tradewarden.notify.formatting import jsonable
from tradewarden.notify.order_events import notification_for
from tradewarden.notify.preferences import PreferenceCache, Snapshot, load_snapshot
from tradewarden.store.db import Database
from tradewarden.store.tables import NotificationChannel, OutboxRow, User

log = logging.getLogger(__name__)

OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]

PENDING = "pending"
SENT = "sent"
SUPPRESSED = "suppressed"
FAILED = "failed"
STATUSES = (PENDING, SENT, SUPPRESSED, FAILED)

_INSERT_IGNORING_DUPLICATES: dict[str, Insert] = {
    "sqlite": sqlite.insert(OUTBOX).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(OUTBOX).on_conflict_do_nothing(),
}


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert inside a savepoint: a channel deleted since the preferences snapshot was taken
    (foreign key) costs its rows, never the caller's transaction."""
    if not rows:
        return
    statement = _INSERT_IGNORING_DUPLICATES[session.get_bind().dialect.name]
    try:
        with session.begin_nested():
            session.execute(statement, rows)
        return
    except IntegrityError:
        wanted = {row["channel_id"] for row in rows}
        existing = set(session.scalars(select(NotificationChannel.id).where(
            NotificationChannel.id.in_(wanted))))
        log.info("notifications for deleted channel(s) %s skipped", sorted(wanted - existing))
    kept = [row for row in rows if row["channel_id"] in existing]
    if kept:
        with session.begin_nested():
            session.execute(statement, kept)


def _rows(channel_ids: Iterable[int], user_id: int, kind: str, severity: str,
          payload: dict[str, Any], dedupe_key: str | None, now: datetime) -> list[dict[str, Any]]:
    order_id = payload.get("order_id")
    return [{"user_id": user_id, "channel_id": channel_id, "kind": kind, "severity": severity,
             "order_id": order_id if isinstance(order_id, str) else None,
             "dedupe_key": dedupe_key, "payload": payload, "status": PENDING, "attempts": 0,
             "next_attempt_at": now, "created_at": now} for channel_id in channel_ids]


class OutboxRecorder:
    """The ledger recorder: notifiable order events → outbox rows, in the events' transaction."""

    def __init__(self, cache: PreferenceCache, retry_attempts: int) -> None:
        self.cache = cache
        self.retry_attempts = retry_attempts

    def __call__(self, session: Session, applied: Sequence[AppliedEvent]) -> None:
        snapshot = self.cache.snapshot
        if not snapshot.enabled_by_user:
            return  # nobody has a channel: nothing to write
        rows: list[dict[str, Any]] = []
        for event in applied:
            if event.order.user_id not in snapshot.enabled_by_user:
                continue
            try:
                found = notification_for(event, self.retry_attempts)
                if found is None:
                    continue
                severity = default_severity(found.kind)
                targets = snapshot.targets(event.order.user_id, found.kind, severity)
                rows.extend(_rows(targets, event.order.user_id, found.kind.value, severity,
                                  found.payload, found.dedupe_key, event.created_at))
            except Exception:  # a notification bug must never cost an order its state
                log.exception("order %s: %s not notified", event.order.id, event.type.value)
        _insert(session, rows)


def _severity(kind: NotificationKind, payload: Mapping[str, Any]) -> str:
    if kind is not NotificationKind.SYSTEM_ALERT:
        return default_severity(kind).value
    value = str(payload.get("severity") or Severity.INFO).lower()
    if value not in _SEVERITIES:
        log.warning("system alert with unknown severity %r sent as a warning", value)
        return Severity.WARNING.value
    return value


_SEVERITIES = frozenset(s.value for s in Severity)


def enqueue(session: Session, user_id: int, kind: NotificationKind, payload: dict[str, Any],
            *, dedupe_key: str | None = None) -> None:
    """Queue one ``kind`` message for ``user_id`` inside the caller's transaction.

    ``payload`` holds the fields the message shows (see ``docs/notifications.md``); Decimal
    and datetime values are fine. ``at`` (the moment it happened) defaults to now. A message
    with a ``dedupe_key`` already queued for a channel is not queued again.
    """
    enqueue_many(session, user_id, kind, [payload], dedupe_keys=[dedupe_key])


def enqueue_many(session: Session, user_id: int, kind: NotificationKind,
                 payloads: Sequence[Mapping[str, Any]], *,
                 dedupe_keys: Sequence[str | None] | None = None,
                 snapshot: Snapshot | None = None) -> None:
    """``enqueue`` for several messages of one kind and user (one INSERT)."""
    if not payloads:
        return
    kind = NotificationKind(kind)
    snapshot = snapshot or load_snapshot(session, user_id)
    now = utcnow()
    keys = list(dedupe_keys) if dedupe_keys is not None else [None] * len(payloads)
    rows: list[dict[str, Any]] = []
    for payload, key in zip(payloads, keys, strict=True):
        data: dict[str, Any] = jsonable(payload)
        data.setdefault("at", now.isoformat())
        severity = _severity(kind, data)
        if kind is NotificationKind.SYSTEM_ALERT:
            data["severity"] = severity
        targets = snapshot.targets(user_id, kind.value, severity)
        rows.extend(_rows(targets, user_id, kind.value, severity, data, key, now))
    _insert(session, rows)


def alert_in_session(session: Session, user_id: int | None, severity: Severity | str,
                     text: str, *, title: str | None = None,
                     dedupe_key: str | None = None) -> list[int]:
    """Queue a system alert for ``user_id`` (None: every active admin); returns the users."""
    level = Severity(severity)
    if user_id is None:
        users = list(session.scalars(select(User.id).where(User.is_admin.is_(True),
                                                           User.is_active.is_(True))))
    else:
        users = [user_id]
    payload: dict[str, Any] = {"severity": level.value, "text": text}
    if title:
        payload["title"] = title
    snapshot = load_snapshot(session)
    for user in users:
        enqueue_many(session, user, NotificationKind.SYSTEM_ALERT, [payload],
                     dedupe_keys=[dedupe_key], snapshot=snapshot)
    return users


async def alert(db: Database, user_id: int | None, severity: Severity | str, text: str, *,
                title: str | None = None, dedupe_key: str | None = None) -> list[int]:
    """Raise a system alert (info / warning / error / critical) from code without a session.

    ``error`` and ``critical`` alerts are critical: they reach every enabled channel even in
    quiet hours or when system alerts are turned off.
    """
    log_level = {"info": logging.INFO, "warning": logging.WARNING}.get(str(severity),
                                                                      logging.ERROR)
    log.log(log_level, "system alert (%s): %s", severity, text)

    def write() -> list[int]:
        with db.transaction() as session:
            return alert_in_session(session, user_id, severity, text, title=title,
                                    dedupe_key=dedupe_key)

    return await db.run(write)
