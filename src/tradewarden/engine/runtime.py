"""The engine as one object: builds the components, recovers on start, stops cleanly.

Startup and crash recovery are the same path (BRIEF §1.3): guard orders left ``created``,
track orders left ``submitting`` for in-flight checks, then run the loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

from tradewarden.brokers.base import BrokerAdapter
from tradewarden.brokers.instrumented import InstrumentedAdapter
from tradewarden.brokers.instruments import InstrumentMaster, bundled_master
from tradewarden.engine.accounts import DEFAULT_FRESH_S, AccountDirectory, AdapterFactory
from tradewarden.engine.actions import OrderActions
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.engine.eod import EodCleanup
from tradewarden.engine.executor import Executor, ExecutorSettings
from tradewarden.engine.inflight import InflightChecker, InflightSettings
from tradewarden.engine.intake import Intake
from tradewarden.engine.ledger import Ledger
from tradewarden.engine.monitor import Monitor
from tradewarden.engine.retry import RetryPolicy, RetryQueue, RetrySettings
from tradewarden.engine.scheduler import (
    EOD_CLEANUP,
    MARKET_CLOSE,
    MARKET_OPEN,
    PREMARKET_RETRY,
    JobContext,
    Scheduler,
)
from tradewarden.engine.tagged import ORPHAN_GRACE_S
from tradewarden.engine.trades.manager import TradeManager, TradeSettings
from tradewarden.engine.trades.operations import TradeOperations
from tradewarden.engine.trades.recorder import TradeRecorder
from tradewarden.metrics import Metrics
from tradewarden.store.calendar_overrides import load_overrides

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    dedupe_window_s: float = 5.0
    retry_interval_s: float = 5.0
    monitor_interval_s: float = 5.0
    monitor_idle_interval_s: float = 30.0
    monitor_missing_checks: int = 3
    monitor_missing_grace_s: float = 120.0
    monitor_orphan_grace_s: float = ORPHAN_GRACE_S
    archive_after_days: int | None = None
    archive_dir: Path | None = None
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    inflight: InflightSettings = field(default_factory=InflightSettings)
    retry: RetrySettings = field(default_factory=RetrySettings)
    trades: TradeSettings = field(default_factory=TradeSettings)


class Engine:
    """Intake → guards → executor → in-flight checks, plus the retry queue."""

    def __init__(self, ledger: Ledger, factory: AdapterFactory,
                 settings: EngineSettings | None = None,
                 master: InstrumentMaster | None = None,
                 calendar: TradingCalendar | None = None,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.ledger = ledger
        self.master = master if master is not None else bundled_master()
        self.calendar = calendar or TradingCalendar()
        self.metrics = metrics or Metrics()
        self.accounts = AccountDirectory(ledger.db, lambda info: cast(
            BrokerAdapter, InstrumentedAdapter(factory(info), self.metrics)))
        self.retry_policy = RetryPolicy(ledger, self.calendar, self.settings.retry)
        self.executor = Executor(ledger, self.accounts, self.retry_policy, self.settings.executor)
        self.inflight = InflightChecker(self.executor, self.settings.inflight)
        self.intake = Intake(ledger, self.master, self.accounts.market,
                             self.settings.dedupe_window_s)
        self.intake.on_allowed(self.executor.enqueue)
        self.retry_queue = RetryQueue(self.retry_policy, self.master, self.executor.enqueue,
                                      self.settings.dedupe_window_s)
        self.actions = OrderActions(ledger, self.accounts, self.master)
        self.monitor = Monitor(ledger, self.accounts, self.settings.monitor_interval_s,
                               self.settings.monitor_idle_interval_s,
                               self.settings.monitor_missing_checks,
                               self.settings.monitor_missing_grace_s, self.metrics,
                               unrecorded=self.executor.unrecorded,
                               orphan_grace_s=self.settings.monitor_orphan_grace_s)
        self._retry_wakeup = asyncio.Event()
        self.startup_report = ""
        self.eod = EodCleanup(self.executor, self.intake, self.inflight, self.monitor,
                              archive_after_days=self.settings.archive_after_days,
                              archive_dir=self.settings.archive_dir)
        self.trade_recorder = TradeRecorder(self.master)
        ledger.add_recorder(self.trade_recorder)
        self.trades = TradeManager(ledger, self.intake, self.executor, self.actions,
                                   self.settings.trades, self.metrics)
        self.trades.session_hours = self.calendar.hours
        # holdings changed outside: trades adjusted with the event, memory refreshed right after
        self.trade_recorder.prices = self.trades.last_price
        self.monitor.holdings.add_recorder(self.trade_recorder.on_position_events)
        self.trades.position_bus = self.monitor.position_bus
        self.trade_ops = TradeOperations(self.trades, self.trade_recorder)
        for guarded in (self.intake, self.retry_queue):
            guarded.guard_settings = replace(guarded.guard_settings,
                                             prices=self.trades.last_price,
                                             strategy_pnl=self.trades.strategy_pnl)
        self.scheduler = Scheduler(ledger.db, self.calendar)
        self._register_jobs()
        self._tasks: list[asyncio.Task[None]] = []

    def _register_jobs(self) -> None:
        """The daily jobs (BRIEF §6); each runs at most once per trading day."""

        async def premarket_retry(ctx: JobContext) -> dict[str, object]:
            done = await self.retry_queue.run_due(None)
            return {"handled": len(done)}

        async def reconcile(ctx: JobContext) -> dict[str, object]:
            report = await self.monitor.cycle()
            return {"changes": report.events, "duration_ms": round(report.duration_ms, 1)}

        async def eod_cleanup(ctx: JobContext) -> dict[str, object]:
            return await self.eod.run(ctx.trading_day)

        self.scheduler.register(PREMARKET_RETRY, premarket_retry)
        for job in (MARKET_OPEN, MARKET_CLOSE):  # AMO orders are tracked from the open
            self.scheduler.register(job, reconcile)
        self.scheduler.register(EOD_CLEANUP, eod_cleanup)

    async def start(self) -> None:
        """Recover what a previous run left behind, then start the loops."""
        self.calendar.set_overrides(await self.ledger.db.run(load_overrides, self.ledger.db))
        await self.ledger.db.run(self.accounts.refresh)
        guarded = await self.intake.recover()
        inflight = await self.inflight.recover()
        watched = await self.monitor.load()
        first = await self.monitor.cycle()  # reconcile before serving (crash-only startup)
        self.startup_report = (
            f"startup: {len(guarded)} recorded order(s) guarded again, {inflight} in-flight "
            f"order(s) to look up by tag, {watched} order(s) watched at the broker\n"
            + first.summary())
        log.info("%s", self.startup_report)
        await self.trades.start()  # after the first cycle applied what happened meanwhile
        self.inflight.start()
        self.monitor.start()
        self.scheduler.start()
        self._tasks.append(asyncio.create_task(self._retry_loop(), name="retry-queue"))

    async def default_account(self, user_id: int, bound: int | None = None) -> int | None:
        """The account OpenAlgo-style calls of ``user_id`` act on: the one their API key is
        ``bound`` to, else their default one, else their first; None when it is not served."""
        if bound is None and time.monotonic() - self.accounts.refreshed_at > DEFAULT_FRESH_S:
            await self.ledger.db.run(self.accounts.refresh)
        for attempt in range(2):
            owned = [info for info in self.accounts.accounts() if info.user_id == user_id]
            if bound is not None:
                if any(info.id == bound for info in owned):
                    return bound
            elif owned:
                return next((i.id for i in owned if i.is_default), min(i.id for i in owned))
            if attempt == 0:
                await self.ledger.db.run(self.accounts.refresh)
        return None

    def wake_retry_queue(self) -> None:
        self._retry_wakeup.set()

    async def _retry_loop(self) -> None:
        while True:
            try:
                await self.retry_queue.run_due(None)
            except Exception:
                log.exception("retry queue pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retry_wakeup.wait(), self.settings.retry_interval_s)
            self._retry_wakeup.clear()

    async def stop(self) -> None:
        await self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.intake.stop()
        await self.trades.stop()  # writes the trades' queued state
        await self.monitor.stop()
        await self.inflight.stop()
        await self.executor.stop()
        await self.accounts.aclose()
