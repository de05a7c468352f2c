"""Create the audit log: hash-chained entries, the chain head, signed checkpoints, the writer role.

The services act as the role `scenergy_audit_writer` (SET ROLE at connect): it may INSERT and SELECT
entries and checkpoints and move the chain head, never UPDATE or DELETE an entry. Triggers refuse
those for every role; the only deletion is `audit_purge`, which needs a purge checkpoint first.

Revision ID: 0001_audit_log
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_audit_log"
down_revision = None
branch_labels = None
depends_on = None


GENESIS_HASH = "0" * 64  # the prev_hash of the first entry

APPEND_ONLY_SQL = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('scenergy.audit_purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

# Retention: entries up to a purge checkpoint may go, and nothing else. Runs as the owner.
PURGE_SQL = """
CREATE FUNCTION audit_purge(through_seq bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE deleted bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit_checkpoint WHERE reason = 'purge' AND seq = through_seq) THEN
    RAISE EXCEPTION 'a purge through entry % needs a purge checkpoint at that entry first', through_seq
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('scenergy.audit_purge', 'on', true);
  DELETE FROM audit_log WHERE seq <= through_seq;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('scenergy.audit_purge', 'off', true);
  RETURN deleted;
END
$$;
REVOKE ALL ON FUNCTION audit_purge(bigint) FROM PUBLIC;
"""

# Roles are cluster-wide and databases may be migrated concurrently (tests): tolerate a race.
WRITER_ROLE_SQL = """
DO $$
BEGIN
  BEGIN
    CREATE ROLE scenergy_audit_writer NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
  END;
  IF NOT pg_has_role(current_user, 'scenergy_audit_writer', 'MEMBER') THEN
    EXECUTE format('GRANT scenergy_audit_writer TO %I', current_user);
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO scenergy_audit_writer;
GRANT SELECT, INSERT ON audit_log, audit_checkpoint TO scenergy_audit_writer;
GRANT SELECT, UPDATE ON chain_head TO scenergy_audit_writer;
GRANT EXECUTE ON FUNCTION audit_purge(bigint) TO scenergy_audit_writer;
"""


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.Text(), nullable=True),
        sa.Column("last_hash", sa.Text(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.CheckConstraint("reason IN ('periodic', 'purge', 'manual')", name=op.f("ck_audit_checkpoint_reason_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    op.create_index("ix_audit_checkpoint_seq", "audit_checkpoint", ["seq"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.Text(), nullable=True),
        sa.Column("impersonator_id", sa.Text(), nullable=True),
        sa.Column("ip_address", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("previous_state", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True),
        sa.Column("new_state", postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), nullable=True),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("redacted_fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("seal", sa.Text(), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple'::regconfig, translate(action, '._', '  ') || ' ' || description)",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name=op.f("ck_audit_log_outcome_known")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_log_id")),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action", "seq"], unique=False)
    op.create_index("ix_audit_log_actor", "audit_log", ["actor_id", "seq"], unique=False)
    op.create_index("ix_audit_log_actor_type", "audit_log", ["actor_type", "seq"], unique=False)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_id", "seq"], unique=False)
    op.create_index(
        "ix_audit_log_failures", "audit_log", ["seq"], unique=False, postgresql_where=sa.text("outcome = 'failure'")
    )
    op.create_index("ix_audit_log_occurred_at", "audit_log", ["occurred_at", "seq"], unique=False)
    op.create_index("ix_audit_log_search", "audit_log", ["search"], unique=False, postgresql_using="gin")
    op.create_table(
        "chain_head",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_chain_head_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_chain_head")),
    )
    op.execute(f"INSERT INTO chain_head (singleton, seq, hash) VALUES (true, 0, '{GENESIS_HASH}')")
    op.execute(APPEND_ONLY_SQL)
    op.execute(PURGE_SQL)
    op.execute(WRITER_ROLE_SQL)


def downgrade() -> None:
    op.execute("DROP FUNCTION audit_purge(bigint)")
    op.execute("DROP TRIGGER audit_log_no_update_delete ON audit_log")
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_checkpoint_no_update_delete ON audit_checkpoint")
    op.execute("DROP TRIGGER audit_checkpoint_no_truncate ON audit_checkpoint")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("chain_head")
    op.drop_index("ix_audit_log_search", table_name="audit_log", postgresql_using="gin")
    op.drop_index("ix_audit_log_occurred_at", table_name="audit_log")
    op.drop_index("ix_audit_log_failures", table_name="audit_log", postgresql_where=sa.text("outcome = 'failure'"))
    op.drop_index("ix_audit_log_entity", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_type", table_name="audit_log")
    op.drop_index("ix_audit_log_actor", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_audit_checkpoint_seq", table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
