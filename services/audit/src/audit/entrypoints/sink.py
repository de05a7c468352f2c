"""The audit sink: reads every event from its quorum queue and appends it to the chain: `audit-sink`.

Batches of up to AUDIT_BATCH_SIZE events (or what arrived within AUDIT_BATCH_MAX_WAIT_MS) are stored
in one transaction and acked after it commits; a redelivered event is recognised by its id and
skipped. It serves /healthz, /readyz (database and broker) and /metrics on SINK_OPS_PORT.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from flask import Flask
from kombu import Connection

from audit.bootstrap import SERVICE_NAME, Container, bootstrap
from audit.config import Settings
from audit.service_layer import metrics
from scenergy.common.consumer import BatchEventConsumer
from scenergy.common.db import ping
from scenergy.common.events import EventEnvelope
from scenergy.common.http import init_app
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import QueueSpec, Topology, connect
from scenergy.common.ops_server import serve_in_background
from scenergy.common.runner import PeriodicTask, TaskRunner

log = logging.getLogger(__name__)


def build_consumer(
    container: Container, connection: Connection, *, topology: Topology | None = None, spec: QueueSpec | None = None
) -> BatchEventConsumer:
    settings = container.settings

    def handle_batch(envelopes: list[EventEnvelope]) -> None:
        result = container.service.ingest(envelopes)
        metrics.ENTRIES_STORED.inc(result.stored)
        metrics.EVENTS_DUPLICATE.inc(result.duplicates)
        newest = max(e.occurred_at for e in envelopes)
        metrics.LAG_SECONDS.set(max((datetime.now(UTC) - newest).total_seconds(), 0.0))

    return BatchEventConsumer(
        connection=connection,
        topology=topology or container.topology,
        spec=spec or container.sink_queue,
        handle_batch=handle_batch,
        batch_size=settings.batch_size,
        max_wait_s=settings.batch_max_wait_ms / 1000,
        max_attempts=settings.max_attempts,
        on_outcome=metrics.count_outcome,
    )


def measure_queue(container: Container, broker_url: str) -> None:
    """Queue depths for the lag gauges, on a connection of its own (the consumer's is busy)."""
    with Connection(broker_url, connect_timeout=5) as conn:
        channel = conn.default_channel
        topology, spec = container.topology, container.sink_queue
        _, depth, _ = topology.queue(spec)(channel).queue_declare(passive=True)
        _, dead, _ = topology.dead_letter_queue(spec)(channel).queue_declare(passive=True)
    metrics.QUEUE_DEPTH.set(depth)
    metrics.DEAD_LETTER_DEPTH.set(dead)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-sink", settings.log_level)
    container = bootstrap(settings, process="sink")
    connection = connect(settings.broker_url, confirm=True)
    consumer = build_consumer(container, connection)
    depth = TaskRunner([PeriodicTask("queue-depth", lambda: measure_queue(container, settings.broker_url), 10.0)])

    def broker_ready() -> None:
        with Connection(settings.broker_url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)

    readiness = {"database": lambda: ping(container.engine), "broker": broker_ready}
    app = init_app(Flask("audit-sink"), service=f"{SERVICE_NAME}-sink", readiness=readiness)
    serve_in_background(app, host=settings.bind_host, port=settings.sink_ops_port)

    thread = threading.Thread(target=consumer.run, name="audit-sink", daemon=True)
    thread.start()
    log.info("audit sink consuming %s; ops HTTP on :%s", container.sink_queue.name, settings.sink_ops_port)
    depth.run_until_signalled()  # returns on SIGTERM/SIGINT
    consumer.should_stop = True
    thread.join(timeout=15)
    connection.release()
    container.close()


if __name__ == "__main__":
    main()
