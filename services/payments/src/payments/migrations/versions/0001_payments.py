"""Create Stripe events, payments, refunds, credit packs, customers, reconciliation runs and the outbox.

Revision ID: 0001_payments
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_payments"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_pack",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("stripe_price_id", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("credits > 0 AND price_amount >= 0", name=op.f("ck_credit_pack_amounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_pack")),
    )
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
        "reconciliation_run",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("sessions_checked", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunds_checked", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "drift", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("healed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_run")),
    )
    op.create_table(
        "stripe_customer",
        sa.Column("stripe_customer_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("stripe_customer_id", name=op.f("pk_stripe_customer")),
    )
    op.create_index("ix_stripe_customer_client", "stripe_customer", ["client_id"], unique=False)
    op.create_table(
        "stripe_event",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deliveries", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("payment_id", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processed', 'failed', 'ignored')", name=op.f("ck_stripe_event_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_event")),
    )
    op.create_index(
        "ix_stripe_event_due",
        "stripe_event",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index("ix_stripe_event_payment", "stripe_event", ["payment_id"], unique=False)
    op.create_index(
        "ix_stripe_event_waiting",
        "stripe_event",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'failed' AND outcome = 'waiting for its payment'"),
    )
    op.create_index(
        "ix_stripe_event_received",
        "stripe_event",
        [sa.literal_column("received_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("checkout_session_id", sa.Text(), nullable=False),
        sa.Column("payment_intent_id", sa.Text(), nullable=True),
        sa.Column("charge_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=False),
        sa.Column("credit_pack_id", sa.Text(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_refunded", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purchase_transaction_id", sa.Text(), nullable=True),
        sa.Column("disputed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("dispute_status", sa.Text(), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("amount_refunded BETWEEN 0 AND amount_total", name=op.f("ck_payment_refunded_amount")),
        sa.CheckConstraint("credits_refunded BETWEEN 0 AND credits", name=op.f("ck_payment_refunded_credits")),
        sa.ForeignKeyConstraint(
            ["credit_pack_id"], ["credit_pack.id"], name=op.f("fk_payment_credit_pack_id_credit_pack")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_payment_charge_id")),
        sa.UniqueConstraint("checkout_session_id", name=op.f("uq_payment_checkout_session_id")),
        sa.UniqueConstraint("payment_intent_id", name=op.f("uq_payment_payment_intent_id")),
    )
    op.create_index("ix_payment_client", "payment", ["client_id", sa.literal_column("paid_at DESC")], unique=False)
    op.create_index(
        "ix_payment_paid", "payment", [sa.literal_column("paid_at DESC"), sa.literal_column("id DESC")], unique=False
    )
    op.create_table(
        "credit_refund",
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("credits_level", sa.BigInteger(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("credit_transaction_id", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payment.id"], name=op.f("fk_credit_refund_payment_id_payment")),
        sa.PrimaryKeyConstraint("payment_id", "credits_level", name=op.f("pk_credit_refund")),
    )
    op.create_table(
        "refund_record",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Text(), nullable=False),
        sa.Column("stripe_refund_id", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payment.id"], name=op.f("fk_refund_record_payment_id_payment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_record")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refund_record_idempotency_key")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refund_record_stripe_refund_id")),
    )
    op.create_index("ix_refund_record_payment", "refund_record", ["payment_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_refund_record_payment", table_name="refund_record")
    op.drop_table("refund_record")
    op.drop_table("credit_refund")
    op.drop_index("ix_payment_paid", table_name="payment")
    op.drop_index("ix_payment_client", table_name="payment")
    op.drop_table("payment")
    op.drop_index("ix_stripe_event_received", table_name="stripe_event")
    op.drop_index("ix_stripe_event_waiting", table_name="stripe_event")
    op.drop_index("ix_stripe_event_payment", table_name="stripe_event")
    op.drop_index(
        "ix_stripe_event_due", table_name="stripe_event", postgresql_where=sa.text("status IN ('pending', 'failed')")
    )
    op.drop_table("stripe_event")
    op.drop_index("ix_stripe_customer_client", table_name="stripe_customer")
    op.drop_table("stripe_customer")
    op.drop_table("reconciliation_run")
    op.drop_index("ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("credit_pack")
