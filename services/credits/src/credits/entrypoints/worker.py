"""Background work of the credits service, one process: `credits-worker`.

- the outbox relay (events to RabbitMQ, with confirms);
- hold expiry (holds past their ttl are voided within a minute; the loop runs every few seconds);
- purging idempotency records past retention, and published outbox rows after a week.
It serves /healthz and /metrics on WORKER_OPS_PORT.
"""

from __future__ import annotations

from prometheus_client import Counter

from credits.bootstrap import SERVICE_NAME, Container, bootstrap
from credits.config import Settings
from scenergy.common.db import ping
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import Publisher, broker_probe, connect
from scenergy.common.ops_server import run_worker
from scenergy.common.outbox import OutboxRelay, relay_tasks
from scenergy.common.runner import PeriodicTask

HOLDS_EXPIRED = Counter("credits_holds_expired_total", "Holds voided after their ttl")

WEEK_S = 7 * 24 * 3600


def build_tasks(container: Container, relay: OutboxRelay) -> list[PeriodicTask]:
    settings = container.settings

    def expire_holds() -> int:
        count = container.service.expire_holds()
        HOLDS_EXPIRED.inc(count)
        return count

    def purge() -> int:
        purged = container.service.ledger.purge_idempotency_records(older_than_days=settings.idempotency_retention_days)
        return purged + relay.purge_published(older_than_s=WEEK_S)

    return [
        *relay_tasks(relay),
        PeriodicTask("hold-expiry", expire_holds, interval_s=5.0, drain=True),
        PeriodicTask("retention-purge", purge, interval_s=3600.0),
    ]


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
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
