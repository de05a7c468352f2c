"""pytest plugin (registered by the scenergy-common distribution).

Tests run against the real PostgreSQL and RabbitMQ of the machine. `TEST_DATABASE_URL` (a server
admin URL) and `TEST_BROKER_URL` point elsewhere. A missing server fails the run: it never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from kombu import Connection
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from scenergy.common.db import create_database_if_missing, drop_database, sqlalchemy_url
from scenergy.common.messaging import Topology
from scenergy.common.migrations import upgrade

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_TEST_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"


def unique_name(prefix: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


@pytest.fixture(scope="session")
def broker_url() -> str:
    url = os.environ.get("TEST_BROKER_URL", DEFAULT_TEST_BROKER_URL)
    with Connection(url, connect_timeout=5) as conn:
        try:
            conn.ensure_connection(max_retries=3)
        except Exception as exc:  # fail loudly: these tests must not be skipped for want of a broker
            pytest.fail(f"RabbitMQ is not reachable at {url}: {exc}")
    return url


@pytest.fixture(scope="session")
def migrated_database(postgres_server_url: str) -> Iterator[Callable[[str, str], str]]:
    """A factory: `migrated_database("credits", "credits:migrations")` -> URL of a fresh, migrated database."""
    created: list[str] = []

    def make(prefix: str, script_location: str) -> str:
        url = make_url(sqlalchemy_url(postgres_server_url)).set(database=unique_name(f"test_{prefix}"))
        rendered = url.render_as_string(hide_password=False)
        create_database_if_missing(rendered)
        # Tests don't need crash durability: without a WAL flush per commit, a hot row isn't capped
        # by the disk's fsync latency. Locking, constraints and isolation are unchanged.
        admin = create_engine(sqlalchemy_url(postgres_server_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{url.database}" SET synchronous_commit = off'))
        admin.dispose()
        upgrade(script_location, rendered)
        created.append(rendered)
        return rendered

    yield make
    for url in created:
        drop_database(url)


@pytest.fixture
def scratch_database(postgres_server_url: str) -> Iterator[Callable[[sa.MetaData], Engine]]:
    """A factory: a fresh database with `metadata`'s tables created, for a test's own consumer side."""
    made: list[tuple[str, Engine]] = []

    def make(metadata: sa.MetaData) -> Engine:
        url = make_url(sqlalchemy_url(postgres_server_url)).set(database=unique_name("test_scratch"))
        rendered = url.render_as_string(hide_password=False)
        create_database_if_missing(rendered)
        engine = create_engine(rendered)
        metadata.create_all(engine)
        made.append((rendered, engine))
        return engine

    yield make
    for url, engine in made:
        engine.dispose()
        drop_database(url)


@pytest.fixture
def isolated_topology(broker_url: str) -> Iterator[Topology]:
    """A topology on its own exchange, deleted afterwards, so parallel runs never see each other's events."""
    topology = Topology(exchange_name=unique_name("test.events"))
    yield topology
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        for name in (topology.exchange_name, f"{topology.exchange_name}.dlx"):
            channel.exchange_delete(name)


def delete_queues(broker_url: str, names: list[str]) -> None:
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        for name in names:
            channel.queue_delete(name)


def engine_for(url: str) -> Engine:
    return create_engine(sqlalchemy_url(url), pool_size=20, max_overflow=80)
