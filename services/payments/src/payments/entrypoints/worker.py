"""Background work of the payments service, one process: `payments-worker`.

- the event processor: EVENT_WORKERS loops applying stored Stripe events to payments and the ledger,
  woken by NOTIFY at each stored event, failed ones retried with backoff;
- the events relay (audit events to `scenergy.events`);
- with STRIPE_API_KEY, a reconciliation with Stripe every RECONCILE_INTERVAL_S, healing what it finds;
- gauges: events waiting and failed.
It serves /healthz, /readyz and /metrics on WORKER_OPS_PORT.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from prometheus_client import Gauge

from payments.adapters.tables import stripe_event
from payments.bootstrap import SERVICE_NAME, Container, bootstrap
from payments.config import Settings
from payments.service_layer.webhooks import EVENTS_CHANNEL
from scenergy.common.db import ping
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import Publisher, broker_probe, connect
from scenergy.common.ops_server import run_worker
from scenergy.common.outbox import NotifyWaiter, OutboxRelay, relay_tasks
from scenergy.common.runner import PeriodicTask

EVENTS_WAITING = Gauge("payments_events_waiting", "Stripe events stored and not yet processed")
EVENTS_FAILED = Gauge("payments_events_failed", "Stripe events whose processing failed (retried or given up)")
OLDEST_WAITING = Gauge("payments_oldest_event_age_seconds", "Age of the oldest unprocessed Stripe event")

WEEK_S = 7 * 24 * 3600


def measure(container: Container) -> None:
    e = stripe_event.c
    with container.engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count().filter(e.status == "pending"),
                sa.func.count().filter(e.status == "failed"),
                sa.func.extract("epoch", sa.func.now() - sa.func.min(e.received_at)).filter(e.status == "pending"),
            ).where(e.status.in_(("pending", "failed")))
        ).one()
    EVENTS_WAITING.set(row[0])
    EVENTS_FAILED.set(row[1])
    OLDEST_WAITING.set(float(row[2] or 0))


def event_loop(container: Container, waiter: NotifyWaiter | None) -> Callable[[], int]:
    def process() -> int:
        handled = container.processor.process_due()
        if not handled and waiter is not None:
            waiter.wait(1.0)  # a stored event wakes it at once; failed ones come due within a second
        return handled

    return process


def build_tasks(container: Container, relay: OutboxRelay, waiters: list[NotifyWaiter]) -> list[PeriodicTask]:
    """One loop per waiter (EVENT_WORKERS of them), each with its own LISTEN connection."""
    tasks = [
        *(
            PeriodicTask(f"stripe-events-{n}", event_loop(container, waiter), interval_s=0.0, drain=True)
            for n, waiter in enumerate(waiters)
        ),
        *relay_tasks(relay),
        PeriodicTask("gauges", lambda: measure(container), interval_s=10.0),
        PeriodicTask("outbox-purge", lambda: relay.purge_published(older_than_s=WEEK_S), interval_s=3600.0),
    ]
    settings = container.settings
    if settings.stripe_api_key:  # compare with Stripe and heal what webhooks missed
        days = settings.reconcile_days
        reconcile = PeriodicTask(
            "reconciliation",
            lambda: container.admin.reconcile(days, True, None),
            interval_s=settings.reconcile_interval_s,
        )
        tasks.append(reconcile)
    return tasks


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-worker", settings.log_level)
    container = bootstrap(settings, process="worker")
    connection = connect(settings.broker_url)
    relay = OutboxRelay(container.engine, Publisher(connection, container.topology))
    waiters = [NotifyWaiter(settings.database_url, EVENTS_CHANNEL) for _ in range(settings.event_workers)]
    readiness = {
        "database": lambda: ping(container.engine),
        "broker": broker_probe(settings.broker_url),  # not the relay's connection: another thread
    }
    run_worker(
        f"{SERVICE_NAME}-worker",
        build_tasks(container, relay, waiters),
        host=settings.bind_host,
        port=settings.worker_ops_port,
        readiness=readiness,
    )
    for waiter in waiters:
        waiter.close()
    connection.release()
    container.close()


if __name__ == "__main__":
    main()
