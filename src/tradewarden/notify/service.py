"""The notifier as one object: preferences cache, outbox recorder, sender, test sends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from tradewarden.clock import utcnow
from tradewarden.config import Settings
from tradewarden.crypto import SecretBox, SecretError, box_for
from tradewarden.engine.bus import EventBus, Subscription
from tradewarden.engine.ledger import AppliedEvent
from tradewarden.notify.channels import ChannelClient, mask_url
from tradewarden.notify.formatting import ist
from tradewarden.notify.limiter import Limiters
from tradewarden.notify.messages import Message
from tradewarden.notify.order_events import kind_of
from tradewarden.notify.outbox import OutboxRecorder
from tradewarden.notify.preferences import ChannelInfo, PreferenceCache
from tradewarden.notify.sender import Sender, SenderSettings
from tradewarden.store.db import Database

log = logging.getLogger(__name__)

#: A test send waits this long at most for the channel's rate limit.
TEST_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class ChannelCheck:
    channel_id: int
    name: str
    url: str  # masked
    ok: bool
    error: str | None


def sender_settings(settings: Settings) -> SenderSettings:
    return SenderSettings(
        poll_interval_s=settings.notify_poll_interval_s,
        retry_initial_s=settings.notify_retry_initial_s,
        retry_max_s=max(settings.notify_retry_max_s, settings.notify_retry_initial_s),
        max_attempts=settings.notify_max_attempts,
        digest_max_items=settings.notify_digest_max_items,
        retention_days=settings.notify_retention_days)


def probe_message(channel_name: str) -> Message:
    now = utcnow()
    return Message("🔔 Tradewarden test message",
                   f"Notifications to “{channel_name}” work. {ist(now.isoformat(), now)}")


class Notifier:
    """Owns the notification parts of a running process."""

    def __init__(self, db: Database, settings: Settings, retry_attempts: int,
                 box: SecretBox | None = None) -> None:
        self.db = db
        self.box = box or box_for(settings)
        self.cache = PreferenceCache()
        self.recorder = OutboxRecorder(self.cache, retry_attempts)
        self.client = ChannelClient(settings.notify_telegram_api_url,
                                    settings.notify_send_timeout_s)
        self.limiters = Limiters()
        self.sender = Sender(db, self.cache, self.box, self.client, self.limiters,
                             sender_settings(settings))
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Subscription[AppliedEvent] | None = None

    async def start(self, bus: EventBus[AppliedEvent] | None = None) -> None:
        """Load preferences (before the engine records anything), then deliver."""
        await self.reload()
        self._tasks.append(asyncio.create_task(self.sender.run(), name="notify-sender"))
        if bus is not None:
            self._subscription = bus.subscribe()
            self._tasks.append(asyncio.create_task(self._wake_on(self._subscription),
                                                   name="notify-wakeup"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._subscription is not None:
            self._subscription.close()
        await self.sender.stop()
        self.client.close()

    async def reload(self) -> None:
        """Re-read channels and preferences (after a change) and look for due rows."""
        await self.db.run(self.cache.load, self.db)
        self.sender.wake()

    async def _wake_on(self, subscription: Subscription[AppliedEvent]) -> None:
        """Committed ledger events wake the sender at once (it also polls)."""
        retry_attempts = self.recorder.retry_attempts
        async for applied in subscription:
            if kind_of(applied, retry_attempts) is not None:
                self.sender.wake()

    async def send_test(self, user_id: int, channel_ids: list[int] | None = None,
                        ) -> list[ChannelCheck]:
        """Send a test message to the user's (chosen) channels, enabled or not."""
        await self.reload()
        channels = [c for c in self.cache.snapshot.channels.values() if c.user_id == user_id
                    and (channel_ids is None or c.id in channel_ids)]
        return list(await asyncio.gather(*(self._test_one(c) for c in channels)))

    async def _test_one(self, channel: ChannelInfo) -> ChannelCheck:
        window = self.sender.window(channel)
        try:
            url = self.box.decrypt(channel.url_encrypted)
        except SecretError as exc:
            return ChannelCheck(channel.id, channel.name, f"{channel.scheme}://…", False,
                              str(exc))
        wait = window.wait(time.monotonic())
        if wait > TEST_WAIT_S:
            return ChannelCheck(channel.id, channel.name, mask_url(url), False,
                              f"rate limited: try again in {wait:.0f} s")
        await asyncio.sleep(wait)
        result = await self.client.send(url, probe_message(channel.name))
        window.record(time.monotonic())
        if not result.ok:
            log.warning("test message to channel %s (%s) failed: %s", channel.id,
                        mask_url(url), result.error)
        return ChannelCheck(channel.id, channel.name, mask_url(url), result.ok, result.error)
