"""Live ``notification`` messages (``WS /api/v1/ws``): what was queued for your channels, and
when notifications give up.

The outbox is written inside other components' transactions (the ledger's, the trade
manager's), so instead of hooks everywhere this feed reads it: every ``interval_s``, and only
while some dashboard or API client is connected, one query for rows added since the last look
and one count of failed rows per user. Messages:

- ``{"event": "queued", "kind", "severity", "text", "channels", "created_at"}`` — one per
  notification (not per channel);
- ``{"event": "failed", "failed_total": n}`` — the user's count of failed notifications changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from tradewarden.notify.messages import render
from tradewarden.notify.outbox import FAILED
from tradewarden.store.db import Database
from tradewarden.store.tables import OutboxRow
from tradewarden.web.live import LiveHub

log = logging.getLogger(__name__)
POLL_INTERVAL_S = 1.0
IDLE_RESET_S = 60.0  # after this long without clients, start afresh (nothing old is replayed)
BATCH = 500


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    user_id: int
    kind: str
    severity: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass
class Seen:
    """What the feed has already told: the last outbox id and failed counts per user."""

    cursor: int | None = None
    failed: dict[int, int] = field(default_factory=dict)


def read_new(db: Database, cursor: int | None) -> tuple[int, list[Queued], dict[int, int]]:
    """Rows after ``cursor`` (none when starting: the cursor becomes the newest id) and the
    failed count of every user with failed rows. Blocking: run on the DB pool."""
    with db.read() as session:
        failed = dict(session.execute(select(OutboxRow.user_id, func.count())
                                      .where(OutboxRow.status == FAILED)
                                      .group_by(OutboxRow.user_id)).tuples().all())
        if cursor is None:
            return session.scalar(select(func.max(OutboxRow.id))) or 0, [], failed
        rows = session.execute(
            select(OutboxRow.id, OutboxRow.user_id, OutboxRow.kind, OutboxRow.severity,
                   OutboxRow.payload, OutboxRow.created_at)
            .where(OutboxRow.id > cursor).order_by(OutboxRow.id).limit(BATCH)).all()
    queued = [Queued(r.id, r.user_id, r.kind, r.severity, dict(r.payload or {}), r.created_at)
              for r in rows]
    return (queued[-1].id if queued else cursor), queued, failed


class NotificationFeed:
    """Polls the outbox while clients are connected and publishes what is new."""

    def __init__(self, db: Database, hub: LiveHub, interval_s: float = POLL_INTERVAL_S) -> None:
        self.db = db
        self.hub = hub
        self.interval_s = interval_s
        self.seen = Seen()
        self._idle_since: float | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.poll()
            except Exception:  # the next poll tries again
                log.exception("live notification feed failed")

    async def poll(self) -> None:
        if not self.hub.connections():
            # a page being reloaded is away for a moment: keep the place for it; after a
            # longer pause start afresh, so a new connection is not sent old notifications
            now = time.monotonic()
            self._idle_since = self._idle_since or now
            if now - self._idle_since >= IDLE_RESET_S:
                self.seen = Seen()
            return
        self._idle_since = None
        starting = self.seen.cursor is None
        cursor, queued, failed = await self.db.run(read_new, self.db, self.seen.cursor)
        self.seen.cursor = cursor
        self._publish_queued(queued)
        for user_id in set(failed) | set(self.seen.failed):
            count = failed.get(user_id, 0)
            if not starting and count != self.seen.failed.get(user_id, 0):
                self.hub.publish(user_id, "notification",
                                 {"event": "failed", "failed_total": count}, key="failed")
        self.seen.failed = failed

    def _publish_queued(self, queued: list[Queued]) -> None:
        """One message per notification: its rows (one per channel) share user, kind, time
        and payload."""
        groups: dict[tuple[int, str, datetime, str], list[Queued]] = {}
        for row in queued:
            if self.hub.has_clients(row.user_id):
                groups.setdefault((row.user_id, row.kind, row.created_at, repr(row.payload)),
                                  []).append(row)
        for (user_id, kind, created_at, _), rows in groups.items():
            first = rows[0]
            self.hub.publish(user_id, "notification", {
                "event": "queued", "id": first.id, "kind": kind, "severity": first.severity,
                "text": render(kind, first.payload, first.severity).line(),
                "channels": len(rows), "created_at": created_at.isoformat()})
