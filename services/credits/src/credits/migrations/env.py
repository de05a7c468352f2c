"""Alembic environment of the credits database."""

from scenergy.common.migrations import run_env

from credits.adapters.tables import metadata

run_env(metadata)
