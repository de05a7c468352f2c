"""The confirmed publisher on the real RabbitMQ: a batch waits once for its confirms, and a refused
message stops the count of what was confirmed at the message before it."""

from __future__ import annotations

import pytest
from kombu import Connection, Queue, binding

from scenergy.common.events import make_envelope
from scenergy.common.messaging import Publisher, PublishFailed, QueueSpec, broker_probe, connect
from scenergy.common.testing.plugin import delete_queues, unique_name


def envelope(n: int) -> dict:
    return make_envelope(
        type="test.thing.updated", source="test", entity_type="thing", entity_id=f"thg_{n:08d}", data={"n": n}
    )


def drain(broker_url: str, queue: Queue, limit: int) -> list:
    with Connection(broker_url) as conn:
        bound = queue(conn.default_channel)
        messages = []
        while len(messages) < limit and (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
        return messages


def test_a_batch_arrives_whole_in_order_as_single_publishes_do(broker_url, isolated_topology):
    spec = QueueSpec(unique_name("test.publisher"), ("test.#",))
    topology = isolated_topology.with_queues(spec)
    connection = connect(broker_url)
    try:
        publisher = Publisher(connection, topology)
        sent = [envelope(n) for n in range(250)]
        publisher.publish(sent[0], routing_key=sent[0]["type"])
        assert publisher.publish_many([(e, e["type"]) for e in sent[1:]]) == 249
        assert publisher.publish_many([]) == 0

        received = drain(broker_url, topology.queue(spec), 300)
        assert [m.decode() for m in received] == sent
        single, batched = received[0], received[1]
        for message, expected in ((single, sent[0]), (batched, sent[1])):
            assert (
                message.content_type == "application/json" and message.delivery_info["routing_key"] == expected["type"]
            )
            assert message.properties["message_id"] == expected["id"]
            assert message.properties["type"] == expected["type"]
            assert message.properties["delivery_mode"] == 2
        assert single.properties.keys() == batched.properties.keys()
        assert single.headers == batched.headers and single.content_encoding == batched.content_encoding
    finally:
        connection.release()
        delete_queues(broker_url, [spec.name, f"{spec.name}.dead"])


def test_a_refused_message_ends_the_confirmed_count_and_the_next_batch_starts_afresh(broker_url, isolated_topology):
    # A queue that holds three messages and refuses more: the broker nacks the fourth and later ones.
    # (Classic: a quorum queue enforces its length only approximately.)
    name = unique_name("test.publisher.full")
    full = Queue(
        name,
        bindings=[binding(isolated_topology.exchange, routing_key="test.#")],
        durable=True,
        queue_arguments={"x-queue-type": "classic", "x-max-length": 3, "x-overflow": "reject-publish"},
    )
    connection = connect(broker_url)
    try:
        full(connection.default_channel).declare()
        publisher = Publisher(connection, isolated_topology)
        with pytest.raises(PublishFailed) as refused:
            publisher.publish_many([(envelope(n), "test.thing.updated") for n in range(6)])
        assert refused.value.confirmed == 3

        assert [m.decode()["data"]["n"] for m in drain(broker_url, full, 10)] == [0, 1, 2]
        assert publisher.publish_many([(envelope(n), "test.thing.updated") for n in range(3, 6)]) == 3
        assert [m.decode()["data"]["n"] for m in drain(broker_url, full, 10)] == [3, 4, 5]
    finally:
        connection.release()
        delete_queues(broker_url, [name])


def test_transports_without_confirms_publish_one_by_one(isolated_topology):
    spec = QueueSpec(unique_name("test.publisher.memory"), ("test.#",))
    topology = isolated_topology.with_queues(spec)
    with Connection("memory://") as connection:
        publisher = Publisher(connection, topology)
        sent = [envelope(n) for n in range(5)]
        assert publisher.publish_many([(e, e["type"]) for e in sent]) == 5
        queue = topology.queue(spec)(connection.default_channel)
        assert [queue.get(no_ack=True).decode() for _ in sent] == sent


class ScriptedChannel:
    """The broker's answers to a batch, in the order a test gives: (ack or nack, tag, multiple)."""

    def __init__(self, answers: list[tuple[str, int, bool]]) -> None:
        from collections import defaultdict

        self.events: dict[str, set] = defaultdict(set)
        self._answers = list(answers)

    def confirm_select(self) -> None:
        pass

    def _basic_publish(self, message, exchange, routing_key) -> None:
        pass

    def wait(self, methods, timeout=None) -> None:
        kind, tag, multiple = self._answers.pop(0)
        for callback in self.events[f"basic_{kind}"]:
            callback(tag, multiple)


@pytest.mark.parametrize(
    ("answers", "confirmed"),
    [
        ([("ack", 5, True)], 5),
        ([("ack", 2, False), ("ack", 1, False), ("ack", 5, True)], 5),
        ([("nack", 4, False), ("ack", 3, True), ("ack", 5, False)], 3),  # a nack before the acks below it
        ([("ack", 2, True), ("nack", 5, True)], 2),  # a multiple nack refuses 3 to 5
        ([("ack", 1, False), ("ack", 3, False), ("nack", 2, False), ("ack", 5, True)], 1),
    ],
)
def test_the_confirmed_count_is_the_acked_run_before_any_refusal(answers, confirmed):
    from scenergy.common.messaging import _ConfirmBatch

    batch = _ConfirmBatch(ScriptedChannel(answers))
    for _ in range(5):
        batch.send(object(), "exchange", "key")
    assert batch.wait_for(1, 5, timeout_s=5) == confirmed


def test_the_broker_probe_has_its_own_connection_and_fails_when_the_broker_is_away(broker_url):
    check = broker_probe(broker_url)
    check()  # the real broker answers
    with connect(broker_url) as worker_connection:
        worker_connection.ensure_connection(max_retries=1)
        check()
        assert worker_connection.connected  # the probe never touched the worker's connection
    unreachable = broker_probe("amqp://guest:guest@127.0.0.1:1//")
    with pytest.raises(Exception):  # noqa: B017 - any connection error: readiness reports it
        unreachable()
