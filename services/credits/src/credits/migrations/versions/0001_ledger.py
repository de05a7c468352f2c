"""Create the ledger: balances, append-only transactions, holds, idempotency records, outbox.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None


# The ledger is append-only: corrections are new transactions, never edits.
APPEND_ONLY_SQL = """
CREATE FUNCTION credit_transaction_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'credit_transaction is append-only: % is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER credit_transaction_no_update_delete
  BEFORE UPDATE OR DELETE ON credit_transaction
  FOR EACH ROW EXECUTE FUNCTION credit_transaction_append_only();
CREATE TRIGGER credit_transaction_no_truncate
  BEFORE TRUNCATE ON credit_transaction
  FOR EACH STATEMENT EXECUTE FUNCTION credit_transaction_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "credit_balance",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("held", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_credit_balance_credit_limit_not_negative")),
        sa.CheckConstraint("held >= 0", name=op.f("ck_credit_balance_held_not_negative")),
        sa.CheckConstraint("version >= 0", name=op.f("ck_credit_balance_version_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_balance")),
        sa.UniqueConstraint("client_id", name=op.f("uq_credit_balance_client_id")),
    )
    op.create_table(
        "idempotency_record",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("result_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_record")),
    )
    op.create_index("ix_idempotency_record_created", "idempotency_record", ["created_at"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["seq"], unique=False, postgresql_where=sa.text("published_at IS NULL")
    )
    op.create_table(
        "credit_hold",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=True),
        sa.Column("transaction_id", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'captured', 'released', 'expired')", name=op.f("ck_credit_hold_known_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_hold_amount_positive")),
        sa.CheckConstraint(
            "captured_amount IS NULL OR (captured_amount >= 0 AND captured_amount <= amount)",
            name=op.f("ck_credit_hold_capture_within_hold"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["credit_balance.client_id"], name=op.f("fk_credit_hold_client_id_credit_balance")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_hold")),
    )
    op.create_index(
        "ix_credit_hold_active_expiry",
        "credit_hold",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_credit_hold_client_active",
        "credit_hold",
        ["client_id"],
        unique=False,
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "credit_transaction",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("generated_asset_id", sa.Text(), nullable=True),
        sa.Column("payment_transaction_id", sa.Text(), nullable=True),
        sa.Column("admin_user_id", sa.Text(), nullable=True),
        sa.Column("refund_of_id", sa.Text(), nullable=True),
        sa.Column("hold_id", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column(
            "metadata", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(type = 'refund') = (refund_of_id IS NOT NULL)", name=op.f("ck_credit_transaction_refund_links_original")
        ),
        sa.CheckConstraint(
            "(type IN ('purchase', 'grant') AND amount > 0) OR (type IN ('usage', 'refund') AND amount < 0) OR type = 'adjustment'",
            name=op.f("ck_credit_transaction_amount_sign_matches_type"),
        ),
        sa.CheckConstraint(
            "type IN ('purchase', 'grant', 'usage', 'refund', 'adjustment')",
            name=op.f("ck_credit_transaction_known_type"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_credit_transaction_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["credit_balance.client_id"], name=op.f("fk_credit_transaction_client_id_credit_balance")
        ),
        sa.ForeignKeyConstraint(
            ["refund_of_id"],
            ["credit_transaction.id"],
            name=op.f("fk_credit_transaction_refund_of_id_credit_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_transaction")),
        sa.UniqueConstraint("client_id", "version", name=op.f("uq_credit_transaction_client_id_version")),
    )
    op.create_index(
        "ix_credit_transaction_admin_created",
        "credit_transaction",
        ["admin_user_id", sa.literal_column("created_at DESC")],
        unique=False,
        postgresql_where=sa.text("admin_user_id IS NOT NULL"),
    )
    op.create_index(
        "ix_credit_transaction_client_created",
        "credit_transaction",
        ["client_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_credit_transaction_created",
        "credit_transaction",
        [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index("ix_credit_transaction_payment", "credit_transaction", ["payment_transaction_id"], unique=False)
    op.create_index(
        "ix_credit_transaction_refund_of",
        "credit_transaction",
        ["refund_of_id"],
        unique=False,
        postgresql_where=sa.text("refund_of_id IS NOT NULL"),
    )
    op.create_index(
        "ix_credit_transaction_type_created",
        "credit_transaction",
        ["type", sa.literal_column("created_at DESC")],
        unique=False,
    )

    op.execute(APPEND_ONLY_SQL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS credit_transaction_no_truncate ON credit_transaction")
    op.execute("DROP TRIGGER IF EXISTS credit_transaction_no_update_delete ON credit_transaction")
    op.drop_index("ix_credit_transaction_type_created", table_name="credit_transaction")
    op.drop_index(
        "ix_credit_transaction_refund_of",
        table_name="credit_transaction",
        postgresql_where=sa.text("refund_of_id IS NOT NULL"),
    )
    op.drop_index("ix_credit_transaction_payment", table_name="credit_transaction")
    op.drop_index("ix_credit_transaction_created", table_name="credit_transaction")
    op.drop_index("ix_credit_transaction_client_created", table_name="credit_transaction")
    op.drop_index(
        "ix_credit_transaction_admin_created",
        table_name="credit_transaction",
        postgresql_where=sa.text("admin_user_id IS NOT NULL"),
    )
    op.drop_table("credit_transaction")
    op.drop_index(
        "ix_credit_hold_client_active", table_name="credit_hold", postgresql_where=sa.text("status = 'active'")
    )
    op.drop_index(
        "ix_credit_hold_active_expiry", table_name="credit_hold", postgresql_where=sa.text("status = 'active'")
    )
    op.drop_table("credit_hold")
    op.drop_index("ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_index("ix_idempotency_record_created", table_name="idempotency_record")
    op.drop_table("idempotency_record")
    op.drop_table("credit_balance")
    op.execute("DROP FUNCTION IF EXISTS credit_transaction_append_only()")
