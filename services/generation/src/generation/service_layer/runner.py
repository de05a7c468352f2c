"""One attempt of a job, from claim to final commit, as a worker runs it.

claim (pending → generating, a lease, an attempt row) → call the model → upload → final commit
(generating → completed with its asset, or → pending/dead/error) → settle the credit hold → ack.
A lease renewed by a heartbeat thread marks the job as alive; between stages the worker checks it
still owns the job, so a cancel (or a reaper that gave the job to another worker) stops it, and its
final compare-and-set can't complete a job that is no longer its own.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine

from generation.adapters import jobstore
from generation.adapters.storage import asset_key
from generation.domain.model import STAGE_PROGRESS, RetryPolicy, Stage, cap_text
from generation.domain.ports import ErrorClass, ImageProvider, ImageRequest, ObjectStorage, ProviderError, StorageError
from generation.domain.pricing import CURRENT_PRICES
from generation.service_layer.settlement import Settler

log = logging.getLogger(__name__)

ATTEMPTS = Counter("generation_attempts_total", "Job attempts by outcome and error class", ["outcome", "error_class"])
JOBS_FINISHED = Counter("generation_jobs_finished_total", "Jobs that reached a final state", ["status"])
STAGE_SECONDS = Histogram(
    "generation_stage_seconds",
    "Time spent per stage of an attempt",
    ["stage"],
    buckets=(0.05, 0.25, 1, 2.5, 5, 10, 20, 40, 60, 120, 300),
)
QUEUE_SECONDS = Histogram(
    "generation_queue_seconds",
    "From submit (or the retry's due time) to the attempt's start",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

MAX_STACK = 8000
PROGRESS_INTERVAL_S = 1.0


class LostJob(Exception):
    """The job is no longer this worker's: cancelled, or its lease passed to another attempt."""


def asset_id_for(job_id: str) -> str:
    """Deterministic, so every attempt of a job writes the same asset (and the same object key)."""
    return "ast_" + job_id.removeprefix("job_")


@dataclass
class RunnerConfig:
    lease_s: float = 30.0
    hard_timeout_s: float = 600.0
    provider_timeout_s: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class _Lease:
    """Renews the lease every third of its length until stopped; notices when it is lost."""

    def __init__(self, engine: Engine, job_id: str, owner: str, lease_s: float) -> None:
        self._engine, self._job_id, self._owner, self._lease_s = engine, job_id, owner, lease_s
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)
        self.progress_written = time.monotonic()  # the claim wrote the first progress

    def __enter__(self) -> _Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(self._lease_s / 3):
            try:
                with self._engine.connect() as conn:
                    if not jobstore.renew_lease(conn, self._job_id, self._owner, self._lease_s):
                        self.lost.set()
                        return
            except Exception as exc:  # the database blinked: the next beat tries again
                log.warning("lease renewal failed", extra={"job_id": self._job_id, "error": str(exc)})


class JobRunner:
    """Runs attempts. Everything it needs is passed in; nothing global."""

    def __init__(
        self,
        engine: Engine,
        provider: ImageProvider,
        storage: ObjectStorage,
        settler: Settler,
        config: RunnerConfig,
        *,
        worker_id: str,
        checkpoint: Callable[[str], None] = lambda point: None,
        autocommit_engine: Engine | None = None,
    ) -> None:
        self._engine = engine
        # Single statements (claim, lease, stage checks, completion) need no BEGIN/COMMIT round trips.
        self._autocommit = autocommit_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
        self._provider = provider
        self._storage = storage
        self._settler = settler
        self._config = config
        self._worker_id = worker_id
        # Called at each point of an attempt (tests use it to kill the worker exactly there).
        self._checkpoint = checkpoint

    # -- the attempt ---------------------------------------------------------------------------------

    def run(self, job_id: str) -> str:
        """Run the job if it is due and free; returns what happened (for logs and tests)."""
        owner = f"{self._worker_id}:{uuid.uuid4().hex[:12]}"
        claimed = self._claim(job_id, owner)
        if claimed is None:
            return "skipped"
        job = claimed
        started = time.monotonic()
        timings: dict[str, int] = {}
        stored_key: str | None = None
        with _Lease(self._autocommit, job.id, owner, self._config.lease_s) as lease:
            try:
                self._checkpoint("claimed")  # the claim set the stage to calling_model
                self._checkpoint("before_model")
                t0 = time.monotonic()
                image = self._provider.generate(self._request(job, started))
                timings["model_ms"] = _ms(t0)
                STAGE_SECONDS.labels("calling_model").observe(time.monotonic() - t0)
                self._checkpoint("after_model")
                self._stage(job, owner, lease, Stage.UPLOADING)
                t1 = time.monotonic()
                key = asset_key(job.client_id or "admin", job.id, _extension(image.mime_type))
                self._checkpoint("before_upload")
                stored = self._storage.put(key, image.data, image.mime_type)
                stored_key = stored.key
                timings["upload_ms"] = _ms(t1)
                STAGE_SECONDS.labels("uploading").observe(time.monotonic() - t1)
                self._checkpoint("after_upload")
                if lease.lost.is_set():  # the completion's compare-and-set checks ownership itself
                    raise LostJob()
                timings["total_ms"] = _ms(started)
                outcome = self._complete(job, owner, image, stored.key, stored.size_bytes, timings)
            except LostJob:
                return self._lost(job, stored_key)
            except ProviderError as exc:
                timings.setdefault("model_ms", _ms(started))
                outcome = self._failed(job, owner, exc.error_class, exc.message, started, timings, exc=exc)
            except StorageError as exc:
                outcome = self._failed(job, owner, ErrorClass.STORAGE_ERROR, str(exc), started, timings)
            except Exception as exc:  # our own bug or an unexpected failure: retried, then dead
                log.exception("job attempt failed unexpectedly", extra={"job_id": job.id})
                message = f"{type(exc).__name__}: {exc}"
                outcome = self._failed(job, owner, ErrorClass.INTERNAL, message, started, timings, stack=True)
        self._checkpoint("committed")
        if job.hold_id is not None:  # an admin's job holds nothing: no settlement to look up
            self._settler.settle(job.id)
        self._checkpoint("settled")
        return outcome

    def _claim(self, job_id: str, owner: str) -> Any:
        with self._autocommit.connect() as conn:  # one statement, atomic on its own: no BEGIN/COMMIT trips
            job = jobstore.claim(conn, job_id, owner, self._config.lease_s, self._worker_id)
        if job is None:
            with self._engine.begin() as conn:
                self._claim_refused(conn, job_id)
            return None
        QUEUE_SECONDS.observe(job.queue_ms / 1000)
        return job

    def _claim_refused(self, conn: sa.Connection, job_id: str) -> None:
        """A message for a job that isn't runnable: finished, running elsewhere, or not yet due. Nothing to do,
        except for a pending job with no attempts left (possible after a crash): it is dead."""
        job = jobstore.lock_job(conn, job_id)
        if job is None or job.status != "pending" or job.attempt_count < job.max_attempts:
            return
        dead = conn.execute(
            sa.update(jobstore.generation_job)
            .where(jobstore.generation_job.c.id == job_id, jobstore.generation_job.c.status == "pending")
            .values(
                status="dead",
                completed_at=sa.func.now(),
                updated_at=sa.func.now(),
                settlement=sa.case(
                    (jobstore.generation_job.c.settlement == "held", "release_pending"),
                    else_=jobstore.generation_job.c.settlement,
                ),
            )
            .returning(jobstore.generation_job.c.id)
        ).first()
        if dead is not None:
            jobstore.record_transition(
                conn, job_id, "pending", "dead", job.attempt_count, "no attempts left", self._worker_id
            )

    def _request(self, job: Any, started: float) -> ImageRequest:
        remaining = self._config.hard_timeout_s - (time.monotonic() - started)
        if remaining <= 1:
            raise ProviderError(ErrorClass.TIMEOUT, "the attempt ran out of time before the model call")
        return ImageRequest(
            model=job.model,
            prompt=job.prompt,
            aspect_ratio=job.settings.get("aspect_ratio", "1:1"),
            inspiration_images=tuple(job.inspiration_images or ()),
            request_id=f"{job.id}/{job.attempt_count}",
            timeout_s=min(self._config.provider_timeout_s, remaining),
        )

    def _stage(self, job: Any, owner: str, lease: _Lease, stage: Stage) -> None:
        """Between stages: stop if the job was cancelled or taken over; else record the stage, at most
        once a second. Within a second of the last write nothing is read either: the check only saves
        an upload, and the completion's compare-and-set is what keeps a cancelled job from completing
        (a lost job's object is removed). Real model calls take seconds, so they always check here."""
        if lease.lost.is_set():
            raise LostJob()
        if time.monotonic() - lease.progress_written < PROGRESS_INTERVAL_S:
            return
        with self._autocommit.connect() as conn:
            owned = jobstore.set_progress(conn, job.id, owner, stage.value, STAGE_PROGRESS[stage])
        lease.progress_written = time.monotonic()
        if not owned:
            raise LostJob()

    def _complete(self, job: Any, owner: str, image: Any, key: str, size: int, timings: dict[str, int]) -> str:
        usage = image.usage
        params = {
            "job_id": job.id,
            "owner": owner,
            "worker": self._worker_id,
            "asset_id": asset_id_for(job.id),
            "price_version": CURRENT_PRICES.version,
            # Tokens and cost add up over attempts: failed calls can be billed too.
            "prompt_tokens": usage.prompt_tokens,
            "candidate_tokens": usage.candidate_tokens,
            "total_tokens": usage.total_tokens,
            "cost": CURRENT_PRICES.estimate(job.model, usage),
            "object_key": key,
            "content_type": image.mime_type,
            "size_bytes": size,
            "width": image.width,
            "height": image.height,
            "provider_request_id": image.provider_request_id,
            "model_ms": timings.get("model_ms"),
            "upload_ms": timings.get("upload_ms"),
            "total_ms": timings.get("total_ms"),
        }
        self._checkpoint("before_commit")  # uploaded, not yet recorded
        with self._autocommit.connect() as conn:  # one statement: it commits, or nothing of it does
            if not jobstore.complete(conn, params):
                raise LostJob()
        ATTEMPTS.labels("completed", "").inc()
        JOBS_FINISHED.labels("completed").inc()
        return "completed"

    def _failed(
        self,
        job: Any,
        owner: str,
        error_class: ErrorClass,
        message: str,
        started: float,
        timings: dict[str, int],
        *,
        exc: ProviderError | None = None,
        stack: bool = False,
    ) -> str:
        retry_at = None
        if error_class.retryable and job.attempt_count < job.max_attempts:
            delay = self._config.retry.delay_s(job.attempt_count, exc.retry_after_s if exc else None)
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
        usage = exc.usage if exc else None
        with self._engine.begin() as conn:
            row = jobstore.fail(
                conn,
                job,
                expect_owner=owner,
                retry_at=retry_at,
                error_class=error_class.value,
                error_message=message,
                usage=usage,
            )
            if row is None:  # cancelled or taken over meanwhile: that state stands
                jobstore.finish_attempt(conn, job.id, job.attempt_count, outcome="cancelled", error_message=message)
                return "lost"
            outcome = "retryable_error" if error_class.retryable else "fatal_error"
            jobstore.finish_attempt(
                conn,
                job.id,
                job.attempt_count,
                outcome=outcome,
                error_class=error_class.value,
                error_message=message[:2000],
                error_stack=cap_text(traceback.format_exc(), MAX_STACK) if stack or exc is None else None,
                provider_request_id=exc.provider_request_id if exc else None,
                http_status=exc.http_status if exc else None,
                retry_after_s=exc.retry_after_s if exc else None,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                candidate_tokens=usage.candidate_tokens if usage else 0,
                total_tokens=usage.total_tokens if usage else 0,
                total_ms=_ms(started),
                **{k: v for k, v in timings.items() if k != "total_ms"},
            )
            reason = f"{error_class.value}: {message}"
            jobstore.record_transition(
                conn, job.id, "generating", row.status, job.attempt_count, reason, self._worker_id
            )
        ATTEMPTS.labels(outcome, error_class.value).inc()
        if row.status != "pending":
            JOBS_FINISHED.labels(row.status).inc()
        return row.status

    def _lost(self, job: Any, stored_key: str | None) -> str:
        """Stop quietly: record why on the attempt, and remove the object if the job was cancelled."""
        with self._engine.begin() as conn:
            current = jobstore.get_job(conn, job.id)
            cancelled = current is not None and current.status == "cancelled"
            jobstore.finish_attempt(
                conn,
                job.id,
                job.attempt_count,
                outcome="cancelled" if cancelled else "superseded",
                error_message="the job was cancelled" if cancelled else "another attempt took the job over",
            )
        if cancelled and stored_key is not None:
            try:
                self._storage.delete(stored_key)  # nothing refers to it: a cancelled job never has an asset
            except StorageError:
                log.warning("could not remove a cancelled job's object", extra={"job_id": job.id})
        if cancelled:
            self._settler.settle(job.id)
        ATTEMPTS.labels("cancelled" if cancelled else "superseded", "").inc()
        return "cancelled" if cancelled else "superseded"


def _ms(since: float) -> int:
    return int((time.monotonic() - since) * 1000)


def _extension(mime_type: str) -> str:
    return {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(mime_type, "png")
