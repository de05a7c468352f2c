"""The audit database, as SQLAlchemy Core tables (the migrations create them; this is for queries)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

from scenergy.common.db import new_metadata

metadata = new_metadata()
TS = sa.DateTime(timezone=True)

# The role the services act as: it may INSERT and SELECT entries, never UPDATE or DELETE them.
WRITER_ROLE = "scenergy_audit_writer"

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("recorded_at", TS, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("actor_type", sa.Text, nullable=False),
    sa.Column("actor_id", sa.Text, nullable=False),
    sa.Column("actor_role", sa.Text),
    sa.Column("impersonator_id", sa.Text),
    sa.Column("ip_address", sa.Text),
    sa.Column("user_agent", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("previous_state", JSONB(none_as_null=True)),
    sa.Column("new_state", JSONB(none_as_null=True)),
    sa.Column("metadata", JSONB, nullable=False),
    sa.Column("redacted_fields", ARRAY(sa.Text), nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("seal", sa.Text),
    # Text search over the action and the description ("credit.grant" is searchable as "grant").
    sa.Column(
        "search",
        TSVECTOR,
        sa.Computed(
            "to_tsvector('simple'::regconfig, translate(action, '._', '  ') || ' ' || description)", persisted=True
        ),
    ),
    sa.CheckConstraint("outcome IN ('success', 'failure')", name="outcome_known"),
    sa.Index("ix_audit_log_actor", "actor_id", "seq"),
    sa.Index("ix_audit_log_action", "action", "seq"),
    sa.Index("ix_audit_log_entity", "entity_id", "seq"),
    sa.Index("ix_audit_log_actor_type", "actor_type", "seq"),
    sa.Index("ix_audit_log_failures", "seq", postgresql_where=sa.text("outcome = 'failure'")),
    sa.Index("ix_audit_log_occurred_at", "occurred_at", "seq"),
    sa.Index("ix_audit_log_search", "search", postgresql_using="gin"),
)

# One row: where the chain ends. Writers lock it, so entries are chained in one order.
chain_head = sa.Table(
    "chain_head",
    metadata,
    sa.Column("singleton", sa.Boolean, primary_key=True, server_default=sa.true()),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("singleton", name="one_row"),
)

audit_checkpoint = sa.Table(
    "audit_checkpoint",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("last_id", sa.Text),
    sa.Column("last_hash", sa.Text, nullable=False),
    sa.Column("entry_count", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.CheckConstraint("reason IN ('periodic', 'purge', 'manual')", name="reason_known"),
    sa.Index("ix_audit_checkpoint_seq", "seq"),
)
