"""Browser sessions of the web dashboard; order-list indexes for the reason and strategy filters

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("created_at", tradewarden.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("last_seen_at", tradewarden.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("expires_at", tradewarden.store.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_web_sessions_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"], unique=False)
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_index("ix_orders_user_status_reason_created", "orders",
                    ["user_id", "status", "reason_code", "created_at"], unique=False)
    op.create_index("ix_orders_user_label_created", "orders",
                    ["user_id", "strategy_label", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_user_label_created", table_name="orders")
    op.drop_index("ix_orders_user_status_reason_created", table_name="orders")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_table("web_sessions")
