"""SQLAlchemy engines and sessions: psycopg 3, statement timeouts, pool settings, one naming convention."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Connection, Engine, MetaData, create_engine, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import TextClause

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def sqlalchemy_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    application_name: str,
    statement_timeout_ms: int = 5000,
    lock_timeout_ms: int = 3000,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_s: float = 10.0,
    pre_ping: bool = False,
    autocommit: bool = False,
    role: str | None = None,
) -> Engine:
    """An engine on psycopg 3. Pre-ping is off by default: it costs a round trip per checkout, and
    a connection broken by a server restart is discarded by the pool on its first error anyway.
    `role` makes every session act as that role (`SET ROLE` at connect)."""
    options = f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"
    if role:  # act as a narrower role than the login (the audit log's insert-only writer)
        options += f" -c role={role}"
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=pre_ping,
        pool_use_lifo=True,
        pool_recycle=1800,
        connect_args={"application_name": application_name, "options": options, "connect_timeout": 5},
        # Autocommit engines run single statements that are their own transactions: nothing to reset.
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def create_database_if_missing(url: str) -> bool:
    """Create the database named in `url` (on the same server) unless it exists; True if created."""
    target = make_url(sqlalchemy_url(url))
    name = target.database
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(name)  # type: ignore[arg-type]
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    target = make_url(sqlalchemy_url(url))
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(target.database)  # type: ignore[arg-type]
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()


# -- statements on every request: the driver connection itself ----------------------------------
# SQLAlchemy's execution context and result objects cost more CPU than a short statement does in
# PostgreSQL; the few statements that run on every call (a debit, a session check) skip them.

_PSYCOPG_DIALECT = psycopg_dialect()


def driver_sql(statement: TextClause) -> str:
    """A text() statement in psycopg's own placeholder style (`%(name)s`), compiled once."""
    return str(statement.compile(dialect=_PSYCOPG_DIALECT))


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
    """A dict-row cursor on the psycopg connection under `conn`; a broken connection is invalidated,
    so that the pool does not hand it out again."""
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor(row_factory=dict_row) as cursor:
            yield cursor
    except psycopg.OperationalError as exc:
        if driver.broken or driver.closed:
            conn.invalidate(exc)
        raise


def fetch_one(conn: Connection, sql: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """Run one statement (see driver_sql) on the driver connection; its first row as a dict, or None."""
    with driver_cursor(conn) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetch_all(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run one statement (see driver_sql) on the driver connection; its rows as dicts."""
    with driver_cursor(conn) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
