"""The consumer base on the real RabbitMQ: apply once, retry a bounded number of times, dead-letter with a reason."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from kombu import Connection, Producer

from scenergy.common.consumer import BatchEventConsumer, EventConsumer, PermanentError, inbox_table
from scenergy.common.events import make_envelope
from scenergy.common.messaging import QueueSpec
from scenergy.common.testing.plugin import delete_queues, unique_name


@pytest.fixture
def inbox_engine(scratch_database):
    metadata = sa.MetaData()
    inbox_table(metadata)
    return scratch_database(metadata)


def envelope(kind: str) -> dict:
    return make_envelope(
        type=f"test.thing.{kind}", source="test", entity_type="thing", entity_id="thg_abcdef12", data={}
    )


def publish(broker_url, topology, body, routing_key, **properties):
    with Connection(broker_url) as conn:
        topology.declare(conn)
        producer = Producer(conn.default_channel, exchange=topology.exchange)
        producer.publish(body, routing_key=routing_key, delivery_mode=2, **properties)


def drain_dead_letters(broker_url, topology, spec, expected, timeout_s=30):
    dead = []
    deadline = time.monotonic() + timeout_s
    with Connection(broker_url) as conn:
        queue = topology.dead_letter_queue(spec)(conn.default_channel)
        while len(dead) < expected and time.monotonic() < deadline:
            message = queue.get(no_ack=True)
            if message is None:
                time.sleep(0.1)
                continue
            dead.append(message)
    return dead


@contextmanager
def running(*consumers):
    """Each consumer on a thread of its own, stopped and its connection released afterwards."""
    threads = [threading.Thread(target=consumer.run, daemon=True) for consumer in consumers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for consumer in consumers:
            consumer.should_stop = True
        for consumer, thread in zip(consumers, threads, strict=True):
            thread.join(timeout=15)
            consumer.connection.release()


def test_poison_and_failing_messages_are_dead_lettered_with_a_reason(broker_url, isolated_topology, inbox_engine):
    spec = QueueSpec(unique_name("test.consumer"), ("test.#",))
    topology = isolated_topology.with_queues(spec)
    calls: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()

    def handle(env, conn):
        kind = env["type"].rsplit(".", 1)[1]
        calls[kind] += 1
        if kind == "flaky" and calls[kind] < 3:
            raise RuntimeError("database hiccup")
        if kind == "broken":
            raise RuntimeError("always fails")
        if kind == "poison":
            raise PermanentError("cannot ever apply this")

    consumer = EventConsumer(
        connection=Connection(broker_url),
        topology=topology,
        spec=spec,
        engine=inbox_engine,
        handle=handle,
        max_attempts=4,
        on_outcome=lambda o: outcomes.update([o]),
    )
    try:
        with running(consumer):
            good = envelope("good")
            publish(broker_url, topology, good, "test.thing.good")
            publish(broker_url, topology, good, "test.thing.good")  # a duplicate delivery of the same event
            publish(broker_url, topology, envelope("flaky"), "test.thing.flaky")
            publish(broker_url, topology, envelope("broken"), "test.thing.broken")
            publish(broker_url, topology, envelope("poison"), "test.thing.poison")
            publish(
                broker_url,
                topology,
                json.dumps({"hello": "world"}),
                "test.thing.invalid",
                content_type="application/json",
            )
            # Bodies no JSON decoder reads: dead-lettered too, never dropped.
            publish(broker_url, topology, "{not json", "test.thing.garbled", content_type="application/json")
            publish(broker_url, topology, "hello", "test.thing.text", content_type="text/plain")
            dead = drain_dead_letters(broker_url, topology, spec, expected=5)
    finally:
        delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])

    reasons = sorted(m.headers["x-dead-letter-reason"].split(":")[0] for m in dead)
    assert reasons == [
        "failed after 4 attempts", "invalid envelope", "invalid envelope", "invalid envelope", "permanent error",
    ]  # fmt: skip
    assert calls["good"] == 1  # the duplicate was recognised by its id and skipped
    assert calls["flaky"] == 3  # failed twice, then applied
    assert calls["broken"] == 4  # bounded: dead-lettered after max_attempts, no hot loop
    assert calls["poison"] == 1
    assert outcomes["duplicate"] == 1
    assert outcomes["dead_lettered"] == 5
    with inbox_engine.connect() as conn:
        applied = conn.execute(sa.select(sa.func.count()).select_from(inbox_table(sa.MetaData()))).scalar_one()
    assert applied == 2  # good and flaky; failures leave no inbox row behind


def test_a_batch_with_one_bad_message_applies_the_rest_and_dead_letters_that_one(broker_url, isolated_topology):
    spec = QueueSpec(unique_name("test.batch"), ("test.#",))
    topology = isolated_topology.with_queues(spec)
    batches: list[list[str]] = []
    applied: list[str] = []
    outcomes: Counter[str] = Counter()

    def handle_batch(envelopes):
        kinds = [e.type.rsplit(".", 1)[1] for e in envelopes]
        batches.append(kinds)
        if "broken" in kinds:
            raise RuntimeError("constraint violated")
        if "poison" in kinds:
            raise PermanentError("never applicable")
        applied.extend(e.id for e in envelopes)

    goods = [envelope("good") for _ in range(6)]
    for body in [*goods[:3], envelope("broken"), envelope("poison"), *goods[3:]]:
        publish(broker_url, topology, body, body["type"])
    connection = Connection(broker_url)
    consumer = BatchEventConsumer(
        connection=connection,
        topology=topology,
        spec=spec,
        handle_batch=handle_batch,
        batch_size=20,
        max_wait_s=0.3,
        max_attempts=2,
        on_outcome=lambda o: outcomes.update([o]),
    )
    thread = threading.Thread(target=consumer.run, daemon=True)
    try:
        thread.start()
        dead = drain_dead_letters(broker_url, topology, spec, expected=2)
    finally:
        consumer.should_stop = True
        thread.join(timeout=15)
        connection.release()
        delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])

    assert sorted(applied) == sorted(e["id"] for e in goods)  # each good event applied once
    assert len(batches[0]) > 1, "messages are applied in batches"
    reasons = sorted(m.headers["x-dead-letter-reason"].split(":")[0] for m in dead)
    assert reasons == ["failed after 2 attempts", "permanent error"]
    assert outcomes["processed"] == 6 and outcomes["dead_lettered"] == 2


def test_two_consumers_of_one_database_each_apply_an_event_once(broker_url, isolated_topology, inbox_engine):
    """Each consumer's inbox records are its own: one consumer's record of an event is no reason for
    another, on another queue, to skip it; a redelivery to either is still skipped."""
    specs = [QueueSpec(unique_name(f"test.consumer_{n}"), ("test.#",)) for n in "ab"]
    applied: Counter[str] = Counter()
    consumers = [
        EventConsumer(
            connection=Connection(broker_url),
            topology=isolated_topology.with_queues(spec),
            spec=spec,
            engine=inbox_engine,
            handle=lambda env, conn, name=spec.name: applied.update([name]),
        )
        for spec in specs
    ]
    try:
        with running(*consumers):
            event = envelope("shared")
            topology = isolated_topology.with_queues(*specs)
            publish(broker_url, topology, event, "test.thing.shared")
            publish(broker_url, topology, event, "test.thing.shared")  # delivered twice to each queue
            deadline = time.monotonic() + 30
            while sum(applied.values()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # room for a wrong third application to show
    finally:
        delete_queues(broker_url, [name for spec in specs for name in (spec.name, f"{spec.name}.dead")])
    assert applied == {specs[0].name: 1, specs[1].name: 1}
