"""The daily summary after EOD: placed, executed, rejected, pending, retry queue, realised P&L
and success rate, queued in the EOD job's statistics transaction (once per user and day)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewarden.clock import IST
from tradewarden.notify.events import NotificationKind
from tradewarden.notify.outbox import enqueue_many
from tradewarden.notify.preferences import load_snapshot
from tradewarden.store.tables import TradeRow

COUNTS = ("placed", "executed", "rejected", "denied", "cancelled", "expired", "pending",
          "retry_queue")


def realised_pnl(session: Session, trading_day: date) -> dict[int, Decimal]:
    """Per user: the realised P&L of trades closed on ``trading_day`` (IST)."""
    start = datetime.combine(trading_day, time(0), IST).astimezone(UTC)
    rows = session.execute(select(TradeRow.user_id, TradeRow.realised_pnl).where(
        TradeRow.closed_at >= start, TradeRow.closed_at < start + timedelta(days=1)))
    totals: dict[int, Decimal] = {}
    for user_id, pnl in rows:
        totals[user_id] = totals.get(user_id, Decimal(0)) + (pnl or Decimal(0))
    return totals


def enqueue_daily_summaries(session: Session, trading_day: date,
                            stats: Iterable[Mapping[str, Any]]) -> None:
    """Queue each user's summary from their ``daily_stats`` values (dedupe: user and day)."""
    rows = list(stats)
    if not rows:
        return
    snapshot = load_snapshot(session)
    pnl = realised_pnl(session, trading_day)
    for row in rows:
        user_id = int(row["user_id"])
        payload: dict[str, Any] = {name: int(row.get(name) or 0) for name in COUNTS}
        payload.update(trading_day=trading_day.isoformat(),
                       success_rate=str(row.get("success_rate", "0")),
                       realised_pnl=pnl.get(user_id, Decimal(0)))
        enqueue_many(session, user_id, NotificationKind.DAILY_SUMMARY, [payload],
                     dedupe_keys=[f"daily_summary:{trading_day.isoformat()}"],
                     snapshot=snapshot)
