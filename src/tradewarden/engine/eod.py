"""End-of-day cleanup (BRIEF §6): final verification, stale orders, DAY-order expiry and the
daily statistics row. Runs once per trading day from the scheduler (default 18:00 IST)."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_

from tradewarden.brokers.errors import BrokerError, OrderNotFoundError
from tradewarden.clock import IST
from tradewarden.domain.events import EventSource, EventType, OrderEvent
from tradewarden.domain.lifecycle import InvalidEvent
from tradewarden.domain.orders import Order
from tradewarden.domain.statuses import OrderStatus
from tradewarden.engine.executor import Executor
from tradewarden.engine.inflight import InflightChecker
from tradewarden.engine.intake import Intake
from tradewarden.engine.ledger import LedgerError, utcnow
from tradewarden.engine.monitor import Monitor
from tradewarden.notify.summary import enqueue_daily_summaries
from tradewarden.store.order_mapping import order_from_row
from tradewarden.store.tables import DailyStats, FillRow, OrderEventRow, OrderRow

log = logging.getLogger(__name__)

S = OrderStatus
STALE_AFTER = timedelta(hours=24)
ARCHIVE_CHUNK = 5_000
FINAL = tuple(s.value for s in OrderStatus if s.is_final)
NOT_FINAL = tuple(s.value for s in OrderStatus if not s.is_final)
AT_BROKER = (S.OPEN, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.PENDING_MODIFY)


def _row(row: object) -> dict[str, Any]:
    table = row.__table__  # type: ignore[attr-defined]
    return {column.name: getattr(row, column.name) for column in table.columns}


def _grouped(rows: Iterable[OrderEventRow | FillRow]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.order_id, []).append(_row(row))
    return grouped


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where an IST calendar day starts and ends."""
    start = datetime.combine(day, time(0), IST).astimezone(UTC)
    return start, start + timedelta(days=1)


class EodCleanup:
    """The EOD job's work; every step is safe to repeat."""

    def __init__(self, executor: Executor, intake: Intake, inflight: InflightChecker,
                 monitor: Monitor, clock: Callable[[], datetime] = utcnow,
                 archive_after_days: int | None = None,
                 archive_dir: Path | None = None) -> None:
        self.executor = executor
        self.intake = intake
        self.inflight = inflight
        self.monitor = monitor
        self.ledger = executor.ledger
        self._clock = clock
        self.archive_after_days = archive_after_days
        self.archive_dir = archive_dir

    async def run(self, trading_day: date) -> dict[str, Any]:
        verification = await self.monitor.cycle()
        stale = await self.resolve_stale()
        stats = await self.ledger.db.run(self.write_stats, trading_day)
        archived = await self.ledger.db.run(self.archive)
        return {"verified_changes": verification.events, **stale, "stats_rows": stats,
                "archived": archived}

    def archive(self) -> int:
        """Move final orders older than the retention period (with their events and fills)
        to gzip JSON-lines files under ``archive_dir``; off unless configured.

        The file is written and synced before the rows are deleted, so a crash in between
        archives those orders again next time (a duplicate in the archive, never a loss).
        """
        if self.archive_after_days is None or self.archive_dir is None:
            return 0
        cutoff = self._clock() - timedelta(days=self.archive_after_days)
        total = 0
        while True:
            with self.ledger.db.read() as session:
                # Orders with fills stay: our positions are computed from them. Imported
                # history stays too: its idempotency keys keep a re-import a no-op.
                orders = list(session.scalars(
                    select(OrderRow).where(OrderRow.status.in_(FINAL),
                                           OrderRow.closed_at < cutoff,
                                           OrderRow.filled_quantity == 0,
                                           OrderRow.client_order_id.not_like("LG%"))
                    .order_by(OrderRow.id).limit(ARCHIVE_CHUNK)))
                if not orders:
                    return total
                ids = [o.id for o in orders]
                versions = [(o.id, o.version) for o in orders]
                events = _grouped(session.scalars(
                    select(OrderEventRow).where(OrderEventRow.order_id.in_(ids))
                    .order_by(OrderEventRow.order_id, OrderEventRow.sequence)))
                fills = _grouped(session.scalars(
                    select(FillRow).where(FillRow.order_id.in_(ids)).order_by(FillRow.id)))
                lines = [json.dumps({"order": _row(o), "events": events.get(o.id, []),
                                     "fills": fills.get(o.id, [])}, default=str)
                         for o in orders]
            self.archive_dir.mkdir(parents=True, exist_ok=True)
            path = self.archive_dir / (
                f"orders-{self._clock():%Y%m%dT%H%M%S}-{ids[0]}.jsonl.gz")
            with gzip.open(path, "wt", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            with self.ledger.db.transaction() as session:
                # only rows unchanged since they were written to the file (a late fill
                # in between keeps its order in the database)
                unchanged = list(session.scalars(select(OrderRow.id).where(
                    tuple_(OrderRow.id, OrderRow.version).in_(versions))))
                session.execute(delete(FillRow).where(FillRow.order_id.in_(unchanged)))
                session.execute(delete(OrderEventRow).where(
                    OrderEventRow.order_id.in_(unchanged)))
                session.execute(delete(OrderRow).where(OrderRow.id.in_(unchanged)))
            total += len(unchanged)
            if len(unchanged) < len(ids) and len(orders) < ARCHIVE_CHUNK:
                return total

    async def resolve_stale(self) -> dict[str, int]:
        """Orders not final after 24 h: guard, look up or ask the broker; expire the vanished."""
        cutoff = self._clock() - STALE_AFTER

        def query() -> list[Order]:
            with self.ledger.db.read() as session:
                rows = session.scalars(select(OrderRow).where(
                    OrderRow.status.in_(NOT_FINAL), OrderRow.created_at < cutoff,
                    OrderRow.status.not_in((S.FAILED.value, S.RETRY_PENDING.value))))
                return [order_from_row(row) for row in rows]

        counts = {"stale": 0, "stale_resolved": 0, "stale_expired": 0}
        created: list[Order] = []
        for order in await self.ledger.db.run(query):
            counts["stale"] += 1
            if order.status is S.CREATED:
                created.append(order)
            elif order.status is S.SUBMITTING:
                self.inflight.track(order.id)
            elif order.broker_order_id is not None:
                counts[await self._ask_broker(order)] += 1
        if created:
            await self.intake.guard(created)
        return counts

    async def _ask_broker(self, order: Order) -> str:
        try:
            adapter = self.executor.brokers.adapter(order.account_id)
            seen = await adapter.get_order(order.broker_order_id or "")
        except OrderNotFoundError:
            try:
                await self.ledger.apply(order.id, OrderEvent(
                    EventType.ORDER_EXPIRED, EventSource.RECONCILIATION,
                    reason="stale: not found at the broker more than 24 h after it was "
                           "placed"), expected_version=order.version)
                return "stale_expired"
            except (InvalidEvent, LedgerError) as exc:
                log.info("stale order %s not expired: %s", order.id, exc)
                return "stale"
        except (BrokerError, KeyError) as exc:
            log.info("stale order %s: broker not asked: %s", order.id, exc)
            return "stale"
        await self.executor.apply_broker_view(order.id, seen, EventSource.RECONCILIATION)
        return "stale_resolved"

    def write_stats(self, trading_day: date) -> int:
        """(Re)write each user's statistics row for ``trading_day`` (orders created that day)."""
        start, end = day_bounds(trading_day)
        with self.ledger.db.transaction() as session:
            rows = session.execute(
                select(OrderRow.user_id, OrderRow.status, func.count())
                .where(OrderRow.created_at >= start, OrderRow.created_at < end)
                .group_by(OrderRow.user_id, OrderRow.status)).all()
            per_user: dict[int, dict[str, int]] = {}
            for user_id, status, count in rows:
                per_user.setdefault(user_id, {})[status] = count
            session.execute(delete(DailyStats).where(DailyStats.trading_day == trading_day))
            now = self._clock()
            values = [_stats_row(user_id, trading_day, counts, now)
                      for user_id, counts in sorted(per_user.items())]
            if values:
                session.execute(insert(DailyStats), values)
            enqueue_daily_summaries(session, trading_day, values)  # once per user and day
            return len(values)


def _stats_row(user_id: int, day: date, counts: dict[str, int], now: datetime,
               ) -> dict[str, Any]:
    def n(*statuses: OrderStatus) -> int:
        return sum(counts.get(s.value, 0) for s in statuses)

    executed = n(S.FILLED)
    sent = sum(counts.values()) - n(S.DENIED, S.CREATED)
    return {
        "user_id": user_id, "trading_day": day, "placed": sum(counts.values()),
        "executed": executed, "rejected": n(S.REJECTED), "denied": n(S.DENIED),
        "cancelled": n(S.CANCELLED), "expired": n(S.EXPIRED),
        "pending": n(S.CREATED, S.SUBMITTING, *AT_BROKER),
        "retry_queue": n(S.FAILED, S.RETRY_PENDING),
        "success_rate": (Decimal(executed * 100) / sent).quantize(Decimal("0.01"))
        if sent else Decimal(0),
        "created_at": now,
    }
