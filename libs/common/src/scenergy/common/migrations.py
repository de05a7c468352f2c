"""Alembic, driven from code: each service keeps its scripts in `<package>:migrations`."""

from __future__ import annotations

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, create_engine, pool

from scenergy.common.db import create_database_if_missing, sqlalchemy_url


def alembic_config(script_location: str, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(script_location: str, database_url: str, revision: str = "head") -> None:
    """Create the service's database if needed, then migrate it to `revision`."""
    create_database_if_missing(database_url)
    command.upgrade(alembic_config(script_location, database_url), revision)


def run_env(target_metadata: MetaData | None) -> None:
    """Body of every service's migrations/env.py (online mode only: we always migrate a live database)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)  # type: ignore[arg-type]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
