"""Background work of the generation service, one process: `generation-worker`.

- the job relay: run messages from the job outbox to the jobs queue, woken by NOTIFY at commit;
- the events relay: audit events to `scenergy.events`;
- the reaper (expired leases), the scheduler (due retries, lost messages), the settlement sweeper,
  the bulk-retry pacer, the purge of deleted assets' objects;
- the jobs queue's dead letters: the database decides about the job, so they are re-armed;
- gauges: jobs by state, the oldest pending job, stalled jobs, dead jobs, the queue's depth.
It serves /healthz, /readyz and /metrics on WORKER_OPS_PORT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from kombu import Connection
from prometheus_client import Counter, Gauge

from generation.adapters.jobstore import JOBS_CHANNEL
from generation.adapters.queue import job_queue, parse_job_message
from generation.adapters.tables import generation_job
from generation.bootstrap import SERVICE_NAME, Container, bootstrap
from generation.config import Settings
from scenergy.common.db import ping
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import Publisher, connect
from scenergy.common.ops_server import run_worker
from scenergy.common.outbox import NotifyWaiter, OutboxRelay, relay_tasks
from scenergy.common.runner import PeriodicTask

log = logging.getLogger(__name__)

JOBS = Gauge("generation_jobs", "Jobs in a non-final state", ["status"])
OLDEST_PENDING = Gauge("generation_oldest_pending_age_seconds", "How long the oldest due pending job has waited")
STALLED = Gauge("generation_jobs_stalled", "Generating jobs whose lease ran out and that the reaper hasn't taken yet")
DEAD = Gauge("generation_jobs_dead", "Jobs dead after their last attempt, waiting for a retry or nothing")
QUEUE_DEPTH = Gauge("generation_queue_messages", "Messages in the jobs queue", ["queue"])
DEAD_LETTERS = Counter("generation_dead_letters_total", "Run messages the broker dead-lettered")

WEEK_S = 7 * 24 * 3600


def measure(container: Container) -> None:
    j = generation_job.c
    with container.engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(j.status, sa.func.count()).where(j.status.in_(("pending", "generating"))).group_by(j.status)
            ).all()
        )
        oldest = conn.execute(
            sa.select(sa.func.extract("epoch", sa.func.now() - sa.func.min(j.available_at))).where(
                j.status == "pending", j.available_at <= sa.func.now()
            )
        ).scalar_one()
        stalled = conn.execute(
            sa.select(sa.func.count()).where(j.status == "generating", j.lease_expires_at < sa.func.now())
        ).scalar_one()
        dead = conn.execute(sa.select(sa.func.count()).where(j.status == "dead")).scalar_one()
    for status in ("pending", "generating"):
        JOBS.labels(status).set(counts.get(status, 0))
    OLDEST_PENDING.set(float(oldest or 0))
    STALLED.set(stalled)
    DEAD.set(dead)


def measure_queue(container: Container, connection: Connection) -> None:
    topology = container.jobs_topology
    channel = connection.default_channel
    spec = job_queue(topology)
    for queue in (topology.queue(spec), topology.dead_letter_queue(spec)):
        try:
            _name, messages, _consumers = queue(channel).queue_declare(passive=True)
        except Exception:  # the embedded broker has no passive declare; the gauge stays unset there
            return
        QUEUE_DEPTH.labels(queue.name).set(messages)


def drain_dead_letters(container: Container, connection: Connection, limit: int = 100) -> int:
    """Re-arm jobs whose run message the broker dead-lettered (delivery limit reached)."""
    topology = container.jobs_topology
    queue = topology.dead_letter_queue(job_queue(topology))(connection.default_channel)
    queue.declare()  # the relay may not have declared the topology yet
    handled = 0
    while handled < limit:
        message = queue.get(no_ack=False, accept=["json"])
        if message is None:
            break
        job_id = parse_job_message(message.body)
        if job_id is not None and container.maintenance.rearm_dead_lettered(job_id):
            log.warning("re-armed a job whose run message was dead-lettered", extra={"job_id": job_id})
        DEAD_LETTERS.inc()
        message.ack()
        handled += 1
    return handled


def build_tasks(
    container: Container, connect_broker: Callable[[], Connection], *, waiter: NotifyWaiter | None
) -> list[PeriodicTask]:
    """Each task runs in a thread of its own, and kombu connections are not thread-safe: one each."""
    settings = container.settings
    m = container.maintenance
    events = OutboxRelay(container.engine, Publisher(connect_broker(), container.topology))
    jobs = OutboxRelay(container.engine, Publisher(connect_broker(), container.jobs_topology), table="job_outbox")
    dead_letters, depth = connect_broker(), connect_broker()

    def purge() -> int:
        return (
            m.purge_deleted() + events.purge_published(older_than_s=WEEK_S) + jobs.purge_published(older_than_s=WEEK_S)
        )

    def gauges() -> None:
        measure(container)
        measure_queue(container, depth)

    tasks: list[Any] = [
        *relay_tasks(jobs, name="job_outbox", waiter=waiter),
        *relay_tasks(events),
        PeriodicTask("reaper", m.reap, interval_s=min(1.0, settings.lease_s / 3), drain=True),
        PeriodicTask("scheduler", m.dispatch_due, interval_s=0.5, drain=True),
        PeriodicTask(
            "settlement", lambda: container.settler.sweep(older_than_s=settings.settle_after_s), interval_s=2.0
        ),
        PeriodicTask("bulk-pacer", container.dead_jobs.pace, interval_s=1.0),
        PeriodicTask("dead-letters", lambda: drain_dead_letters(container, dead_letters), interval_s=5.0),
        PeriodicTask("purge", purge, interval_s=300.0),
        PeriodicTask("gauges", gauges, interval_s=10.0),
    ]
    return tasks


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-worker", settings.log_level)
    container = bootstrap(settings, process="worker")
    connections: list[Connection] = []

    def connect_broker() -> Connection:
        connections.append(connect(settings.broker_url))
        return connections[-1]

    waiter = NotifyWaiter(settings.database_url, JOBS_CHANNEL)
    tasks = build_tasks(container, connect_broker, waiter=waiter)
    probe = connect_broker()
    readiness = {
        "database": lambda: ping(container.engine),
        "broker": lambda: probe.ensure_connection(max_retries=1),
    }
    run_worker(
        f"{SERVICE_NAME}-worker", tasks, host=settings.bind_host, port=settings.worker_ops_port, readiness=readiness
    )
    waiter.close()
    for connection in connections:
        connection.release()
    container.close()


if __name__ == "__main__":
    main()
