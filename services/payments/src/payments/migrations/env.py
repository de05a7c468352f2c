"""Alembic environment of the payments database."""

from payments.adapters.tables import metadata
from scenergy.common.migrations import run_env

run_env(metadata)
