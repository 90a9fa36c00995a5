"""The retry queue (BRIEF §3.4): when failed orders are tried again, and when they expire.

Retryable failures become ``retry_pending`` with ``next_retry_at`` — the next pre-market window
by default, or a bounded in-session backoff when configured. The queue runner re-guards each
due order and hands it to the executor, which submits a new attempt with a new client order id.
An entry that is still not placed at the next trading day's close after ``first_failed_at``
expires to ``failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from tradewarden.brokers.base import MarketSession
from tradewarden.brokers.instruments import InstrumentMaster
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import CancelledBy, Order, Origin
from tradewarden.domain.reasons import ReasonCode
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.calendar import TradingCalendar
from tradewarden.engine.guards import Guards, GuardSettings
from tradewarden.engine.ledger import AppliedEvent, Ledger, LedgerError, utcnow
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import OrderRow

log = logging.getLogger(__name__)

E = EventType


@dataclass(frozen=True, slots=True)
class RetrySettings:
    #: "premarket": retry in the next pre-market window; "backoff": in-session backoff.
    mode: str = "premarket"
    backoff_initial_s: float = 60.0
    backoff_max_s: float = 900.0
    max_attempts: int = 5


class RetryPolicy:
    """Schedules retries and decides expiry."""

    def __init__(self, ledger: Ledger, calendar: TradingCalendar,
                 settings: RetrySettings | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.ledger = ledger
        self.calendar = calendar
        self.settings = settings or RetrySettings()
        self._clock = clock

    def next_attempt_at(self, order: Order, now: datetime) -> datetime:
        if self.settings.mode == "backoff":
            delay = min(self.settings.backoff_max_s,
                        self.settings.backoff_initial_s * 2 ** order.retry_count)
            return now + timedelta(seconds=delay)
        return self.calendar.next_premarket_window(now)

    def expires_at(self, order: Order) -> datetime | None:
        if order.first_failed_at is None:
            return None
        return self.calendar.retry_expiry(order.first_failed_at)

    def retry_event(self, order: Order) -> OrderEvent | None:
        """The ``OrderRetryScheduled`` for a just-failed order, or None when out of attempts.

        Only retryable refusals fail an order (``placement.failure_of``; the rest end
        ``rejected``). Exits of managed trades are never queued here: the trade manager retries
        them itself (one owner per exit, so a position is never sold twice)."""
        code = ReasonCode(order.reason_code) if order.reason_code else None
        if order.retry_count >= self.settings.max_attempts or order.origin is Origin.TRADE_EXIT:
            return None
        return OrderEvent(E.ORDER_RETRY_SCHEDULED, EventSource.SYSTEM,
                          next_retry_at=self.next_attempt_at(order, self._clock()),
                          reason_code=code, reason=order.reason)

    async def retry_now(self, order_id: str, user_id: int) -> AppliedEvent:
        """A user's "retry": ``failed``/``retry_pending`` → ``retry_pending`` due now."""
        return await self.ledger.apply(order_id, OrderEvent(
            E.ORDER_RETRY_SCHEDULED, EventSource.USER, next_retry_at=self._clock(),
            detail={"requested_by_user": user_id}))

    async def drop(self, order_id: str) -> AppliedEvent:
        """A user's "drop": ``failed``/``retry_pending`` → ``cancelled``."""
        return await self.ledger.apply(order_id, OrderEvent(
            E.ORDER_DROPPED, EventSource.USER, cancelled_by=CancelledBy.USER,
            reason="dropped from retry queue"))


class RetryQueue:
    """Runs the queue: expires stale entries, re-guards due ones and dispatches them."""

    def __init__(self, policy: RetryPolicy, master: InstrumentMaster,
                 dispatch: Callable[[Order], None], dedupe_window_s: float = 5.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.policy = policy
        self.master = master
        self.dispatch = dispatch
        self.guard_settings = GuardSettings(dedupe_window=timedelta(seconds=dedupe_window_s))
        self._clock = clock

    async def run_due(self, market: MarketSession | None) -> list[AppliedEvent | Order]:
        """One pass over due entries; returns what changed or was dispatched."""
        ledger = self.policy.ledger
        now = self._clock()
        due = await ledger.db.run(self._due, now)
        results: list[AppliedEvent | Order] = []
        for order in due:
            expiry = self.policy.expires_at(order)
            if expiry is not None and now >= expiry:
                results.extend(await self._apply(order, OrderEvent(
                    E.ORDER_FAILED, EventSource.SYSTEM,
                    reason_code=ReasonCode(order.reason_code or ReasonCode.BROKER_UNAVAILABLE),
                    reason="expired from the retry queue: not placed by the next trading "
                           "day's close")))
                continue
            denial = await ledger.db.run(self._guard, order, market, now)
            if denial is not None:
                results.extend(await self._apply(order, OrderEvent(
                    E.ORDER_DROPPED, EventSource.SYSTEM, cancelled_by=CancelledBy.SYSTEM,
                    reason=f"dropped from retry queue: {denial}")))
                continue
            self.dispatch(order)
            results.append(order)
        return results

    def _due(self, now: datetime) -> list[Order]:
        with self.policy.ledger.db.read() as session:
            rows = session.scalars(select(OrderRow).where(
                OrderRow.status == OrderStatus.RETRY_PENDING.value,
                OrderRow.next_retry_at <= now).order_by(OrderRow.next_retry_at, OrderRow.id))
            return [order_from_row(row) for row in rows]

    def _guard(self, order: Order, market: MarketSession | None, now: datetime) -> str | None:
        with self.policy.ledger.db.read() as session:
            guards = Guards(session, self.master, None, self.guard_settings, now)
            for denial in (guards.validation(order), guards.risk(order)):
                if denial is not None:
                    return denial.reason
        return None

    async def _apply(self, order: Order, event: OrderEvent) -> list[AppliedEvent]:
        try:
            return [await self.policy.ledger.apply(order.id, event,
                                                   expected_version=order.version)]
        except (InvalidEvent, LedgerError) as exc:
            log.info("retry queue: order %s changed meanwhile: %s", order.id, exc)
            return []
