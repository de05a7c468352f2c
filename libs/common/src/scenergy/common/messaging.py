"""The RabbitMQ topology, declared once as code, and the confirmed publisher.

Every consumer queue of the platform is listed in `Topology.queues`, so any process can declare the
whole topology. That matters for kombu's virtual transports (the embedded run's SQLAlchemy broker),
where routing lives in the declaring process: the relay declares every queue before it publishes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from amqp import spec as amqp_spec
from kombu import Connection, Exchange, Producer, Queue, binding
from kombu.serialization import dumps

RETRY_POLICY = {"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3.0}


@dataclass(frozen=True)
class QueueSpec:
    """A consumer's durable queue: `<consumer>.<purpose>`, bound to the routing keys it wants."""

    name: str
    routing_keys: tuple[str, ...]
    delivery_limit: int = 20  # the broker's backstop; consumers dead-letter sooner themselves


# Every consumer queue of the platform. Services declare them all before they publish, so an event
# published before its consumer ever started waits in the consumer's queue instead of being dropped.
AUDIT_EVENTS = QueueSpec("audit.events", ("#",))  # the audit sink reads every event
PLATFORM_QUEUES: tuple[QueueSpec, ...] = (AUDIT_EVENTS,)


@dataclass(frozen=True)
class Topology:
    exchange_name: str = "scenergy.events"
    queues: tuple[QueueSpec, ...] = field(default_factory=tuple)

    @property
    def exchange(self) -> Exchange:
        return Exchange(self.exchange_name, type="topic", durable=True)

    @property
    def dead_letter_exchange(self) -> Exchange:
        return Exchange(f"{self.exchange_name}.dlx", type="direct", durable=True)

    def queue(self, spec: QueueSpec) -> Queue:
        return Queue(
            spec.name,
            bindings=[binding(self.exchange, routing_key=key) for key in spec.routing_keys],
            durable=True,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": spec.delivery_limit,
                "x-dead-letter-exchange": self.dead_letter_exchange.name,
                "x-dead-letter-routing-key": spec.name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )

    def dead_letter_queue(self, spec: QueueSpec) -> Queue:
        return Queue(
            f"{spec.name}.dead",
            exchange=self.dead_letter_exchange,
            routing_key=spec.name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )

    @classmethod
    def platform(cls, exchange_name: str = "scenergy.events") -> Topology:
        """The production topology: the events exchange and every consumer queue of the platform."""
        return cls(exchange_name, PLATFORM_QUEUES)

    def with_queues(self, *specs: QueueSpec) -> Topology:
        known = {spec.name for spec in self.queues}
        return Topology(self.exchange_name, self.queues + tuple(s for s in specs if s.name not in known))

    def all_declarables(self) -> list[Any]:
        items: list[Any] = [self.exchange, self.dead_letter_exchange]
        for spec in self.queues:
            items += [self.queue(spec), self.dead_letter_queue(spec)]
        return items

    def declare(self, connection: Connection) -> None:
        channel = connection.default_channel
        for item in self.all_declarables():
            item.maybe_bind(channel)
            item.declare()


def connect(broker_url: str, *, confirm: bool = True, heartbeat: int = 30) -> Connection:
    """A connection whose publishes wait for the broker's confirm (a nack raises).

    kombu's SQLAlchemy transport (the embedded run) hands every transport option to `create_engine`,
    so it gets none: its publishes are database commits, confirmed by nature.
    """
    if broker_url.startswith("sqla+"):
        connection = Connection(broker_url, heartbeat=heartbeat, connect_timeout=5)
        connection.transport.polling_interval = 0.2  # the default second would add latency to every event
        return connection
    options: dict[str, Any] = {"confirm_publish": True} if confirm else {}
    return Connection(broker_url, transport_options=options, heartbeat=heartbeat, connect_timeout=5)


def broker_probe(broker_url: str) -> Callable[[], object]:
    """A readiness check on a connection of its own. kombu connections are not thread-safe, and the
    ops server checks from its own thread while a worker publishes on the worker's connection."""
    probe = connect(broker_url, confirm=False)
    return lambda: probe.ensure_connection(max_retries=1)


class Publisher:
    """Publishes envelopes to the events exchange, persistent and confirmed."""

    def __init__(self, connection: Connection, topology: Topology) -> None:
        self._connection = connection
        self._topology = topology
        self._producer: Producer | None = None
        self._batch: _ConfirmBatch | None = None

    def _ensure_producer(self) -> Producer:
        if self._producer is None:
            self._topology.declare(self._connection)
            self._producer = Producer(self._connection.default_channel, exchange=self._topology.exchange)
        return self._producer

    def publish(self, envelope: dict[str, Any], *, routing_key: str, exchange: Exchange | None = None) -> None:
        producer = self._ensure_producer()
        publish = self._connection.ensure(producer, producer.publish, **RETRY_POLICY)
        publish(
            envelope,
            exchange=exchange or self._topology.exchange,
            routing_key=routing_key,
            serializer="json",
            delivery_mode=2,
            message_id=envelope.get("id"),
            correlation_id=envelope.get("correlation_id"),
            type=envelope.get("type"),
        )

    def publish_many(self, items: Sequence[tuple[dict[str, Any], str]], *, confirm_timeout_s: float = 30.0) -> int:
        """Publish `(envelope, routing_key)` pairs in order, then wait once for the broker's confirms.

        Confirming each message before sending the next made a relay wait a broker round trip (a quorum
        queue's log write) per message. Returns how many were published; raises PublishFailed with the
        count of the leading messages the broker did confirm when it refuses one, stops answering, or
        the connection drops (the rest are published again later: consumers deduplicate by id).
        Transports without confirms (the embedded run's, tests' memory) publish one by one.
        """
        if not items:
            return 0
        if self._connection.transport.driver_type != "amqp":
            for done, (envelope, routing_key) in enumerate(items):
                try:
                    self.publish(envelope, routing_key=routing_key)
                except Exception as exc:
                    raise PublishFailed(done, exc) from exc
            return len(items)
        batch: _ConfirmBatch | None = None
        first = 0
        try:
            batch = self._ensure_batch()
            first = batch.published + 1
            for envelope, routing_key in items:
                batch.send(self._message(batch.channel, envelope), self._topology.exchange.name, routing_key)
            confirmed = batch.wait_for(first, batch.published, confirm_timeout_s)
        except Exception as exc:
            confirmed = min(batch.confirmed_from(first), len(items)) if batch is not None and first else 0
            self.reset()
            raise PublishFailed(confirmed, exc) from exc
        if confirmed < len(items):
            self.reset()  # a refused message leaves later tags in doubt: start the next batch afresh
            raise PublishFailed(confirmed, RuntimeError("the broker refused a message (nack)"))
        return confirmed

    def _message(self, channel: Any, envelope: dict[str, Any]) -> Any:
        """The message kombu's Producer.publish would send for `publish(envelope, …)`."""
        content_type, content_encoding, body = dumps(envelope, serializer="json")
        properties = {"delivery_mode": 2}
        for key, name in (("id", "message_id"), ("correlation_id", "correlation_id"), ("type", "type")):
            if envelope.get(key) is not None:
                properties[name] = envelope[key]
        return channel.prepare_message(body, 0, content_type, content_encoding, {}, properties)

    def _ensure_batch(self) -> _ConfirmBatch:
        if self._batch is None:
            self._ensure_producer()  # declares the topology once
            self._batch = _ConfirmBatch(self._connection.channel())
        return self._batch

    def reset(self) -> None:
        """Forget the channels after a connection error; the next publish redeclares."""
        self._producer = None
        if self._batch is not None:
            self._batch.close()
            self._batch = None


class PublishFailed(Exception):
    """A batch stopped part way: the first `confirmed` messages are with the broker, the rest are not."""

    def __init__(self, confirmed: int, cause: BaseException) -> None:
        super().__init__(f"{confirmed} confirmed, then: {cause}")
        self.confirmed = confirmed


class _ConfirmBatch:
    """A channel in confirm mode of its own: delivery tags count this channel's publishes from 1. The
    broker answers each tag once, ack or nack, singly or for every tag up to one (`multiple`), and
    not necessarily in order."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.published = 0
        self._resolved_through = 0  # every tag up to here has its answer
        self._answered: set[int] = set()  # answered tags above that mark
        self._first_nack: int | None = None
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)

    def send(self, message: Any, exchange: str, routing_key: str) -> None:
        self.channel._basic_publish(message, exchange=exchange, routing_key=routing_key)
        self.published += 1

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._answer(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        # Every unanswered tag it covers is refused; the lowest of them is just above the mark.
        first = self._resolved_through + 1 if multiple else tag
        self._first_nack = first if self._first_nack is None else min(self._first_nack, first)
        self._answer(tag, multiple)

    def _answer(self, tag: int, multiple: bool) -> None:
        if multiple:
            self._resolved_through = max(self._resolved_through, tag)
        else:
            self._answered.add(tag)
        while self._resolved_through + 1 in self._answered:
            self._resolved_through += 1
        self._answered = {t for t in self._answered if t > self._resolved_through}

    def confirmed_from(self, first: int) -> int:
        """How many tags from `first` on are acked, with no tag unanswered or refused before them."""
        through = self._resolved_through
        if self._first_nack is not None:
            through = min(through, self._first_nack - 1)
        return max(0, through - first + 1)

    def wait_for(self, first: int, last: int, timeout_s: float) -> int:
        """Wait until every tag up to `last` has its answer; returns how many from `first` were acked."""
        deadline = time.monotonic() + timeout_s
        while self._resolved_through < last:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the broker confirmed {self.confirmed_from(first)} of {last - first + 1}")
            self.channel.wait([amqp_spec.Basic.Ack, amqp_spec.Basic.Nack], timeout=remaining)
        return min(self.confirmed_from(first), last - first + 1)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection is likely gone already; nothing to release
            self.channel.close()
