"""Trades: the realised P&L before the first exit of a trading day

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21

A strategy's daily P&L (portfolio limits, daily loss limit) must count what its trades realised
*that day*. A trade keeps one running ``realised_pnl``; ``day_base_pnl`` is what it had before
its first exit of ``day_base_date`` (IST), so that day's part is the difference. Existing trades
with exits get a base of 0 on the day they closed (open ones: the day they opened), which
gives the figures the code counted before the upgrade.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import tradewarden.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

IST = ZoneInfo("Asia/Kolkata")


def upgrade() -> None:
    op.add_column("trades", sa.Column("day_base_pnl", tradewarden.store.types.Money(),
                                      nullable=True))
    op.add_column("trades", sa.Column("day_base_date", sa.Date(), nullable=True))
    trades = sa.table("trades", sa.column("id", sa.BigInteger),
                      sa.column("exited_quantity", sa.Integer),
                      sa.column("opened_at", tradewarden.store.types.UTCDateTime()),
                      sa.column("closed_at", tradewarden.store.types.UTCDateTime()),
                      sa.column("day_base_pnl", tradewarden.store.types.Money()),
                      sa.column("day_base_date", sa.Date()))
    bind = op.get_bind()
    rows = bind.execute(sa.select(trades.c.id, trades.c.opened_at, trades.c.closed_at)
                        .where(trades.c.exited_quantity > 0)).all()
    for trade_id, opened_at, closed_at in rows:
        moment = closed_at or opened_at
        moment = moment if isinstance(moment, datetime) else datetime.now(UTC)
        bind.execute(sa.update(trades).where(trades.c.id == trade_id).values(
            day_base_pnl=0, day_base_date=moment.astimezone(IST).date()))


def downgrade() -> None:
    op.drop_column("trades", "day_base_date")
    op.drop_column("trades", "day_base_pnl")
