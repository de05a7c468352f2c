"""The credits database, as SQLAlchemy Core tables (the migrations create them; this is for queries)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from scenergy.common.db import new_metadata
from scenergy.common.outbox import outbox_table

metadata = new_metadata()
TS = sa.DateTime(timezone=True)

credit_balance = sa.Table(
    "credit_balance",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False, unique=True),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("held", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credit_limit", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_activity_at", TS),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("held >= 0", name="held_not_negative"),
    sa.CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
    sa.CheckConstraint("version >= 0", name="version_not_negative"),
    # The balances list's sorts (see views.LAST_ACTIVITY_KEY for why the epoch is written in).
    sa.Index(
        "ix_credit_balance_last_activity",
        sa.text("coalesce(last_activity_at, '1970-01-01T00:00:00+00:00'::timestamptz)"),
        "client_id",
    ),
    sa.Index("ix_credit_balance_balance", "balance", "client_id"),
)

TRANSACTION_TYPES = ("purchase", "grant", "usage", "refund", "adjustment")

credit_transaction = sa.Table(
    "credit_transaction",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("credit_balance.client_id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("balance_after", sa.BigInteger, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("generated_asset_id", sa.Text),
    sa.Column("payment_transaction_id", sa.Text),
    sa.Column("admin_user_id", sa.Text),
    sa.Column("refund_of_id", sa.Text, sa.ForeignKey("credit_transaction.id")),
    sa.Column("hold_id", sa.Text),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("client_id", "version"),
    sa.CheckConstraint("amount <> 0", name="amount_not_zero"),
    sa.CheckConstraint(f"type IN {TRANSACTION_TYPES}", name="known_type"),
    sa.CheckConstraint(
        "(type IN ('purchase', 'grant') AND amount > 0) OR (type IN ('usage', 'refund') AND amount < 0)"
        " OR type = 'adjustment'",
        name="amount_sign_matches_type",
    ),
    sa.CheckConstraint("(type = 'refund') = (refund_of_id IS NOT NULL)", name="refund_links_original"),
    sa.Index("ix_credit_transaction_client_created", "client_id", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_credit_transaction_created", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_credit_transaction_type_created", "type", sa.text("created_at DESC")),
    sa.Index(
        "ix_credit_transaction_admin_created",
        "admin_user_id",
        sa.text("created_at DESC"),
        postgresql_where=sa.text("admin_user_id IS NOT NULL"),
    ),
    sa.Index("ix_credit_transaction_refund_of", "refund_of_id", postgresql_where=sa.text("refund_of_id IS NOT NULL")),
    sa.Index("ix_credit_transaction_payment", "payment_transaction_id"),
)

HOLD_STATUSES = ("active", "captured", "released", "expired")

credit_hold = sa.Table(
    "credit_hold",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("credit_balance.client_id"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("captured_amount", sa.BigInteger),
    sa.Column("transaction_id", sa.Text),
    sa.Column("job_id", sa.Text),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("settled_at", TS),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(f"status IN {HOLD_STATUSES}", name="known_status"),
    sa.CheckConstraint(
        "captured_amount IS NULL OR (captured_amount >= 0 AND captured_amount <= amount)", name="capture_within_hold"
    ),
    sa.Index("ix_credit_hold_active_expiry", "expires_at", postgresql_where=sa.text("status = 'active'")),
    sa.Index("ix_credit_hold_client_active", "client_id", postgresql_where=sa.text("status = 'active'")),
)

idempotency_record = sa.Table(
    "idempotency_record",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("result_id", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Index("ix_idempotency_record_created", "created_at"),
)

outbox = outbox_table(metadata)
