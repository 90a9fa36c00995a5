"""The running service's parts, wired once and shared by the API and the engine."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tradewarden.api.auth import Authenticator
from tradewarden.broker_setup import BrokerSetup
from tradewarden.config import Settings
from tradewarden.crypto import SecretBox, box_for
from tradewarden.engine.executor import ExecutorSettings
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.runtime import Engine, EngineSettings
from tradewarden.notify.service import Notifier
from tradewarden.store.db import Database
from tradewarden.store.webhook_secrets import seal_plain_secrets
from tradewarden.web.live import LiveHub, forward_orders
from tradewarden.web.live_notifications import NotificationFeed
from tradewarden.web.sessions import SessionStore

if TYPE_CHECKING:
    from tradewarden.web.live_trades import TradeFeed


@dataclass
class Services:
    """Everything a request handler or engine task may need, created at startup."""

    settings: Settings
    db: Database
    ledger: Ledger
    auth: Authenticator
    engine: Engine
    brokers: BrokerSetup
    web_sessions: SessionStore
    notifier: Notifier
    box: SecretBox  # secrets at rest: channel URLs, webhook secrets
    live: LiveHub = field(default_factory=LiveHub)  # WS /api/v1/ws: publish(user_id, type, data)
    ready: bool = False
    _live_feed: asyncio.Task[None] | None = None
    _trade_feed: TradeFeed | None = None  # live trade/tick messages
    _notification_feed: asyncio.Task[None] | None = None  # live notification messages

    @classmethod
    def open(cls, settings: Settings, brokers: BrokerSetup,
             engine_settings: EngineSettings | None = None) -> Services:
        db = Database(settings.resolved_database_url, pool_size=settings.db_pool_size)
        ledger = Ledger(db)
        engine = Engine(ledger, brokers.factory, engine_settings or EngineSettings(
            dedupe_window_s=settings.dedupe_window_s,
            monitor_interval_s=settings.monitor_interval_s,
            monitor_idle_interval_s=settings.monitor_idle_interval_s,
            monitor_orphan_grace_s=settings.monitor_orphan_grace_s,
            archive_after_days=settings.archive_after_days,
            archive_dir=settings.data_dir / "archive",
            executor=ExecutorSettings(orders_per_second=settings.broker_orders_per_s)))
        box = box_for(settings)
        notifier = Notifier(db, settings, engine.settings.retry.max_attempts, box=box)
        ledger.add_recorder(notifier.recorder)  # outbox rows in the events' transactions
        return cls(settings=settings, db=db, ledger=ledger, auth=Authenticator(db),
                   engine=engine, brokers=brokers, web_sessions=SessionStore(db),
                   notifier=notifier, box=box)

    async def start(self) -> None:
        from tradewarden.web.live_trades import TradeFeed  # imports the API, which imports us

        await self.db.run(seal_plain_secrets, self.db, self.box)  # secrets from before encryption
        self._live_feed = asyncio.create_task(forward_orders(self.ledger.bus, self.live))
        self._notification_feed = asyncio.create_task(NotificationFeed(self.db, self.live).run())
        await self.notifier.start(self.ledger.bus)
        self._trade_feed = TradeFeed(self.engine.trade_ops, self.live)
        self._trade_feed.attach()
        await self.engine.start()
        # what startup loaded lives for the whole run: keep it out of every full collection
        # (they took ~100 ms with it, the main source of intake's p99)
        gc.freeze()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in (self._live_feed, self._notification_feed):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._trade_feed is not None:
            self._trade_feed.detach()
        await self.engine.stop()
        await self.notifier.stop()
        await self.brokers.close()
        self.db.close()
