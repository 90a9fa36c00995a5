"""Reads and small writes the dashboard needs beyond the shared query layer, all user-scoped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tradewarden.store.tables import BrokerAccount, OrderRow, Strategy

QUEUED_STATUSES = ("failed", "retry_pending")


def status_counts_since(session: Session, user_id: int, since: datetime) -> dict[str, int]:
    """Orders created since ``since``, counted by status."""
    rows = session.execute(
        select(OrderRow.status, func.count())
        .where(OrderRow.user_id == user_id, OrderRow.created_at >= since)
        .group_by(OrderRow.status)).all()
    return {status: count for status, count in rows}


def queued_counts(session: Session, user_id: int) -> dict[str, int]:
    """Failed and retry-pending orders of any day (the retry queue)."""
    counts = {status: session.scalar(
        select(func.count()).select_from(OrderRow).where(
            OrderRow.user_id == user_id, OrderRow.status == status)) or 0
        for status in QUEUED_STATUSES}
    return counts


def strategy_names(session: Session, user_id: int) -> list[str]:
    return list(session.scalars(select(Strategy.name).where(
        Strategy.user_id == user_id, Strategy.deleted_at.is_(None)).order_by(Strategy.name)))


def accounts(session: Session, user_id: int) -> list[BrokerAccount]:
    return list(session.scalars(select(BrokerAccount).where(BrokerAccount.user_id == user_id)
                                .order_by(BrokerAccount.id)))


def set_kill_switch(session: Session, user_id: int, account_id: int, on: bool) -> bool:
    """Turn an account's kill switch on or off; False when the account is not the user's."""
    result = session.execute(
        update(BrokerAccount).where(BrokerAccount.id == account_id,
                                    BrokerAccount.user_id == user_id)
        .values(kill_switch=on))
    return bool(getattr(result, "rowcount", 0))
