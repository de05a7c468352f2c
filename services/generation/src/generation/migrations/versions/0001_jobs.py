"""Create jobs, attempts, transitions, assets, bulk operations, the events and job outboxes.

Revision ID: 0001_jobs
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_jobs"
down_revision = None
branch_labels = None
depends_on = None


# What was asked is evidence: a job's prompt, settings and products never change after submission.
IMMUTABLE_REQUEST_SQL = """
CREATE FUNCTION generation_job_request_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.settings IS DISTINCT FROM OLD.settings OR NEW.prompt IS DISTINCT FROM OLD.prompt
     OR NEW.products IS DISTINCT FROM OLD.products OR NEW.instructions IS DISTINCT FROM OLD.instructions
     OR NEW.inspiration_images IS DISTINCT FROM OLD.inspiration_images OR NEW.model IS DISTINCT FROM OLD.model
     OR NEW.client_id IS DISTINCT FROM OLD.client_id THEN
    RAISE EXCEPTION 'a generation job''s request is immutable' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
-- Only updates naming these columns fire it: the service's own status updates cost nothing extra.
CREATE TRIGGER generation_job_request_immutable
  BEFORE UPDATE OF settings, prompt, products, instructions, inspiration_images, model, client_id ON generation_job
  FOR EACH ROW EXECUTE FUNCTION generation_job_request_immutable();
"""


def upgrade() -> None:
    op.create_table(
        "bulk_operation",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("filter", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("confirmed_count", sa.BigInteger(), nullable=False),
        sa.Column("total_count", sa.BigInteger(), nullable=False),
        sa.Column("enqueued_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("skipped_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'completed', 'aborted')", name=op.f("ck_bulk_operation_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_operation")),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_bulk_operation_idempotency"),
    )
    op.create_table(
        "generation_job",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("flow_id", sa.Text(), nullable=True),
        sa.Column("products", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("settings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("instructions", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "inspiration_images",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), server_default="queued", nullable=False),
        sa.Column("progress", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hold_id", sa.Text(), nullable=True),
        sa.Column("credits_reserved", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("credits_charged", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("settlement", sa.Text(), nullable=False),
        sa.Column("settlement_error", sa.Text(), nullable=True),
        sa.Column("regenerated_from", sa.Text(), nullable=True),
        sa.Column("bulk_operation_id", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.Text(), nullable=False),
        sa.Column("submitted_by_type", sa.Text(), nullable=False),
        sa.Column("cancelled_by", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("request_hash", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("asset_id", sa.Text(), nullable=True),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("price_version", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("candidate_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("estimated_cost_usd", sa.Numeric(precision=12, scale=6), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "settlement IN ('none', 'held', 'capture_pending', 'captured', 'release_pending', 'released')",
            name=op.f("ck_generation_job_settlement"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'generating', 'completed', 'error', 'cancelled', 'dead')",
            name=op.f("ck_generation_job_status"),
        ),
        sa.CheckConstraint("attempt_count >= 0 AND max_attempts >= 1", name=op.f("ck_generation_job_attempts")),
        sa.CheckConstraint("client_id IS NOT NULL OR is_admin", name=op.f("ck_generation_job_admin_space")),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_generation_job_progress")),
        sa.ForeignKeyConstraint(
            ["regenerated_from"], ["generation_job.id"], name=op.f("fk_generation_job_regenerated_from_generation_job")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_job")),
        sa.UniqueConstraint("submitted_by", "idempotency_key", name="uq_generation_job_idempotency"),
    )
    op.create_index(
        "ix_generation_job_active",
        "generation_job",
        ["status", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('pending', 'generating')"),
    )
    op.create_index(
        "ix_generation_job_client",
        "generation_job",
        ["client_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_generation_job_created",
        "generation_job",
        [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_generation_job_dead",
        "generation_job",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_index(
        "ix_generation_job_due",
        "generation_job",
        ["available_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_generation_job_finished",
        "generation_job",
        [sa.literal_column("completed_at DESC")],
        unique=False,
        postgresql_where=sa.text("completed_at IS NOT NULL"),
    )
    op.create_index(
        "ix_generation_job_lease",
        "generation_job",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'generating'"),
    )
    op.create_index(
        "ix_generation_job_unsettled",
        "generation_job",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("settlement IN ('capture_pending', 'release_pending')"),
    )
    op.create_table(
        "job_outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("routing_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_job_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_job_outbox_event_id")),
    )
    op.create_index(
        "ix_job_outbox_unpublished",
        "job_outbox",
        ["seq"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
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
        "processed_message",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_processed_message")),
    )
    op.create_table(
        "bulk_client_lock",
        sa.Column("client_key", sa.Text(), nullable=False),
        sa.Column("operation_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["bulk_operation.id"],
            name=op.f("fk_bulk_client_lock_operation_id_bulk_operation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_bulk_client_lock")),
    )
    op.create_table(
        "bulk_item",
        sa.Column("operation_id", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("client_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="waiting", nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["generation_job.id"], name=op.f("fk_bulk_item_job_id_generation_job")),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["bulk_operation.id"],
            name=op.f("fk_bulk_item_operation_id_bulk_operation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operation_id", "job_id", name=op.f("pk_bulk_item")),
    )
    op.create_index(
        "ix_bulk_item_pace",
        "bulk_item",
        ["client_key", "done_at"],
        unique=False,
        postgresql_where=sa.text("status = 'enqueued'"),
    )
    op.create_index(
        "ix_bulk_item_waiting",
        "bulk_item",
        ["operation_id", "client_key"],
        unique=False,
        postgresql_where=sa.text("status = 'waiting'"),
    )
    op.create_table(
        "generated_asset",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("is_admin_generated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("transferred_to_client_id", sa.Text(), nullable=True),
        sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transferred_by", sa.Text(), nullable=True),
        sa.Column("gallery_client_id", sa.Text(), nullable=True),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column(
            "product_names",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("had_errors", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("approval_status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("reviewed_by", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Text(), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "approval_status IN ('pending', 'approved', 'rejected')", name=op.f("ck_generated_asset_approval_status")
        ),
        sa.CheckConstraint(
            "transferred_to_client_id IS NULL OR is_admin_generated",
            name=op.f("ck_generated_asset_transfer_admin_only"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_asset")),
        sa.UniqueConstraint("job_id", name=op.f("uq_generated_asset_job_id")),
    )
    op.create_index(
        "ix_generated_asset_admin_generated",
        "generated_asset",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("is_admin_generated"),
    )
    op.create_index(
        "ix_generated_asset_created",
        "generated_asset",
        [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_generated_asset_gallery",
        "generated_asset",
        ["gallery_client_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_generated_asset_purge",
        "generated_asset",
        ["purge_after"],
        unique=False,
        postgresql_where=sa.text("purge_after IS NOT NULL AND purged_at IS NULL"),
    )
    op.create_table(
        "job_attempt",
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_stack", sa.Text(), nullable=True),
        sa.Column("provider_request_id", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("retry_after_s", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("candidate_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("queue_ms", sa.BigInteger(), nullable=True),
        sa.Column("model_ms", sa.BigInteger(), nullable=True),
        sa.Column("upload_ms", sa.BigInteger(), nullable=True),
        sa.Column("total_ms", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "number", name=op.f("pk_job_attempt")),
    )
    op.create_table(
        "job_transition",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.Text(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_transition")),
    )
    op.create_index("ix_job_transition_job", "job_transition", ["job_id", "id"], unique=False)
    op.execute(IMMUTABLE_REQUEST_SQL)


def downgrade() -> None:
    op.execute("DROP TRIGGER generation_job_request_immutable ON generation_job")
    op.execute("DROP FUNCTION generation_job_request_immutable()")
    op.drop_index("ix_job_transition_job", table_name="job_transition")
    op.drop_table("job_transition")
    op.drop_table("job_attempt")
    op.drop_index(
        "ix_generated_asset_purge",
        table_name="generated_asset",
        postgresql_where=sa.text("purge_after IS NOT NULL AND purged_at IS NULL"),
    )
    op.drop_index("ix_generated_asset_gallery", table_name="generated_asset")
    op.drop_index("ix_generated_asset_created", table_name="generated_asset")
    op.drop_index(
        "ix_generated_asset_admin_generated",
        table_name="generated_asset",
        postgresql_where=sa.text("is_admin_generated"),
    )
    op.drop_table("generated_asset")
    op.drop_index("ix_bulk_item_waiting", table_name="bulk_item", postgresql_where=sa.text("status = 'waiting'"))
    op.drop_index("ix_bulk_item_pace", table_name="bulk_item", postgresql_where=sa.text("status = 'enqueued'"))
    op.drop_table("bulk_item")
    op.drop_table("bulk_client_lock")
    op.drop_table("processed_message")
    op.drop_index("ix_outbox_unpublished", table_name="outbox", postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_index(
        "ix_job_outbox_unpublished", table_name="job_outbox", postgresql_where=sa.text("published_at IS NULL")
    )
    op.drop_table("job_outbox")
    op.drop_index(
        "ix_generation_job_unsettled",
        table_name="generation_job",
        postgresql_where=sa.text("settlement IN ('capture_pending', 'release_pending')"),
    )
    op.drop_index(
        "ix_generation_job_lease", table_name="generation_job", postgresql_where=sa.text("status = 'generating'")
    )
    op.drop_index(
        "ix_generation_job_finished", table_name="generation_job", postgresql_where=sa.text("completed_at IS NOT NULL")
    )
    op.drop_index("ix_generation_job_due", table_name="generation_job", postgresql_where=sa.text("status = 'pending'"))
    op.drop_index("ix_generation_job_dead", table_name="generation_job", postgresql_where=sa.text("status = 'dead'"))
    op.drop_index("ix_generation_job_created", table_name="generation_job")
    op.drop_index("ix_generation_job_client", table_name="generation_job")
    op.drop_index(
        "ix_generation_job_active",
        table_name="generation_job",
        postgresql_where=sa.text("status IN ('pending', 'generating')"),
    )
    op.drop_table("generation_job")
    op.drop_table("bulk_operation")
