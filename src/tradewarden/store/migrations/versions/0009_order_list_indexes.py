"""Order list: one index for the strategy filter's label side, by strategy id

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21

The list's strategy filter (``strategy_label = ? OR strategy_id IN (<ids>)``) runs as disjoint
branches merged newest first (``store/order_queries.py``). Its label side needs the label's
orders by strategy id: those with none (OpenAlgo labels), and those of other strategies,
each in ``created_at`` order and checkable from the index alone. This index replaces
``ix_orders_user_label_created`` (user_id, strategy_label, created_at), whose uses are all
served by its (user_id, strategy_label) prefix.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_user_label_strategy_created", "orders",
                    ["user_id", "strategy_label", "strategy_id", "created_at"], unique=False)
    op.drop_index("ix_orders_user_label_created", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_user_label_created", "orders",
                    ["user_id", "strategy_label", "created_at"], unique=False)
    op.drop_index("ix_orders_user_label_strategy_created", table_name="orders")
