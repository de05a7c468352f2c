"""The sink on the real RabbitMQ: every event stored exactly once, whatever the redeliveries and crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from kombu import Connection, Producer

from audit.adapters.tables import audit_log
from audit.entrypoints.sink import build_consumer
from audit.service_layer import metrics
from audit.service_layer.verify import verify_chain
from scenergy.common.messaging import QueueSpec
from scenergy.common.testing.plugin import delete_queues, unique_name


def publish(broker_url, topology, bodies, *, copies=1):
    with Connection(broker_url) as conn:
        topology.declare(conn)
        producer = Producer(conn.default_channel, exchange=topology.exchange)
        for _ in range(copies):
            for body in bodies:
                routing_key = body["type"] if isinstance(body, dict) else "credits.credit.grant"
                payload = json.dumps(body) if isinstance(body, dict) else body
                producer.publish(payload, routing_key=routing_key, delivery_mode=2, content_type="application/json")


def stored_ids(container, ids):
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.id).where(audit_log.c.id.in_(ids))).scalars().all()
    return rows


def wait_for(predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def sink_topology(broker_url, isolated_topology):
    spec = QueueSpec(unique_name("test.audit"), ("#",))
    yield isolated_topology.with_queues(spec), spec
    delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])


def run_sink(container, broker_url, topology, spec):
    connection = Connection(broker_url)
    consumer = build_consumer(container, connection, topology=topology, spec=spec)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    return consumer, thread, connection


def stop_sink(consumer, thread, connection):
    consumer.should_stop = True
    thread.join(timeout=10)
    connection.release()


def test_every_event_delivered_five_times_is_stored_once(fresh_container, broker_url, sink_topology, make_event):
    container = fresh_container(batch_size=50)
    topology, spec = sink_topology
    events = [make_event(entity_id=f"cli_sink{i:05d}") for i in range(200)]
    ids = [e["id"] for e in events]
    publish(broker_url, topology, events, copies=5)
    consumer, thread, connection = run_sink(container, broker_url, topology, spec)
    try:
        assert wait_for(lambda: len(stored_ids(container, ids)) == 200)
        time.sleep(1.0)  # the remaining copies arrive and are skipped
    finally:
        stop_sink(consumer, thread, connection)
    assert sorted(stored_ids(container, ids)) == sorted(ids)
    assert container.store.head()[0] == 200
    assert verify_chain(container.store).ok


CRASHING_SINK = textwrap.dedent(
    """
    import os, sys
    from kombu import Connection
    from kombu.message import Message
    from audit.bootstrap import bootstrap
    from audit.config import Settings
    from audit.entrypoints.sink import build_consumer
    from scenergy.common.messaging import QueueSpec, Topology

    # Die the hard way right after the batch committed, before any ack reaches the broker.
    Message.ack = lambda self, *a, **k: os._exit(9)
    settings = Settings.from_env()
    container = bootstrap(settings, process="crash-test")
    topology = Topology(os.environ["TEST_EXCHANGE"])
    spec = QueueSpec(os.environ["TEST_QUEUE"], ("#",))
    build_consumer(container, Connection(settings.broker_url), topology=topology, spec=spec).run()
    """
)


def test_a_sink_killed_before_its_ack_stores_each_event_once(
    fresh_container, broker_url, sink_topology, make_event, tmp_path: Path
):
    container = fresh_container(batch_size=20)
    topology, spec = sink_topology
    events = [make_event(entity_id=f"cli_crash{i:05d}") for i in range(100)]
    ids = [e["id"] for e in events]
    publish(broker_url, topology, events, copies=5)
    settings = container.settings
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "BROKER_URL": broker_url,
        "SERVICE_CREDENTIAL_KEY": settings.service_credential_key,
        "AUDIT_SIGNING_KEY": settings.signing_key,
        "AUDIT_BATCH_SIZE": "20",
        "TEST_EXCHANGE": topology.exchange_name,
        "TEST_QUEUE": spec.name,
    }
    script = tmp_path / "crashing_sink.py"
    script.write_text(CRASHING_SINK)
    crashes = 0
    for _ in range(3):  # each run commits one batch, then dies before acking it
        result = subprocess.run([sys.executable, str(script)], env=env, timeout=120, capture_output=True)
        assert result.returncode == 9, result.stderr.decode()[-2000:]
        crashes += 1
    stored_after_crashes = len(stored_ids(container, ids))
    assert stored_after_crashes >= crashes  # the crashed batches were committed
    consumer, thread, connection = run_sink(container, broker_url, topology, spec)
    try:
        assert wait_for(lambda: len(stored_ids(container, ids)) == 100)
        time.sleep(1.0)
    finally:
        stop_sink(consumer, thread, connection)
    assert sorted(stored_ids(container, ids)) == sorted(ids)
    assert container.store.head()[0] == 100
    assert verify_chain(container.store).ok


def test_invalid_and_poison_messages_are_dead_lettered_with_a_reason(
    fresh_container, broker_url, sink_topology, make_event
):
    container = fresh_container(batch_size=10, max_attempts=2)
    topology, spec = sink_topology
    good = make_event(entity_id="cli_good000001")
    bad_actor = {**make_event(), "actor": {"type": "robot", "id": "x"}}
    publish(broker_url, topology, [good, "{not json", bad_actor])
    dead_before = metrics.EVENTS_DEAD_LETTERED._value.get()
    consumer, thread, connection = run_sink(container, broker_url, topology, spec)
    try:
        assert wait_for(lambda: len(stored_ids(container, [good["id"]])) == 1)
        dead = []
        with Connection(broker_url) as conn:
            queue = topology.dead_letter_queue(spec)(conn.default_channel)
            deadline = time.monotonic() + 30
            while len(dead) < 2 and time.monotonic() < deadline:
                message = queue.get(no_ack=True)
                if message is None:
                    time.sleep(0.1)
                    continue
                dead.append(message.headers["x-dead-letter-reason"])
    finally:
        stop_sink(consumer, thread, connection)
    assert "invalid envelope: body is not valid JSON" in dead
    assert any(reason.startswith("invalid envelope: actor.type") for reason in dead)
    assert metrics.EVENTS_DEAD_LETTERED._value.get() - dead_before == 2
    assert container.store.head()[0] == 1
