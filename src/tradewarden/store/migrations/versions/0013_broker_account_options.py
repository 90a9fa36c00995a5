"""Broker accounts: options, encrypted secrets, a session state; API keys bound to an account

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08

A broker account keeps its plain options (``options``, JSON) beside its secret ones (the
existing ``credentials_encrypted``), a state (ready, login_required, disabled, error) with a
reason and the session's expiry, and whether it is its user's default account. An API key may
name the account its OpenAlgo-style calls act on. Existing accounts (paper) are ``ready``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewarden.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column("is_default", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("state", sa.String(length=16), nullable=False,
                                      server_default="ready"))
        batch_op.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("session_expires_at",
                                      tradewarden.store.types.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_api_keys_account_id_broker_accounts"),
                                    "broker_accounts", ["account_id"], ["id"],
                                    ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_account_id_broker_accounts"),
                                 type_="foreignkey")
        batch_op.drop_column("account_id")
    with op.batch_alter_table("broker_accounts", schema=None) as batch_op:
        batch_op.drop_column("session_expires_at")
        batch_op.drop_column("state_reason")
        batch_op.drop_column("state")
        batch_op.drop_column("is_default")
        batch_op.drop_column("options")
