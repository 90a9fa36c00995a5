"""The delivery loop: outbox rows → channels, in order, within limits, with retries.

Each pass finds channels with due rows and drains each one in its own task (a slow channel
never holds up the others). A drain step reads the channel's due rows in id order and decides
per row (``preferences.verdict``): suppressed, held until quiet hours end, or sendable. The
sendable rows go out one by one while the channel's limiter has room for all of them;
otherwise the backlog is folded into one digest (bursts are never dropped). A failed send
backs the whole channel off (exponentially, or by the service's ``retry_after``) so the
order of messages is kept; a row that failed ``max_attempts`` times becomes ``failed`` and can
be re-sent from the API.

Delivery is at least once: a crash between a send and its bookkeeping re-sends that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from tradewarden.clock import utcnow
from tradewarden.crypto import SecretBox, SecretError
from tradewarden.notify.channels import ChannelClient, Delivery, telegram_chats
from tradewarden.notify.events import is_critical
from tradewarden.notify.limiter import Limit, Limiters, SlidingWindow, default_limit
from tradewarden.notify.messages import Message, digest, digest_size, render
from tradewarden.notify.outbox import FAILED, OUTBOX, PENDING, SENT, SUPPRESSED
from tradewarden.notify.preferences import ChannelInfo, PreferenceCache, verdict
from tradewarden.store.db import Database

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class SenderSettings:
    poll_interval_s: float = 0.5
    retry_initial_s: float = 5.0
    retry_max_s: float = 300.0
    max_attempts: int = 20
    digest_max_items: int = 30
    digest_max_chars: int = 3500  # Telegram allows 4096 per message
    batch_size: int = 200
    refresh_s: float = 5.0  # preferences changed by other processes are seen this late
    retention_days: int = 30  # sent and suppressed rows are deleted after this


@dataclass(frozen=True, slots=True)
class Due:
    id: int
    user_id: int
    kind: str
    severity: str
    payload: dict[str, Any]
    attempts: int


class Sender:
    """Delivers pending outbox rows; ``run`` until cancelled."""

    def __init__(self, db: Database, cache: PreferenceCache, box: SecretBox,
                 client: ChannelClient, limiters: Limiters,
                 settings: SenderSettings | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.cache = cache
        self.box = box
        self.client = client
        self.limiters = limiters
        self.settings = settings or SenderSettings()
        self._monotonic = monotonic
        self._wakeup = asyncio.Event()
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pruned_at = float("-inf")
        self._limits: dict[int, tuple[tuple[object, ...], Limit]] = {}

    def wake(self) -> None:
        """Look for due rows now (call on the event loop's thread)."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            self._wakeup.clear()  # a wake-up during the pass below is kept for the wait
            try:
                delay = await self.pass_once()
            except Exception:
                log.exception("notification pass failed")
                delay = self.settings.poll_interval_s
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):  # unlike wait_for, never eats a cancel
                    await self._wakeup.wait()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def pass_once(self) -> float:
        """Start draining every channel with due rows; returns seconds until the next pass."""
        if self.cache.age() >= self.settings.refresh_s:
            await self.db.run(self.cache.load, self.db)
        if self._monotonic() - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = self._monotonic()
            await self.db.run(self._prune, utcnow())
        delay = self.settings.poll_interval_s
        for channel_id in await self.db.run(self._due_channels, utcnow()):
            if channel_id in self._busy:
                continue
            channel = self.cache.snapshot.channels.get(channel_id)
            if channel is not None and channel.enabled:
                wait = self.window(channel).wait(self._monotonic())
                if wait > 0:
                    delay = min(delay, wait)
                    continue
            self._busy.add(channel_id)
            task = asyncio.create_task(self._drain(channel_id), name=f"notify-{channel_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return delay

    async def idle(self) -> None:
        """Wait until no channel is being drained (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def window(self, channel: ChannelInfo) -> SlidingWindow:
        return self.limiters.get(channel.id, self.limit_of(channel))

    def limit_of(self, channel: ChannelInfo) -> Limit:
        """The channel's own limit, else its scheme's (Telegram: chat or group)."""
        key = (channel.url_encrypted, channel.rate_count, channel.rate_window_ms)
        known = self._limits.get(channel.id)
        if known is not None and known[0] == key:
            return known[1]
        if channel.rate_count and channel.rate_window_ms:
            limit = Limit(channel.rate_count, channel.rate_window_ms / 1000)
        else:
            chats: list[str] = []
            if channel.scheme == "tgram":
                with contextlib.suppress(SecretError):
                    chats = telegram_chats(self.box.decrypt(channel.url_encrypted))
            limit = default_limit(channel.scheme, chats)
        self._limits[channel.id] = (key, limit)
        return limit

    async def _drain(self, channel_id: int) -> None:
        try:
            while await self._step(channel_id):
                pass
        except Exception:
            log.exception("notifications of channel %s not delivered", channel_id)
        finally:
            self._busy.discard(channel_id)
            self.wake()

    async def _step(self, channel_id: int) -> bool:
        """Handle the channel's due rows once; True when it should be called again."""
        now = utcnow()
        rows = await self.db.run(self._due_rows, channel_id, now)
        if not rows:
            return False
        snapshot = self.cache.snapshot
        if channel_id not in snapshot.channels:  # created by another process just now?
            await self.db.run(self.cache.load, self.db)
            snapshot = self.cache.snapshot
        channel = snapshot.channels.get(channel_id)
        user = snapshot.user(rows[0].user_id)
        sendable: list[tuple[Due, bool]] = []
        suppressed: list[dict[str, Any]] = []
        held: list[dict[str, Any]] = []
        for row in rows:
            decision = verdict(channel, user, row.kind, row.severity, now)
            if decision.action == "send":
                sendable.append((row, decision.silent))
            elif decision.action == "hold":
                held.append({"row_id": row.id, "due": decision.until})
            else:
                suppressed.append({"row_id": row.id, "why": decision.reason})
        if suppressed or held:
            await self.db.run(self._settle, suppressed, held)
        if not sendable or channel is None:
            return bool(suppressed or held)
        sendable.sort(key=lambda item: not is_critical(item[0].severity))  # stable: id order
        window = self.window(channel)
        if window.wait(self._monotonic()) > 0:
            return False
        messages = [render(row.kind, row.payload, row.severity, now) for row, _ in sendable]
        size = self._batch_size(sendable, messages, window.free(self._monotonic()))
        batch = sendable[:size]
        result = await self._send(channel, messages[:size], all(q for _, q in batch))
        window.record(self._monotonic())
        if result.ok:
            window.succeeded()
            await self.db.run(self._mark_sent, [row.id for row, _ in batch], utcnow(),
                              len(batch) if len(batch) > 1 else None)
            return True
        delay = window.failed(self._monotonic(), self.settings.retry_initial_s,
                              self.settings.retry_max_s, result.retry_after)
        failed = await self.db.run(self._mark_failed, channel.id, [row for row, _ in batch],
                                   result, utcnow() + timedelta(seconds=delay))
        log.warning("notification delivery to channel %s (%s://…) failed: %s; %d message(s) "
                    "retried in %.1f s%s", channel.id, channel.scheme,
                    result.error, len(batch), delay,
                    f", {failed} given up (failed)" if failed else "")
        return False

    def _batch_size(self, sendable: list[tuple[Due, bool]], messages: list[Message],
                    free: int) -> int:
        """1 when the limiter has room for the whole backlog (or the first row is critical:
        those are sorted first), else as many as fit into one digest."""
        if is_critical(sendable[0][0].severity) or len(sendable) <= max(free, 1):
            return 1
        return max(1, digest_size(messages, self.settings.digest_max_items,
                                  self.settings.digest_max_chars))

    async def _send(self, channel: ChannelInfo, messages: list[Message],
                    silent: bool) -> Delivery:
        message = messages[0] if len(messages) == 1 else digest(messages)
        try:
            url = self.box.decrypt(channel.url_encrypted)
        except SecretError as exc:
            return Delivery(False, str(exc))
        return await self.client.send(url, message, silent=silent)

    # --- storage ------------------------------------------------------------------------

    def _due_channels(self, now: datetime) -> list[int]:
        with self.db.read() as session:
            return list(session.scalars(
                select(OUTBOX.c.channel_id).where(OUTBOX.c.status == PENDING,
                                                  OUTBOX.c.next_attempt_at <= now)
                .distinct()))

    def _due_rows(self, channel_id: int, now: datetime) -> list[Due]:
        with self.db.read() as session:
            rows = session.execute(
                select(OUTBOX.c.id, OUTBOX.c.user_id, OUTBOX.c.kind, OUTBOX.c.severity,
                       OUTBOX.c.payload, OUTBOX.c.attempts)
                .where(OUTBOX.c.channel_id == channel_id, OUTBOX.c.status == PENDING,
                       OUTBOX.c.next_attempt_at <= now)
                .order_by(OUTBOX.c.id).limit(self.settings.batch_size)).all()
            return [Due(r.id, r.user_id, r.kind, r.severity, dict(r.payload or {}), r.attempts)
                    for r in rows]

    def _settle(self, suppressed: list[dict[str, Any]], held: list[dict[str, Any]]) -> None:
        with self.db.transaction() as session:
            if suppressed:
                session.execute(update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id"))
                                .values(status=SUPPRESSED, last_error=bindparam("why")),
                                suppressed)
            if held:
                session.execute(update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id"))
                                .values(next_attempt_at=bindparam("due")), held)

    def _mark_sent(self, ids: list[int], now: datetime, digest_of: int | None) -> None:
        with self.db.transaction() as session:
            session.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(
                status=SENT, sent_at=now, attempts=OUTBOX.c.attempts + 1, last_error=None,
                digest_size=digest_of))

    def _mark_failed(self, channel_id: int, rows: list[Due], result: Delivery,
                     retry_at: datetime) -> int:
        """Count an attempt (not for 429: that is flow control) and hold the channel's other
        due rows as long, so the order survives a restart; returns the rows given up."""
        counted = 0 if result.status == 429 else 1
        values = []
        for row in rows:
            attempts = row.attempts + counted
            status = FAILED if attempts >= self.settings.max_attempts else PENDING
            values.append({"row_id": row.id, "tries": attempts, "state": status})
        with self.db.transaction() as session:
            session.execute(update(OUTBOX).where(OUTBOX.c.id == bindparam("row_id")).values(
                attempts=bindparam("tries"), status=bindparam("state"),
                last_error=result.error, next_attempt_at=retry_at), values)
            session.execute(update(OUTBOX).where(
                OUTBOX.c.channel_id == channel_id, OUTBOX.c.status == PENDING,
                OUTBOX.c.next_attempt_at < retry_at).values(next_attempt_at=retry_at))
        return sum(1 for v in values if v["state"] == FAILED)

    def _prune(self, now: datetime) -> None:
        cutoff = now - timedelta(days=self.settings.retention_days)
        with self.db.transaction() as session:
            session.execute(delete(OUTBOX).where(OUTBOX.c.status.in_((SENT, SUPPRESSED)),
                                                 OUTBOX.c.created_at < cutoff))
