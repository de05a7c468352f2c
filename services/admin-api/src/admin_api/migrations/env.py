"""Alembic environment of the admin-api database."""

from admin_api.adapters.tables import metadata
from scenergy.common.migrations import run_env

run_env(metadata)
