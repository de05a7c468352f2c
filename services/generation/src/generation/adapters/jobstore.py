"""SQL for the job lifecycle. Every status change is a compare-and-set that writes a transition row.

A compare-and-set names the state it expects (and, for a running job, the lease owner), so of two
racing writers exactly one wins: a cancel and a completion, a reaper and a late worker, two workers
holding the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from generation.adapters.queue import RUN_ROUTING_KEY, job_message
from generation.adapters.tables import generation_job, job_attempt, job_transition, outbox
from generation.domain.ports import ErrorClass, Usage
from generation.domain.pricing import CURRENT_PRICES
from scenergy.common.ids import new_id
from scenergy.common.outbox import outbox_row

JOBS_CHANNEL = "generation_job_dispatch"  # NOTIFY channel the job relay listens on


@dataclass(frozen=True)
class Claimed:
    """A job this worker now runs, with its lease."""

    job: sa.Row[Any]
    owner: str
    attempt: int


def record_transition(
    conn: Connection, job_id: str, from_status: str | None, to_status: str, attempt: int, reason: str, actor: str
) -> None:
    conn.execute(
        job_transition.insert().values(
            job_id=job_id,
            from_status=from_status,
            to_status=to_status,
            attempt=attempt,
            reason=reason[:2000],
            actor=actor,
        )
    )


DISPATCH_SQL = (
    sa.text(
        "WITH queued AS (INSERT INTO job_outbox (event_id, routing_key, payload) VALUES (:event_id, :routing_key, :payload)) "
        "SELECT pg_notify(:channel, '')"
    )
    .bindparams(sa.bindparam("payload", type_=JSONB))
    .columns(sa.column("pg_notify"))
)


def dispatch(conn: Connection, job_id: str, *, mark: bool = True) -> None:
    """Queue a run message for the job through the job outbox, and wake the relay at commit.
    `mark=False` when the caller wrote `dispatched_at` itself (a submit inserts it with the job)."""
    dispatch_id = new_id("dsp")
    conn.execute(
        DISPATCH_SQL,
        {
            "event_id": dispatch_id,
            "routing_key": RUN_ROUTING_KEY,
            "payload": job_message(job_id, dispatch_id),
            "channel": JOBS_CHANNEL,
        },
    )
    if mark:
        conn.execute(generation_job.update().where(generation_job.c.id == job_id).values(dispatched_at=sa.func.now()))


# Statements written as text name their result columns (`.columns`): SQLAlchemy then builds the
# result's metadata once per statement instead of at every execution, which on the hot path cost
# more CPU than the statements themselves. The columns are matched by position, so the SELECT lists
# them explicitly, in the same order.
_JOB_COLUMNS = ", ".join(f"job.{column.name}" for column in generation_job.c)

# A submit in one statement: the job, its first transition, its run message (and the relay woken at
# commit), and the admin's audit event when there is one.
INSERT_JOB_SQL = (
    sa.text(
        f"""
    WITH job AS (
        INSERT INTO generation_job (id, client_id, is_admin, flow_id, products, settings, instructions,
                                    inspiration_images, prompt, model, status, max_attempts, hold_id,
                                    credits_reserved, settlement, regenerated_from, submitted_by,
                                    submitted_by_type, idempotency_key, request_hash, request_id, dispatched_at)
        VALUES (:id, :client_id, :is_admin, :flow_id, :products, :settings, :instructions, :inspiration_images,
                :prompt, :model, 'pending', :max_attempts, :hold_id, :credits_reserved, :settlement,
                :regenerated_from, :submitted_by, :submitted_by_type, :idempotency_key, :request_hash,
                :request_id, now())
        RETURNING *
    ), moved AS (
        INSERT INTO job_transition (job_id, from_status, to_status, attempt, reason, actor)
        SELECT id, NULL, 'pending', 0, 'submitted', submitted_by FROM job
    ), queued AS (
        INSERT INTO job_outbox (event_id, routing_key, payload)
        SELECT :dispatch_id, :run_key, :message FROM job
    ), audited AS (
        INSERT INTO outbox (event_id, routing_key, payload)
        SELECT :event_id, :event_type, :event FROM job WHERE CAST(:event_id AS text) IS NOT NULL
    )
    SELECT {_JOB_COLUMNS}, pg_notify(:channel, '') FROM job
    """
    )
    .bindparams(
        *(
            sa.bindparam(name, type_=JSONB)
            for name in ("products", "settings", "inspiration_images", "message", "event")
        )
    )
    .columns(*(sa.column(column.name, column.type) for column in generation_job.c), sa.column("pg_notify"))
)


def insert_job(conn: Connection, values: dict[str, Any], event: dict[str, Any] | None) -> sa.Row[Any]:
    dispatch_id = new_id("dsp")
    params = {
        **values,
        "dispatch_id": dispatch_id,
        "run_key": RUN_ROUTING_KEY,
        "message": job_message(values["id"], dispatch_id),
        "event_id": event["id"] if event else None,
        "event_type": event["type"] if event else None,
        "event": event,
        "channel": JOBS_CHANNEL,
    }
    return conn.execute(INSERT_JOB_SQL, params).one()


def add_event(conn: Connection, envelope: dict[str, Any]) -> None:
    conn.execute(outbox.insert().values(**outbox_row(envelope)))


def lock_job(conn: Connection, job_id: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(generation_job).where(generation_job.c.id == job_id).with_for_update()).first()


def get_job(conn: Connection, job_id: str) -> sa.Row[Any] | None:
    return conn.execute(sa.select(generation_job).where(generation_job.c.id == job_id)).first()


# The claim and the completion find the job by its key alone. Their state checks sit inside a CASE,
# which the planner does not match against indexes: written plainly, `status = 'pending'` let it pick
# the partial queue indexes and walk every pending job whenever the table's statistics were stale
# (a fresh table, a burst of submits), a cost that grew with the backlog.

# The claim, its attempt row and its transition in one statement: one round trip for the hot path.
# It returns only what an attempt reads: each column returned costs the caller result metadata.
_CLAIMED = (
    "id",
    "client_id",
    "hold_id",
    "model",
    "prompt",
    "settings",
    "inspiration_images",
    "attempt_count",
    "max_attempts",
)
CLAIM_SQL = sa.text(
    f"""
    WITH claimed AS (
        UPDATE generation_job
           SET status = 'generating', attempt_count = attempt_count + 1, lease_owner = :owner,
               lease_expires_at = now() + make_interval(secs => :lease_s),
               started_at = coalesce(started_at, now()), stage = 'calling_model', progress = 10,
               progress_at = now(), updated_at = now()
         WHERE id = :job_id AND CASE WHEN status = 'pending' AND available_at <= now() + interval '1 second'
                                         AND attempt_count < max_attempts THEN true ELSE false END
     RETURNING {", ".join(_CLAIMED)},
               greatest(0, (extract(epoch FROM now() - greatest(available_at, created_at)) * 1000))::bigint
                  AS queue_ms
    ), attempt AS (
        INSERT INTO job_attempt (job_id, number, worker_id, outcome, queue_ms)
        SELECT id, attempt_count, :worker, 'running', queue_ms FROM claimed
    ), moved AS (
        INSERT INTO job_transition (job_id, from_status, to_status, attempt, reason, actor)
        SELECT id, 'pending', 'generating', attempt_count, '', :worker FROM claimed
    )
    SELECT {", ".join(_CLAIMED)}, queue_ms FROM claimed
    """
).columns(*(sa.column(name, generation_job.c[name].type) for name in _CLAIMED), sa.column("queue_ms", sa.BigInteger))


def claim(conn: Connection, job_id: str, owner: str, lease_s: float, worker_id: str) -> sa.Row[Any] | None:
    """pending → generating for this owner, when the job is due and has attempts left; with its attempt row.
    The stage is `calling_model` at once: the model call is what the claim is for."""
    params = {"job_id": job_id, "owner": owner, "lease_s": lease_s, "worker": worker_id}
    return conn.execute(CLAIM_SQL, params).first()


# Completion, the asset, the attempt's close and the transition in one statement. The compare-and-set
# is the first CTE; the others only insert what it returned, so a lost job writes nothing.
COMPLETE_SQL = sa.text(
    """
    WITH done AS (
        UPDATE generation_job
           SET status = 'completed', stage = 'finalizing', progress = 100, progress_at = now(),
               completed_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL,
               error_class = NULL, error_message = NULL,
               settlement = CASE WHEN hold_id IS NULL THEN 'none' ELSE 'capture_pending' END,
               asset_id = :asset_id, price_version = :price_version,
               prompt_tokens = prompt_tokens + :prompt_tokens, candidate_tokens = candidate_tokens + :candidate_tokens,
               total_tokens = total_tokens + :total_tokens, estimated_cost_usd = estimated_cost_usd + :cost
         WHERE id = :job_id AND CASE WHEN lease_owner = :owner AND status = 'generating' THEN true ELSE false END
     RETURNING id, client_id, model, attempt_count, products
    ), asset AS (
        INSERT INTO generated_asset (id, job_id, client_id, is_admin_generated, gallery_client_id, object_key,
                                     content_type, size_bytes, width, height, model, product_names, had_errors)
        SELECT :asset_id, id, client_id, client_id IS NULL, client_id, :object_key, :content_type, :size_bytes,
               :width, :height, model, coalesce((SELECT jsonb_agg(p -> 'name') FROM jsonb_array_elements(products) p),
               '[]'::jsonb), attempt_count > 1
          FROM done
    ), attempt AS (
        UPDATE job_attempt
           SET outcome = 'completed', finished_at = now(), provider_request_id = :provider_request_id,
               prompt_tokens = :prompt_tokens, candidate_tokens = :candidate_tokens, total_tokens = :total_tokens,
               model_ms = :model_ms, upload_ms = :upload_ms, total_ms = :total_ms
          FROM done
         WHERE job_attempt.job_id = done.id AND job_attempt.number = done.attempt_count
           AND job_attempt.outcome = 'running'
    ), moved AS (
        INSERT INTO job_transition (job_id, from_status, to_status, attempt, reason, actor)
        SELECT id, 'generating', 'completed', attempt_count, '', :worker FROM done
    )
    SELECT id FROM done
    """
).columns(sa.column("id", sa.Text))


def complete(conn: Connection, params: dict[str, Any]) -> bool:
    """generating → completed with its asset, if the job is still this owner's; False when it is not."""
    return conn.execute(COMPLETE_SQL, params).first() is not None


def finish_attempt(conn: Connection, job_id: str, number: int, **values: Any) -> None:
    """Close a running attempt; an attempt already closed (by the reaper, say) keeps its outcome."""
    conn.execute(
        job_attempt.update()
        .where(job_attempt.c.job_id == job_id, job_attempt.c.number == number, job_attempt.c.outcome == "running")
        .values(finished_at=sa.func.now(), **values)
    )


def renew_lease(conn: Connection, job_id: str, owner: str, lease_s: float) -> bool:
    j = generation_job.c
    row = conn.execute(
        generation_job.update()
        .where(j.id == job_id, j.lease_owner == owner, j.status == "generating")
        .values(lease_expires_at=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lease_s))
        .returning(j.id)
    ).first()
    return row is not None


def set_progress(conn: Connection, job_id: str, owner: str, stage: str, progress: int) -> bool:
    """Record the stage; False when the job is no longer this owner's (cancelled or reaped)."""
    j = generation_job.c
    row = conn.execute(
        generation_job.update()
        .where(j.id == job_id, j.lease_owner == owner, j.status == "generating")
        .values(stage=stage, progress=progress, progress_at=sa.func.now())
        .returning(j.id)
    ).first()
    return row is not None


def fail(
    conn: Connection,
    job: sa.Row[Any],
    *,
    expect_owner: str | None,
    retry_at: datetime | None,
    error_class: str,
    error_message: str,
    usage: Usage | None = None,
) -> sa.Row[Any] | None:
    """generating → pending (a retry at `retry_at`), dead (no attempts left) or error (not retryable)."""
    j = generation_job.c
    condition = [j.id == job.id, j.status == "generating"]
    if expect_owner is not None:
        condition.append(j.lease_owner == expect_owner)
    else:  # the reaper: only a lease that has run out
        condition.append(j.lease_expires_at < sa.func.now())
    common: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": sa.func.now(),
        "error_class": error_class,
        "error_message": error_message[:2000],
    }
    if usage is not None and usage.total_tokens:  # a refused or failed call can be billed too
        common.update(
            prompt_tokens=j.prompt_tokens + usage.prompt_tokens,
            candidate_tokens=j.candidate_tokens + usage.candidate_tokens,
            total_tokens=j.total_tokens + usage.total_tokens,
            estimated_cost_usd=j.estimated_cost_usd + CURRENT_PRICES.estimate(job.model, usage),
            price_version=CURRENT_PRICES.version,
        )
    if retry_at is not None:
        values = {**common, "status": "pending", "stage": "queued", "progress": 0, "available_at": retry_at}
        values["dispatched_at"] = None  # the scheduler sends it when due
    else:
        final = "dead" if ErrorClass(error_class).retryable else "error"
        values = {
            **common,
            "status": final,
            "completed_at": sa.func.now(),
            "settlement": sa.case((j.settlement == "held", "release_pending"), else_=j.settlement),
        }
    return conn.execute(generation_job.update().where(*condition).values(**values).returning(generation_job)).first()
