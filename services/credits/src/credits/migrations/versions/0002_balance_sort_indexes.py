"""Indexes for the balances list's two sorts (last activity, balance), so a page doesn't sort every account.

Revision ID: 0002_balance_sort_indexes
Revises: 0001_ledger
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_balance_sort_indexes"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_credit_balance_last_activity",
        "credit_balance",
        [sa.text("coalesce(last_activity_at, '1970-01-01T00:00:00+00:00'::timestamptz)"), "client_id"],
    )
    op.create_index("ix_credit_balance_balance", "credit_balance", ["balance", "client_id"])


def downgrade() -> None:
    op.drop_index("ix_credit_balance_balance", table_name="credit_balance")
    op.drop_index("ix_credit_balance_last_activity", table_name="credit_balance")
