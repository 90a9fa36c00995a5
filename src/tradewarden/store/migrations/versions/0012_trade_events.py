"""Trade events: the history of changes people make to a trade

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

Edits of a trade's stop-loss, target and trailing stop are recorded with what they changed,
and a loosening of protection made on request (``allow_loosen``) says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trade_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("trade_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", tradewarden.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"],
                                name=op.f("fk_trade_events_trade_id_trades"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_events")),
    )
    op.create_index("ix_trade_events_trade", "trade_events", ["trade_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_trade_events_trade", table_name="trade_events")
    op.drop_table("trade_events")
