"""The admin-api database (the directory and the gateway's own state), as SQLAlchemy Core tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR

from scenergy.common.db import new_metadata
from scenergy.common.outbox import outbox_table

metadata = new_metadata()
TS = sa.DateTime(timezone=True)


def _created_updated() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    ]


# --- admins and their sessions ---------------------------------------------------------------

admin_user = sa.Table(
    "admin_user",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),  # stored lower-cased
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_login_at", TS),
    sa.Column("password_changed_at", TS),
    sa.Column("deleted_at", TS),
    *_created_updated(),
    sa.CheckConstraint("role IN ('super_admin', 'admin', 'viewer')", name="role_known"),
    sa.Index("uq_admin_user_email_live", "email", unique=True, postgresql_where=sa.text("deleted_at IS NULL")),
)

admin_session = sa.Table(
    "admin_session",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # sha256 of the cookie's token: a leaked table can't log in
    sa.Column("admin_id", sa.Text, sa.ForeignKey("admin_user.id"), nullable=False),
    sa.Column("csrf_token", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("last_seen_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", TS, nullable=False),  # the absolute limit
    sa.Column("revoked_at", TS),
    sa.Column("revoked_reason", sa.Text),
    sa.Column("ip_address", sa.Text),
    sa.Column("user_agent", sa.Text),
    sa.Index("ix_admin_session_admin", "admin_id", postgresql_where=sa.text("revoked_at IS NULL")),
)

# One row per failed sign-in, by account and by address; counted in a sliding window.
login_failure = sa.Table(
    "login_failure",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("ip_address", sa.Text, nullable=False),
    sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
    sa.Index("ix_login_failure_email_at", "email", "at"),
    sa.Index("ix_login_failure_ip_at", "ip_address", "at"),
)

# A mutation's answer, replayed when the same Idempotency-Key comes again.
idempotency_record = sa.Table(
    "idempotency_record",
    metadata,
    sa.Column("admin_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status", sa.Integer),  # null while the first request is still running
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Index("ix_idempotency_record_created", "created_at"),
)

# --- the directory: clients, their users, products and sessions ------------------------------

client = sa.Table(
    "client",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("plan", sa.Text, nullable=False, server_default="free"),
    sa.Column("ai_settings", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("store_connection", JSONB),  # {platform, url, status, auto_sync, last_sync_at}
    sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("last_active_at", TS),
    sa.Column("deleted_at", TS),  # soft delete: credit history and audit trail stay
    # Word-prefix search over the name and the slug's words (pg_trgm is not in the embedded server).
    sa.Column(
        "search",
        TSVECTOR,
        sa.Computed("to_tsvector('simple'::regconfig, name || ' ' || translate(slug, '-', ' '))", persisted=True),
    ),
    *_created_updated(),
    sa.CheckConstraint("plan IN ('free', 'starter', 'pro', 'enterprise')", name="plan_known"),
    sa.Index("uq_client_slug_live", "slug", unique=True, postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("ix_client_name_lower", sa.text("lower(name)")),
    sa.Index("ix_client_search", "search", postgresql_using="gin", postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("ix_client_last_active_at", "last_active_at", postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("ix_client_created", "created_at", "id"),
    # The list's "last active" sort: never-active clients sort as 1970 (admin_api.service_layer.directory.NEVER).
    sa.Index(
        "ix_client_last_active",
        sa.text("coalesce(last_active_at, '1970-01-01T00:00:00+00:00'::timestamptz)"),
        "id",
        postgresql_where=sa.text("deleted_at IS NULL"),
    ),
)

app_user = sa.Table(
    "app_user",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("image", sa.Text),
    sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_active_at", TS),
    sa.Column("deleted_at", TS),
    sa.Column(
        "search",
        TSVECTOR,
        sa.Computed(
            "to_tsvector('simple'::regconfig, translate(email, '@._+-', '     ') || ' ' || name)", persisted=True
        ),
    ),
    *_created_updated(),
    sa.Index("ix_app_user_search", "search", postgresql_using="gin", postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("uq_app_user_email_live", "email", unique=True, postgresql_where=sa.text("deleted_at IS NULL")),
    sa.Index("ix_app_user_created", "created_at", "id", postgresql_where=sa.text("deleted_at IS NULL")),
)

membership = sa.Table(
    "membership",
    metadata,
    sa.Column("client_id", sa.Text, sa.ForeignKey("client.id"), primary_key=True),
    sa.Column("user_id", sa.Text, sa.ForeignKey("app_user.id"), primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("joined_at", TS),
    *_created_updated(),
    sa.CheckConstraint("role IN ('owner', 'editor', 'viewer')", name="role_known"),
    sa.CheckConstraint("status IN ('active', 'invited', 'suspended')", name="status_known"),
    sa.Index("ix_membership_user", "user_id"),
)

invitation = sa.Table(
    "invitation",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("client.id"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),  # the token itself goes only to the invitee
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("sent_count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("last_sent_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("accepted_at", TS),
    sa.Column("revoked_at", TS),
    sa.Column("invited_by", sa.Text, nullable=False),
    *_created_updated(),
    sa.CheckConstraint("role IN ('owner', 'editor', 'viewer')", name="role_known"),
    sa.Index(
        "uq_invitation_pending",
        "client_id",
        "email",
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    ),
)

product = sa.Table(
    "product",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("client.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("image_url", sa.Text),
    sa.Column("external_id", sa.Text),
    *_created_updated(),
    sa.CheckConstraint("source IN ('imported', 'uploaded')", name="source_known"),
    sa.Index("ix_product_client", "client_id", "created_at", "id"),
)

collection_session = sa.Table(
    "collection_session",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("client.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("product_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("generation_count", sa.Integer, nullable=False, server_default="0"),
    *_created_updated(),
    sa.CheckConstraint("status IN ('draft', 'generating', 'completed', 'archived')", name="status_known"),
    sa.Index("ix_collection_session_client", "client_id", "created_at", "id"),
)

platform_setting = sa.Table(
    "platform_setting",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", JSONB, nullable=False),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.Column("updated_by", sa.Text),
)

outbox = outbox_table(metadata)
