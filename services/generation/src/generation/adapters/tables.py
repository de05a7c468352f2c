"""The generation database: jobs, their attempts and transitions, assets, bulk operations, two outboxes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from scenergy.common.consumer import inbox_table
from scenergy.common.db import new_metadata
from scenergy.common.outbox import outbox_table

metadata = new_metadata()

JOB_STATUSES = "'pending', 'generating', 'completed', 'error', 'cancelled', 'dead'"
SETTLEMENTS = "'none', 'held', 'capture_pending', 'captured', 'release_pending', 'released'"

generation_job = sa.Table(
    "generation_job",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text),  # NULL: the admin space
    sa.Column("is_admin", sa.Boolean, nullable=False),  # submitted by an admin: charges nobody
    sa.Column("flow_id", sa.Text),
    sa.Column("products", JSONB, nullable=False),
    sa.Column("settings", JSONB, nullable=False),  # immutable snapshot (a trigger refuses changes)
    sa.Column("instructions", sa.Text, nullable=False, server_default=""),
    sa.Column("inspiration_images", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("stage", sa.Text, nullable=False, server_default="queued"),
    sa.Column("progress", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("progress_at", sa.DateTime(timezone=True)),
    sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("available_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("dispatched_at", sa.DateTime(timezone=True)),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("hold_id", sa.Text),
    sa.Column("credits_reserved", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credits_charged", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("settlement", sa.Text, nullable=False),
    sa.Column("settlement_error", sa.Text),
    sa.Column("regenerated_from", sa.Text, sa.ForeignKey("generation_job.id")),
    sa.Column("bulk_operation_id", sa.Text),
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("submitted_by_type", sa.Text, nullable=False),
    sa.Column("cancelled_by", sa.Text),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_hash", sa.Text),
    sa.Column("request_id", sa.Text),
    sa.Column("asset_id", sa.Text),
    sa.Column("error_class", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("price_version", sa.Text),
    sa.Column("prompt_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("candidate_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("total_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("estimated_cost_usd", sa.Numeric(12, 6), nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"status IN ({JOB_STATUSES})", name="status"),
    sa.CheckConstraint(f"settlement IN ({SETTLEMENTS})", name="settlement"),
    sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
    sa.CheckConstraint("client_id IS NOT NULL OR is_admin", name="admin_space"),
    sa.CheckConstraint("attempt_count >= 0 AND max_attempts >= 1", name="attempts"),
    sa.UniqueConstraint("submitted_by", "idempotency_key", name="uq_generation_job_idempotency"),
    # The active-jobs poll and the dashboard read only these rows, however many past jobs there are.
    sa.Index(
        "ix_generation_job_active",
        "status",
        "created_at",
        postgresql_where=sa.text("status IN ('pending', 'generating')"),
    ),
    sa.Index("ix_generation_job_due", "available_at", postgresql_where=sa.text("status = 'pending'")),
    sa.Index("ix_generation_job_lease", "lease_expires_at", postgresql_where=sa.text("status = 'generating'")),
    sa.Index("ix_generation_job_dead", "created_at", "id", postgresql_where=sa.text("status = 'dead'")),
    sa.Index(
        "ix_generation_job_unsettled",
        "updated_at",
        postgresql_where=sa.text("settlement IN ('capture_pending', 'release_pending')"),
    ),
    sa.Index("ix_generation_job_created", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_generation_job_client", "client_id", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index(
        "ix_generation_job_finished", sa.text("completed_at DESC"), postgresql_where=sa.text("completed_at IS NOT NULL")
    ),
)

# A job's attempts, transitions and asset carry its id without a foreign key. Their rows are only
# ever written by the statement that changes the job, from the row that statement returned (see
# jobstore), and jobs are never deleted, so the key could not catch anything; its check was a third
# of the claim's database time.

# Every status change, as it happened (the debugger's timeline).
job_transition = sa.Table(
    "job_transition",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_job_transition_job", "job_id", "id"),
)

job_attempt = sa.Table(
    "job_attempt",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("error_class", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("error_stack", sa.Text),
    sa.Column("provider_request_id", sa.Text),
    sa.Column("http_status", sa.Integer),
    sa.Column("retry_after_s", sa.Float),
    sa.Column("prompt_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("candidate_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("total_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("queue_ms", sa.BigInteger),
    sa.Column("model_ms", sa.BigInteger),
    sa.Column("upload_ms", sa.BigInteger),
    sa.Column("total_ms", sa.BigInteger),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

generated_asset = sa.Table(
    "generated_asset",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("job_id", sa.Text, nullable=False, unique=True),
    sa.Column("client_id", sa.Text),  # the generating client; NULL for the admin space
    sa.Column("is_admin_generated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("transferred_to_client_id", sa.Text),
    sa.Column("transferred_at", sa.DateTime(timezone=True)),
    sa.Column("transferred_by", sa.Text),
    # Whose gallery shows it: the client, or the transfer's target. Kept in one column to filter fast.
    sa.Column("gallery_client_id", sa.Text),
    sa.Column("object_key", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("product_names", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("had_errors", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("approval_status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("reviewed_by", sa.Text),
    sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    sa.Column("review_note", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
    sa.Column("deleted_by", sa.Text),
    sa.Column("purge_after", sa.DateTime(timezone=True)),
    sa.Column("purged_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("approval_status IN ('pending', 'approved', 'rejected')", name="approval_status"),
    sa.CheckConstraint("transferred_to_client_id IS NULL OR is_admin_generated", name="transfer_admin_only"),
    sa.Index("ix_generated_asset_created", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_generated_asset_gallery", "gallery_client_id", sa.text("created_at DESC"), sa.text("id DESC")),
    sa.Index("ix_generated_asset_admin_generated", "created_at", postgresql_where=sa.text("is_admin_generated")),
    sa.Index(
        "ix_generated_asset_purge",
        "purge_after",
        postgresql_where=sa.text("purge_after IS NOT NULL AND purged_at IS NULL"),
    ),
)

bulk_operation = sa.Table(
    "bulk_operation",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("filter", JSONB, nullable=False),
    sa.Column("confirmed_count", sa.BigInteger, nullable=False),
    sa.Column("total_count", sa.BigInteger, nullable=False),
    sa.Column("enqueued_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("skipped_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rate_per_minute", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('running', 'completed', 'aborted')", name="status"),
    sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_bulk_operation_idempotency"),
)

bulk_item = sa.Table(
    "bulk_item",
    metadata,
    sa.Column("operation_id", sa.Text, sa.ForeignKey("bulk_operation.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("job_id", sa.Text, sa.ForeignKey("generation_job.id"), primary_key=True),
    sa.Column("client_key", sa.Text, nullable=False),  # the client id, or "admin"
    sa.Column("status", sa.Text, nullable=False, server_default="waiting"),  # waiting | enqueued | skipped
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Index("ix_bulk_item_waiting", "operation_id", "client_key", postgresql_where=sa.text("status = 'waiting'")),
    sa.Index("ix_bulk_item_pace", "client_key", "done_at", postgresql_where=sa.text("status = 'enqueued'")),
)

# One running bulk operation per client: a row per client of the operation, removed when it ends.
bulk_client_lock = sa.Table(
    "bulk_client_lock",
    metadata,
    sa.Column("client_key", sa.Text, primary_key=True),
    sa.Column("operation_id", sa.Text, sa.ForeignKey("bulk_operation.id", ondelete="CASCADE"), nullable=False),
)

outbox = outbox_table(metadata)  # audit events to scenergy.events
job_outbox = outbox_table(metadata, name="job_outbox")  # job ids to the jobs queue
processed_message = inbox_table(metadata)
