"""The RabbitMQ topology, declared once as code, and the confirmed publisher.

Every consumer queue of the platform is listed in `Topology.queues`, so any process can declare the
whole topology. That matters for kombu's virtual transports (the embedded run's SQLAlchemy broker),
where routing lives in the declaring process: the relay declares every queue before it publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Exchange, Producer, Queue, binding

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


class Publisher:
    """Publishes envelopes to the events exchange, persistent and confirmed."""

    def __init__(self, connection: Connection, topology: Topology) -> None:
        self._connection = connection
        self._topology = topology
        self._producer: Producer | None = None

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

    def reset(self) -> None:
        """Forget the channel after a connection error; the next publish redeclares."""
        self._producer = None
