"""Alembic environment of the audit database."""

from audit.adapters.tables import metadata
from scenergy.common.migrations import run_env

run_env(metadata)
