"""In-flight checks: resolve orders whose submission outcome is unknown (BRIEF §1.6).

An order stays ``submitting`` after a timeout, 5xx or crash. Once it is older than a threshold
the checker looks its tag up at the broker:

* found → the broker's view is applied;
* a definitive "no order with this tag" → counted; only after ``not_found_checks`` such answers
  spread over at least ``not_found_grace_s`` (brokers can be slow to show new orders) is the
  order concluded absent and placed again *with the same tag*, at most ``max_resubmits`` times,
  after which it fails as ``lost``;
* transport errors and rate limits never count as "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from tradewarden.brokers.errors import BrokerError
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.executor import Executor
from tradewarden.engine.ledger import LedgerError
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InflightSettings:
    threshold_s: float = 2.0
    interval_s: float = 1.0
    not_found_checks: int = 3
    not_found_grace_s: float = 10.0
    max_resubmits: int = 2


@dataclass(slots=True)
class _Tracked:
    since: float
    not_found: int = 0
    first_not_found: float | None = None
    resubmits: int = 0
    checking: bool = field(default=False)


class InflightChecker:
    """Tracks ``submitting`` orders with an unknown outcome until the broker tells."""

    def __init__(self, executor: Executor, settings: InflightSettings | None = None) -> None:
        self.executor = executor
        self.settings = settings or InflightSettings()
        self._tracked: dict[str, _Tracked] = {}
        self._task: asyncio.Task[None] | None = None
        executor.on_ambiguous(self.track)

    def track(self, order_id: str) -> None:
        entry = self._tracked.get(order_id)
        if entry is None:
            self._tracked[order_id] = _Tracked(since=time.monotonic())
        else:
            entry.since = time.monotonic()

    @property
    def pending(self) -> int:
        return len(self._tracked)

    async def recover(self) -> int:
        """Track every order left ``submitting`` (startup after a crash); returns how many."""
        db = self.executor.ledger.db

        def load() -> list[str]:
            with db.read() as session:
                # sorted here: ORDER BY id would make SQLite walk the whole primary key
                return sorted(session.scalars(select(OrderRow.id).where(
                    OrderRow.status == OrderStatus.SUBMITTING.value)))

        ids = await db.run(load)
        for order_id in ids:
            self._tracked.setdefault(order_id, _Tracked(since=0.0))  # due immediately
        return len(ids)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="inflight-checker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.check_due()
            except Exception:
                log.exception("in-flight check pass failed")
            await asyncio.sleep(self.settings.interval_s)

    async def check_due(self) -> None:
        """One pass over tracked orders older than the threshold."""
        now = time.monotonic()
        due = [oid for oid, entry in self._tracked.items()
               if now - entry.since >= self.settings.threshold_s]
        for order_id in due:
            await self.check(order_id)

    async def check(self, order_id: str) -> None:
        entry = self._tracked.get(order_id)
        if entry is None:
            return
        order = await self._load(order_id)
        if order is None or order.status is not OrderStatus.SUBMITTING:
            self._tracked.pop(order_id, None)
            return
        try:
            adapter = self.executor.brokers.adapter(order.account_id)
            found = await adapter.find_by_tag(order.client_order_id)
        except KeyError:
            return
        except BrokerError as exc:  # never counts as "not found"
            log.info("in-flight check of %s deferred: %s", order_id, exc)
            return
        if found:
            newest = max(found, key=lambda o: o.placed_at)
            if len(found) > 1:
                log.error("order %s: %d broker orders carry tag %s", order_id, len(found),
                          order.client_order_id)
            await self.executor.settle_found(order, newest)
            self._tracked.pop(order_id, None)  # only once the outcome is recorded
            return
        now = time.monotonic()
        entry.not_found += 1
        entry.first_not_found = entry.first_not_found or now
        settled = (entry.not_found >= self.settings.not_found_checks
                   and now - entry.first_not_found >= self.settings.not_found_grace_s)
        if not settled:
            return
        if entry.resubmits >= self.settings.max_resubmits:
            self._tracked.pop(order_id, None)
            await self._lost(order)
            return
        entry.resubmits += 1
        entry.not_found, entry.first_not_found, entry.since = 0, None, now
        log.warning("order %s absent at the broker after checks; placing again with tag %s",
                    order_id, order.client_order_id)
        await self.executor.place(adapter, order)

    async def _lost(self, order: Order) -> None:
        try:
            await self.executor.ledger.apply(order.id, OrderEvent(
                EventType.ORDER_FAILED, EventSource.RECONCILIATION, reason_code=ReasonCode.LOST,
                reason=f"{ReasonCode.LOST.text} Tag {order.client_order_id}."),
                expected_version=order.version)
        except (InvalidEvent, LedgerError) as exc:
            log.info("order %s changed before it could be marked lost: %s", order.id, exc)

    async def _load(self, order_id: str) -> Order | None:
        db = self.executor.ledger.db

        def load() -> Order | None:
            with db.read() as session:
                row = session.get(OrderRow, order_id)
                return order_from_row(row) if row is not None else None

        return await db.run(load)
