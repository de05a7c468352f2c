"""Alembic environment of the generation database."""

from generation.adapters.tables import metadata
from scenergy.common.migrations import run_env

run_env(metadata)
