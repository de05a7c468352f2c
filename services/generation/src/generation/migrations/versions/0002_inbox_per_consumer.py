"""Key the inbox by (consumer, message_id): two consumers of this database that both take an event
must each apply it, not take the other's record for their own.

Revision ID: 0002_inbox_per_consumer
Revises: 0001_jobs
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002_inbox_per_consumer"
down_revision = "0001_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("pk_processed_message", "processed_message", type_="primary")
    op.create_primary_key("pk_processed_message", "processed_message", ["consumer", "message_id"])


def downgrade() -> None:
    op.drop_constraint("pk_processed_message", "processed_message", type_="primary")
    op.create_primary_key("pk_processed_message", "processed_message", ["message_id"])
