"""Alembic environment of the credits database."""

from credits.adapters.tables import metadata
from scenergy.common.migrations import run_env

run_env(metadata)
