"""The payments database: Stripe events as received, payments and refunds as applied, packs, customers."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from scenergy.common.db import new_metadata
from scenergy.common.outbox import outbox_table

metadata = new_metadata()

credit_pack = sa.Table(
    "credit_pack",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("price_amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("stripe_price_id", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("credits > 0 AND price_amount >= 0", name="amounts"),
)

stripe_customer = sa.Table(
    "stripe_customer",
    metadata,
    sa.Column("stripe_customer_id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_stripe_customer_client", "client_id"),
)

# A refund or dispute that arrived before its payment is parked as failed with this outcome; the
# payment's arrival makes them all due. The condition is SQL text, equal to the partial index's
# predicate, so the planner uses that index even for a prepared statement's generic plan.
WAITING_FOR_PAYMENT = "waiting for its payment"
waiting_for_payment = sa.text(f"status = 'failed' AND outcome = '{WAITING_FOR_PAYMENT}'")

# Every event Stripe delivered, once by its id; also the processing queue (claimed with SKIP LOCKED).
stripe_event = sa.Table(
    "stripe_event",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),  # Stripe's time
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("object_id", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("deliveries", sa.Integer, nullable=False, server_default="1"),
    sa.Column("last_error", sa.Text),
    sa.Column("outcome", sa.Text),
    sa.Column("payment_id", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.Column("processed_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('pending', 'processed', 'failed', 'ignored')", name="status"),
    sa.Index("ix_stripe_event_due", "next_attempt_at", postgresql_where=sa.text("status IN ('pending', 'failed')")),
    sa.Index("ix_stripe_event_received", sa.text("received_at DESC"), sa.text("id DESC")),
    sa.Index("ix_stripe_event_payment", "payment_id"),
    # Small (only parked events), so a payment's arrival never scans the backlog of pending events.
    sa.Index("ix_stripe_event_waiting", "id", postgresql_where=waiting_for_payment),
)

payment = sa.Table(
    "payment",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("checkout_session_id", sa.Text, nullable=False, unique=True),
    sa.Column("payment_intent_id", sa.Text, unique=True),
    sa.Column("charge_id", sa.Text, unique=True),
    sa.Column("customer_id", sa.Text),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("credit_pack_id", sa.Text, sa.ForeignKey("credit_pack.id"), nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("amount_total", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credits_refunded", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("refunded_at", sa.DateTime(timezone=True)),  # when the refunded amount last grew
    sa.Column("purchase_transaction_id", sa.Text),
    sa.Column("disputed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("dispute_status", sa.Text),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("amount_refunded BETWEEN 0 AND amount_total", name="refunded_amount"),
    sa.CheckConstraint("credits_refunded BETWEEN 0 AND credits", name="refunded_credits"),
    sa.Index("ix_payment_paid", sa.text("paid_at DESC"), sa.text("id DESC")),
    sa.Index("ix_payment_client", "client_id", sa.text("paid_at DESC")),
)

refund_record = sa.Table(
    "refund_record",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("payment_id", sa.Text, sa.ForeignKey("payment.id"), nullable=False),
    sa.Column("stripe_refund_id", sa.Text, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # requested | succeeded | failed | pending | canceled
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("idempotency_key", sa.Text, unique=True),  # stored before Stripe is called
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_refund_record_payment", "payment_id"),
)

# The credit refunds applied to the ledger: one per cumulative level, so a level applies once.
credit_refund = sa.Table(
    "credit_refund",
    metadata,
    sa.Column("payment_id", sa.Text, sa.ForeignKey("payment.id"), primary_key=True),
    sa.Column("credits_level", sa.BigInteger, primary_key=True),  # credits refunded once this applies
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("credit_transaction_id", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

reconciliation_run = sa.Table(
    "reconciliation_run",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("sessions_checked", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("refunds_checked", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("drift", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("healed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

outbox = outbox_table(metadata)
