"""Every mutation's event reaches RabbitMQ through the outbox, and a consumer applies each exactly once,
also when the broker is stopped and started again mid-run."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from kombu import Connection

from credits.domain import commands
from scenergy.common.consumer import EventConsumer, inbox_table
from scenergy.common.ids import new_id
from scenergy.common.messaging import Publisher, QueueSpec, connect
from scenergy.common.outbox import OutboxRelay
from scenergy.common.testing.actors import ADMIN, GENERATION
from scenergy.common.testing.plugin import delete_queues, unique_name


@pytest.fixture(autouse=True)
def earlier_events_already_sent(container):
    """Events that earlier tests of this process left in the shared outbox (thousands, after the
    concurrency tests) count as sent before this test's queue existed, as a broker would have
    routed them: each test here waits for its own events, not for a backlog of others'."""
    with container.engine.begin() as conn:
        conn.execute(sa.text("UPDATE outbox SET published_at = now() WHERE published_at IS NULL"))


@pytest.fixture
def consumer_db(scratch_database):
    """The consuming side's own database: its inbox and what it received."""
    metadata = sa.MetaData()
    inbox_table(metadata)
    received = sa.Table(
        "received",
        metadata,
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text),
    )
    return scratch_database(metadata), received


class RunningConsumer:
    def __init__(self, broker_url, topology, spec, engine, received):
        self.outcomes: Counter[str] = Counter()

        def handle(envelope, conn):
            conn.execute(
                received.insert().values(
                    event_id=envelope["id"], type=envelope["type"], client_id=envelope["data"].get("client_id")
                )
            )

        self.connection = Connection(broker_url, heartbeat=10)
        self.consumer = EventConsumer(
            connection=self.connection,
            topology=topology,
            spec=spec,
            engine=engine,
            handle=handle,
            on_outcome=lambda outcome: self.outcomes.update([outcome]),
        )
        self.thread = threading.Thread(target=self.consumer.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.consumer.should_stop = True
        self.thread.join(timeout=15)
        self.connection.release()


class RunningRelay:
    def __init__(self, engine, broker_url, topology):
        self.connection = connect(broker_url)
        self.relay = OutboxRelay(engine, Publisher(self.connection, topology))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop.is_set():
            try:
                if not self.relay.relay_once():
                    time.sleep(0.05)
            except Exception:  # the broker is down: keep the rows, try again
                time.sleep(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=15)
        self.connection.release()


def outbox_event_ids(engine, client_ids):
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT event_id FROM outbox WHERE payload->'data'->>'client_id' = ANY(:ids)"), {"ids": client_ids}
        ).all()
    return {row.event_id for row in rows}


def wait_for(predicate, timeout_s, message):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(message)


def received_ids(engine, received):
    with engine.connect() as conn:
        return {row.event_id for row in conn.execute(sa.select(received.c.event_id))}


def mutate(service, client_ids, rounds):
    for _ in range(rounds):
        for client_id in client_ids:
            service.grant(commands.Grant(client_id, 5, "event test", new_id("key")), ADMIN)
            service.debit(commands.Debit(client_id, 2, new_id("key")), GENERATION)


def test_every_mutation_event_reaches_the_consumer_once(
    broker_url, isolated_topology, container, open_client, consumer_db
):
    engine, received = consumer_db
    spec = QueueSpec(unique_name("test.credits_events"), ("credits.#",))
    client_ids = [open_client() for _ in range(3)]
    try:
        # The relay declares the consumer's queue too (as services declare PLATFORM_QUEUES), so no
        # event is published before its queue exists, whoever starts first.
        with (
            RunningConsumer(broker_url, isolated_topology, spec, engine, received) as consumer,
            RunningRelay(container.engine, broker_url, isolated_topology.with_queues(spec)),
        ):
            mutate(container.service, client_ids, rounds=10)
            expected = outbox_event_ids(container.engine, client_ids)
            assert len(expected) == 3 + 3 * 10 * 2  # account opened, then a grant and a debit per round
            wait_for(lambda: expected <= received_ids(engine, received), 30, "not every event arrived")
        assert consumer.outcomes["dead_lettered"] == 0
        with engine.connect() as conn:
            types = Counter(
                conn.execute(sa.select(received.c.type).where(received.c.client_id.in_(client_ids))).scalars()
            )
        assert types == {"credits.account.open": 3, "credits.credit.grant": 30, "credits.credit.usage": 30}
    finally:
        delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.mark.serial
def test_events_survive_a_broker_restart_mid_run(broker_url, isolated_topology, container, open_client, consumer_db):
    engine, received = consumer_db
    spec = QueueSpec(unique_name("test.credits_restart"), ("credits.#",))
    client_ids = [open_client() for _ in range(4)]
    try:
        with (
            RunningConsumer(broker_url, isolated_topology, spec, engine, received) as consumer,
            RunningRelay(container.engine, broker_url, isolated_topology.with_queues(spec)),
        ):
            writer = threading.Thread(target=mutate, args=(container.service, client_ids, 15))
            writer.start()
            time.sleep(0.5)
            rabbitmqctl("stop_app")
            time.sleep(2)  # writes go on into the outbox while the broker is away
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")
            writer.join()
            expected = outbox_event_ids(container.engine, client_ids)
            assert len(expected) == 4 + 4 * 15 * 2
            wait_for(lambda: expected <= received_ids(engine, received), 90, "events were lost across the restart")
        with engine.connect() as conn:
            applied = conn.execute(
                sa.select(sa.func.count()).select_from(received).where(received.c.client_id.in_(client_ids))
            ).scalar_one()
        assert applied == len(expected)  # once each, whatever the broker redelivered
        assert consumer.outcomes["dead_lettered"] == 0
    finally:
        delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])
