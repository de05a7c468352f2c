"""Background work of the gateway, one process: `admin-api-worker`.

- the outbox relay (the gateway's audit events to RabbitMQ, with confirms);
- purging ended sessions, old sign-in failures and idempotency records after a day.
It serves /healthz, /readyz and /metrics on WORKER_OPS_PORT.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from admin_api.adapters.tables import idempotency_record
from admin_api.bootstrap import SERVICE_NAME, Container, bootstrap
from admin_api.config import Settings
from scenergy.common.db import ping
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import Publisher, broker_probe, connect
from scenergy.common.ops_server import run_worker
from scenergy.common.outbox import OutboxRelay, relay_tasks
from scenergy.common.runner import PeriodicTask

IDEMPOTENCY_KEPT = timedelta(hours=24)
WEEK_S = 7 * 24 * 3600


def purge_idempotency_records(container: Container) -> int:
    cutoff = datetime.now(UTC) - IDEMPOTENCY_KEPT
    with container.engine.begin() as conn:
        result = conn.execute(idempotency_record.delete().where(idempotency_record.c.created_at < cutoff))
    return int(result.rowcount or 0)


def build_tasks(container: Container, relay: OutboxRelay) -> list[PeriodicTask]:
    def purge() -> int:
        return (
            container.sessions.purge_expired()
            + container.throttle.purge()
            + purge_idempotency_records(container)
            + relay.purge_published(older_than_s=WEEK_S)
        )

    return [*relay_tasks(relay), PeriodicTask("purge", purge, interval_s=600.0)]


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-worker", settings.log_level)
    container = bootstrap(settings, process="worker")
    connection = connect(settings.broker_url)
    relay = OutboxRelay(container.engine, Publisher(connection, container.topology))
    readiness = {
        "database": lambda: ping(container.engine),
        "broker": broker_probe(settings.broker_url),  # not the relay's connection: another thread
    }
    run_worker(
        f"{SERVICE_NAME}-worker",
        build_tasks(container, relay),
        host=settings.bind_host,
        port=settings.worker_ops_port,
        readiness=readiness,
    )
    connection.release()
    container.close()


if __name__ == "__main__":
    main()
