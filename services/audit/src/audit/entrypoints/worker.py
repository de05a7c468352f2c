"""Background work of the audit service, one process: `audit-worker`.

- a signed checkpoint of the chain head every AUDIT_CHECKPOINT_INTERVAL_S when entries were added;
- the retention purge (AUDIT_RETENTION_DAYS; 0 keeps everything), hourly, checkpointed and audited;
- the checkpoint gauges. It serves /healthz, /readyz and /metrics on WORKER_OPS_PORT.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from audit.bootstrap import SERVICE_NAME, Container, bootstrap
from audit.config import Settings
from audit.domain.errors import NothingToPurge
from audit.service_layer import metrics
from scenergy.common.db import ping
from scenergy.common.logging import configure_logging
from scenergy.common.ops_server import run_worker
from scenergy.common.runner import PeriodicTask

log = logging.getLogger(__name__)


def checkpoint_if_moved(container: Container) -> bool:
    """Sign the head when entries were appended since the newest checkpoint."""
    head_seq, _ = container.store.head()
    latest = container.store.latest_checkpoint()
    if head_seq == 0 or (latest is not None and latest.seq >= head_seq):
        return False
    checkpoint = container.service.checkpoint(None, reason="periodic")
    log.info("audit checkpoint signed", extra={"seq": checkpoint.seq, "checkpoint_id": checkpoint.id})
    return True


def measure(container: Container) -> None:
    head_seq, _ = container.store.head()
    latest = container.store.latest_checkpoint()
    metrics.CHAIN_LENGTH.set(head_seq)
    metrics.UNCHECKPOINTED.set(head_seq - (latest.seq if latest else 0))
    if latest is not None:
        metrics.CHECKPOINT_AGE.set((datetime.now(UTC) - latest.created_at).total_seconds())


def purge(container: Container) -> int:
    if container.settings.retention_days <= 0:
        return 0
    try:
        checkpoint, deleted = container.service.purge_expired(None)
    except NothingToPurge:
        return 0
    log.info("audit entries purged past retention", extra={"deleted": deleted, "through_seq": checkpoint.seq})
    return deleted


def build_tasks(container: Container) -> list[PeriodicTask]:
    interval = container.settings.checkpoint_interval_s
    return [
        PeriodicTask("checkpoint", lambda: checkpoint_if_moved(container), interval_s=interval),
        PeriodicTask("measure", lambda: measure(container), interval_s=15.0),
        PeriodicTask("retention-purge", lambda: purge(container), interval_s=3600.0),
    ]


def main() -> None:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-worker", settings.log_level)
    container = bootstrap(settings, process="worker")
    run_worker(
        f"{SERVICE_NAME}-worker",
        build_tasks(container),
        host=settings.bind_host,
        port=settings.worker_ops_port,
        readiness={"database": lambda: ping(container.engine)},
    )
    container.close()


if __name__ == "__main__":
    main()
