"""The driver-connection helpers of scenergy.common.db, on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from scenergy.common.db import driver_sql, fetch_all, fetch_one, make_engine, sqlalchemy_url

ECHO = sa.text("SELECT CAST(:word AS text) AS word, CAST(:n AS int) + 1 AS next WHERE CAST(:n AS int) >= 0")


@pytest.fixture
def engine(postgres_server_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(sqlalchemy_url(postgres_server_url), application_name="test-common-db", autocommit=True)
    yield engine
    engine.dispose()


def test_driver_sql_binds_by_name_in_psycopg_style() -> None:
    sql = driver_sql(ECHO)
    assert "%(word)s" in sql and "%(n)s" in sql and ":word" not in sql


def test_fetch_one_answers_a_dict_row_or_none(engine: sa.Engine) -> None:
    sql = driver_sql(ECHO)
    with engine.connect() as conn:
        assert fetch_one(conn, sql, {"word": "it's", "n": 41}) == {"word": "it's", "next": 42}
        assert fetch_one(conn, sql, {"word": "x", "n": -1}) is None


def test_fetch_all_answers_every_row(engine: sa.Engine) -> None:
    sql = driver_sql(sa.text("SELECT g AS n FROM generate_series(1, CAST(:upto AS int)) AS g ORDER BY g"))
    with engine.connect() as conn:
        assert fetch_all(conn, sql, {"upto": 3}) == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert fetch_all(conn, sql, {"upto": 0}) == []


def test_an_error_in_the_statement_leaves_the_connection_usable(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(psycopg.errors.DivisionByZero):
            fetch_one(conn, "SELECT 1 / 0", {})
        assert fetch_one(conn, "SELECT 1 AS one", {}) == {"one": 1}


def test_a_broken_connection_is_invalidated_and_not_handed_out_again(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        pid = fetch_one(conn, "SELECT pg_backend_pid() AS pid", {})["pid"]
        with engine.connect() as other:  # the server ends the first session, as a restart would
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(psycopg.OperationalError):
            fetch_one(conn, "SELECT 1 AS one", {})
        assert conn.invalidated
    with engine.connect() as conn:
        assert conn.connection.driver_connection is not driver
        assert fetch_one(conn, "SELECT 1 AS one", {}) == {"one": 1}
