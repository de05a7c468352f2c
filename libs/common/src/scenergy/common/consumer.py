"""Consumers that apply each event once: ack after commit, bounded retries, then dead-lettering.

`EventConsumer` handles one message at a time: `handle(envelope, connection)` runs inside a database
transaction together with the inbox insert, so a redelivered event (after a crash before the ack, or
a duplicate publish) is acked and skipped. `BatchEventConsumer` hands a batch of parsed envelopes to
a handler that commits them together (and deduplicates them itself, e.g. by a unique event id).
A message that is not a valid envelope, or whose handler raises `PermanentError`, is dead-lettered
with its reason at once; any other error is retried with backoff, then dead-lettered.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Message, Producer
from kombu.mixins import ConsumerMixin
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection as DbConnection

from scenergy.common import context
from scenergy.common.events import EventEnvelope, InvalidEnvelope, parse_envelope, validate_envelope
from scenergy.common.messaging import RETRY_POLICY, QueueSpec, Topology

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], DbConnection], None]


class PermanentError(Exception):
    """Processing can never succeed for this message; dead-letter it now."""


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    # Keyed by consumer too: two consumers of one database that both take an event must each apply it.
    return sa.Table(
        "processed_message",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


class _DeadLettering:
    """Retry with backoff up to `max_attempts` deliveries, then publish to the dead-letter queue."""

    connection: Connection
    _topology: Topology
    _spec: QueueSpec
    _max_attempts: int
    _on_outcome: Callable[[str], None]

    def _retry_or_dead_letter(self, message: Message, event_id: str, exc: Exception) -> None:
        attempts = int(message.headers.get("x-delivery-count", 0) or 0) + 1
        if attempts >= self._max_attempts:
            self._dead_letter(message, f"failed after {attempts} attempts: {exc}")
            return
        log.warning("event processing failed; will retry", extra={"event_id": event_id, "error": str(exc)})
        time.sleep(min(0.2 * 2**attempts, 5.0))  # back off without a hot loop
        self._on_outcome("retried")
        message.requeue()

    def _dead_letter(self, message: Message, reason: str) -> None:
        """Publish to the queue's dead-letter queue with the reason, confirmed, then ack the original."""
        log.error("dead-lettering message", extra={"queue": self._spec.name, "reason": reason})
        headers = dict(message.headers or {})
        headers.update({"x-dead-letter-reason": reason[:1000], "x-original-queue": self._spec.name})
        producer = Producer(self.connection.default_channel)
        publish = self.connection.ensure(producer, producer.publish, **RETRY_POLICY)
        publish(
            message.body,
            exchange=self._topology.dead_letter_exchange,
            routing_key=self._spec.name,
            headers=headers,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=2,
            message_id=message.properties.get("message_id"),
        )
        message.ack()
        self._on_outcome("dead_lettered")


class EventConsumer(_DeadLettering, ConsumerMixin):  # type: ignore[misc]
    def __init__(
        self,
        *,
        connection: Connection,
        topology: Topology,
        spec: QueueSpec,
        engine: Engine,
        handle: Handler,
        max_attempts: int = 5,
        prefetch_count: int = 50,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.connection = connection
        self._topology = topology.with_queues(spec)
        self._spec = spec
        self._engine = engine
        self._handle = handle
        self._max_attempts = max_attempts
        self._prefetch_count = prefetch_count
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._inbox = inbox_table(sa.MetaData())

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:
        self._topology.declare(self.connection)
        consumer = Consumer(
            queues=[self._topology.queue(self._spec)],
            # The raw body, parsed below: with `callbacks`, kombu decodes first and acks (drops) a
            # body it can't decode, which must be dead-lettered like any other invalid envelope.
            on_message=self.on_message,
            accept=["json"],
            prefetch_count=self._prefetch_count,
        )
        return [consumer]

    def on_message(self, message: Message) -> None:
        try:
            envelope = validate_envelope(json.loads(message.body))
        except (InvalidEnvelope, ValueError, TypeError) as exc:
            self._dead_letter(message, f"invalid envelope: {exc}")
            return
        with context.bound(request_id=envelope.get("correlation_id")):
            try:
                applied = self._apply(envelope)
            except PermanentError as exc:
                self._dead_letter(message, f"permanent error: {exc}")
                return
            except Exception as exc:
                self._retry_or_dead_letter(message, envelope["id"], exc)
                return
        message.ack()
        self._on_outcome("processed" if applied else "duplicate")

    def _apply(self, envelope: dict[str, Any]) -> bool:
        """Run the handler and record the id in one transaction; False if it was already applied."""
        with self._engine.begin() as conn:
            inserted = conn.execute(
                pg_insert(self._inbox)
                .values(message_id=envelope["id"], consumer=self._spec.name)
                .on_conflict_do_nothing()
                .returning(self._inbox.c.message_id)
            ).first()
            if inserted is None:
                return False
            self._handle(envelope, conn)
        return True


BatchHandler = Callable[[list[EventEnvelope]], None]


class BatchEventConsumer(_DeadLettering, ConsumerMixin):  # type: ignore[misc]
    """Collects up to `batch_size` messages (or what arrived within `max_wait_s`) and applies them at once.

    The handler commits the whole batch in one transaction and must be idempotent per event id; the
    messages are acked only after it returns. If a batch fails, its messages are applied one by one,
    so one bad message can't hold back the others: it alone is retried and finally dead-lettered.
    """

    def __init__(
        self,
        *,
        connection: Connection,
        topology: Topology,
        spec: QueueSpec,
        handle_batch: BatchHandler,
        batch_size: int = 200,
        max_wait_s: float = 0.05,
        max_attempts: int = 5,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self.connection = connection
        self._topology = topology.with_queues(spec)
        self._spec = spec
        self._handle_batch = handle_batch
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
        self._max_attempts = max_attempts
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._pending: list[tuple[Message, EventEnvelope]] = []
        self._oldest = 0.0

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:
        self._topology.declare(self.connection)
        consumer = Consumer(
            queues=[self._topology.queue(self._spec)],
            on_message=self.on_message,  # the raw body: parsed once, straight from JSON, below
            accept=["json"],
            prefetch_count=self._batch_size * 2,
        )
        return [consumer]

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        # Messages of a lost channel are redelivered by the broker; their delivery tags are void.
        self._pending = []

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("safety_interval", min(self._max_wait_s, 1.0))
        super().run(_tokens, **kwargs)

    def on_message(self, message: Message) -> None:
        try:
            envelope = parse_envelope(message.body)
        except InvalidEnvelope as exc:
            self._dead_letter(message, f"invalid envelope: {exc}")
            return
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append((message, envelope))
        if len(self._pending) >= self._batch_size:
            self.flush()

    def on_iteration(self) -> None:
        if self._pending and time.monotonic() - self._oldest >= self._max_wait_s:
            self.flush()

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            self._handle_batch([envelope for _, envelope in batch])
        except Exception as exc:
            if len(batch) == 1:
                self._settle_failure(*batch[0], exc)
                return
            log.warning("batch failed; applying its messages one by one", extra={"size": len(batch), "error": str(exc)})
            for message, envelope in batch:
                self._apply_one(message, envelope)
            return
        for message, _ in batch:
            message.ack()
        self._on_outcome_many("processed", len(batch))

    def _apply_one(self, message: Message, envelope: EventEnvelope) -> None:
        try:
            self._handle_batch([envelope])
        except Exception as exc:
            self._settle_failure(message, envelope, exc)
            return
        message.ack()
        self._on_outcome("processed")

    def _settle_failure(self, message: Message, envelope: EventEnvelope, exc: Exception) -> None:
        if isinstance(exc, PermanentError):
            self._dead_letter(message, f"permanent error: {exc}")
        else:
            self._retry_or_dead_letter(message, envelope.id, exc)

    def _on_outcome_many(self, outcome: str, count: int) -> None:
        for _ in range(count):
            self._on_outcome(outcome)
