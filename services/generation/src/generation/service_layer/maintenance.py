"""What keeps jobs moving when workers die or messages are lost: the reaper, the scheduler, the purge.

- reaper: a generating job whose lease ran out (its worker died) goes back to pending with a
  backoff, or to dead when that was its last attempt. The attempt is closed as `worker_lost`.
- scheduler: pending jobs whose retry time has come, and pending jobs whose message seems lost
  (sent longer ago than `redispatch_after_s` and not started), get a run message.
- purge: objects of soft-deleted assets are removed after their grace period.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy import Engine

from generation.adapters import jobstore
from generation.adapters.tables import generated_asset, generation_job
from generation.domain.model import RetryPolicy
from generation.domain.ports import ErrorClass, ObjectStorage, StorageError
from generation.service_layer.runner import ATTEMPTS, JOBS_FINISHED
from generation.service_layer.settlement import Settler

log = logging.getLogger(__name__)

REAPED = Counter("generation_jobs_reaped_total", "Running jobs whose worker stopped renewing the lease")
DISPATCHED = Counter("generation_jobs_dispatched_total", "Run messages sent by the scheduler", ["why"])
PURGED = Counter("generation_objects_purged_total", "Objects removed after their asset's grace period")

REAPER_ACTOR = "generation-reaper"


class Maintenance:
    def __init__(
        self,
        engine: Engine,
        storage: ObjectStorage,
        settler: Settler,
        retry: RetryPolicy,
        *,
        redispatch_after_s: float,
    ) -> None:
        self._engine = engine
        self._storage = storage
        self._settler = settler
        self._retry = retry
        self._redispatch_after_s = redispatch_after_s

    def reap(self, limit: int = 50) -> int:
        j = generation_job.c
        reaped: list[Any] = []
        with self._engine.begin() as conn:
            expired = conn.execute(
                sa.select(generation_job)
                .where(j.status == "generating", j.lease_expires_at < sa.func.now())
                .order_by(j.lease_expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for job in expired:
                retry_at = None
                if job.attempt_count < job.max_attempts:
                    retry_at = datetime.now(UTC) + timedelta(seconds=self._retry.delay_s(job.attempt_count))
                message = "the worker stopped renewing its lease (it died or hung)"
                row = jobstore.fail(
                    conn,
                    job,
                    expect_owner=None,
                    retry_at=retry_at,
                    error_class=ErrorClass.WORKER_LOST.value,
                    error_message=message,
                )
                if row is None:
                    continue
                jobstore.finish_attempt(
                    conn,
                    job.id,
                    job.attempt_count,
                    outcome="worker_lost",
                    error_class=ErrorClass.WORKER_LOST.value,
                    error_message=message,
                )
                reason = f"worker_lost: {message}"
                jobstore.record_transition(
                    conn, job.id, "generating", row.status, job.attempt_count, reason, REAPER_ACTOR
                )
                reaped.append(row)
        for row in reaped:
            REAPED.inc()
            ATTEMPTS.labels("worker_lost", ErrorClass.WORKER_LOST.value).inc()
            if row.status == "dead":
                JOBS_FINISHED.labels("dead").inc()
            if row.settlement == "release_pending":
                self._settler.settle(row.id)
        return len(reaped)

    def dispatch_due(self, limit: int = 200) -> int:
        """Send run messages for due retries, and again for pending jobs whose message seems lost."""
        j = generation_job.c
        stale = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, self._redispatch_after_s)
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(j.id, j.dispatched_at)
                .where(
                    j.status == "pending",
                    j.available_at <= sa.func.now(),
                    sa.or_(j.dispatched_at.is_(None), j.dispatched_at < stale),
                )
                .order_by(j.available_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                jobstore.dispatch(conn, row.id)
                DISPATCHED.labels("retry" if row.dispatched_at is None else "redispatch").inc()
        return len(rows)

    def purge_deleted(self, limit: int = 100) -> int:
        a = generated_asset.c
        with self._engine.connect() as conn:
            due = conn.execute(
                sa.select(a.id, a.object_key)
                .where(a.purge_after.is_not(None), a.purge_after <= sa.func.now(), a.purged_at.is_(None))
                .order_by(a.purge_after)
                .limit(limit)
            ).all()
        purged = 0
        for asset in due:
            try:
                self._storage.delete(asset.object_key)
            except StorageError as exc:
                log.warning("object purge failed; retried later", extra={"asset_id": asset.id, "error": str(exc)})
                continue
            with self._engine.begin() as conn:
                conn.execute(generated_asset.update().where(a.id == asset.id).values(purged_at=sa.func.now()))
            purged += 1
            PURGED.inc()
        return purged

    def rearm_dead_lettered(self, job_id: str) -> bool:
        """The broker dead-lettered a run message (redelivered too often before any claim). The database
        decides about the job: if it is still pending it gets a new message after a pause."""
        j = generation_job.c
        with self._engine.begin() as conn:
            row = conn.execute(
                generation_job.update()
                .where(j.id == job_id, j.status == "pending")
                .values(dispatched_at=None, available_at=sa.func.now() + sa.text("interval '60 seconds'"))
                .returning(j.id, j.attempt_count)
            ).first()
            if row is not None:
                reason = "the queue dead-lettered its message; sent again in 60 s"
                jobstore.record_transition(conn, job_id, "pending", "pending", row.attempt_count, reason, "broker")
        return row is not None
