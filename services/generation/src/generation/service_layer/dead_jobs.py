"""Dead jobs and their guarded bulk retry (blast-radius controls).

1. Preview: what a retry would touch (count, breakdown by error class and client, a sample, the
   estimated cost) and a signed token naming exactly that set, valid for ten minutes.
2. Retry: needs the token, the count the admin confirmed and a reason. The set is recomputed; if it
   differs from the preview's, nothing is enqueued. At most one bulk operation per client runs.
3. A pacer in the worker enqueues the operation's jobs at most N per client per minute, placing a
   fresh credit hold for each client job. If one can't be enqueued, the operation aborts there, so
   the enqueued count equals the confirmed count or the operation says it aborted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from generation.adapters import jobstore
from generation.adapters.credits import Credits
from generation.adapters.tables import bulk_client_lock, bulk_item, bulk_operation, generation_job
from generation.domain import errors
from generation.domain.pricing import CURRENT_PRICES
from generation.service_layer.commands import SOURCE, check_reason, job_state, require_admin
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor
from scenergy.common.ids import is_id, new_id

log = logging.getLogger(__name__)

ADMIN_KEY = "admin"  # the client key of admin-space jobs
SAMPLE_SIZE = 10


@dataclass(frozen=True)
class DeadFilter:
    client_id: str = ""  # "admin" for the admin space
    error_class: str = ""

    def check(self) -> DeadFilter:
        if self.client_id and self.client_id != ADMIN_KEY and not is_id(self.client_id, "cli"):
            raise errors.InvalidArgument("client_id is malformed: expected a cli_ id or admin")
        if self.error_class and (len(self.error_class) > 40 or not self.error_class.replace("_", "").isalpha()):
            raise errors.InvalidArgument("error_class is malformed")
        return self

    def where(self) -> list[Any]:
        j = generation_job.c
        clauses: list[Any] = [j.status == "dead"]
        if self.client_id == ADMIN_KEY:
            clauses.append(j.client_id.is_(None))
        elif self.client_id:
            clauses.append(j.client_id == self.client_id)
        if self.error_class:
            clauses.append(j.error_class == self.error_class)
        return clauses


@dataclass(frozen=True)
class Preview:
    count: int
    by_error_class: list[tuple[str, int]]
    by_client: list[tuple[str, int]]
    sample: list[Any]
    estimated_cost_usd: Decimal
    estimated_credits: int
    token: str
    expires_at: datetime
    rate_per_minute: int


def _fingerprint(job_ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(job_ids)).encode()).hexdigest()


class DeadJobs:
    def __init__(
        self,
        engine: Engine,
        credits: Credits,
        *,
        signing_key: str,
        preview_ttl_s: int,
        rate_per_minute: int,
        hold_ttl_s: int,
        max_attempts: int,
        pace_window_s: float = 60.0,
    ) -> None:
        self._max_attempts = max_attempts
        self._engine = engine
        self._credits = credits
        self._signer = URLSafeTimedSerializer(signing_key, salt="generation.dead-retry-preview")
        self._preview_ttl_s = preview_ttl_s
        self._rate = rate_per_minute
        self._hold_ttl_s = hold_ttl_s
        self._window_s = pace_window_s

    def _matching(self, conn: sa.Connection, flt: DeadFilter) -> list[Any]:
        j = generation_job.c
        return list(
            conn.execute(
                sa.select(j.id, j.client_id, j.error_class, j.model, j.credits_reserved, j.is_admin)
                .where(*flt.where())
                .order_by(j.created_at, j.id)
            ).all()
        )

    def preview(self, flt: DeadFilter, actor: Actor | None) -> Preview:
        admin = require_admin(actor, "retry dead jobs")
        flt.check()
        with self._engine.connect() as conn:
            rows = self._matching(conn, flt)
            sample_ids = [r.id for r in rows[:SAMPLE_SIZE]]
            sample = list(conn.execute(sa.select(generation_job).where(generation_job.c.id.in_(sample_ids))).all())
        by_class: dict[str, int] = {}
        by_client: dict[str, int] = {}
        cost = Decimal("0")
        credits = 0
        for row in rows:
            by_class[row.error_class or "unknown"] = by_class.get(row.error_class or "unknown", 0) + 1
            client = row.client_id or ADMIN_KEY
            by_client[client] = by_client.get(client, 0) + 1
            cost += CURRENT_PRICES.typical(row.model)
            if not row.is_admin:
                credits += row.credits_reserved
        expires_at = datetime.now(UTC) + timedelta(seconds=self._preview_ttl_s)
        token = self._signer.dumps(
            {
                "client_id": flt.client_id,
                "error_class": flt.error_class,
                "count": len(rows),
                "fingerprint": _fingerprint([r.id for r in rows]),
                "by": admin.id,
            }
        )
        sample.sort(key=lambda r: sample_ids.index(r.id))
        return Preview(
            count=len(rows),
            by_error_class=sorted(by_class.items(), key=lambda kv: (-kv[1], kv[0])),
            by_client=sorted(by_client.items(), key=lambda kv: (-kv[1], kv[0])),
            sample=sample,
            estimated_cost_usd=cost,
            estimated_credits=credits,
            token=token,
            expires_at=expires_at,
            rate_per_minute=self._rate,
        )

    def retry(self, token: str, confirmed_count: int, reason: str, idempotency_key: str, actor: Actor | None) -> Any:
        admin = require_admin(actor, "retry dead jobs")
        reason = check_reason(reason, required=True)
        if idempotency_key and (existing := self._existing(admin.id, idempotency_key)) is not None:
            return existing  # a retried request answers with what the first one did, even after the token expired
        if not token or len(token) > 4096:
            raise errors.InvalidArgument("preview_token is required")
        try:
            claims = self._signer.loads(token, max_age=self._preview_ttl_s)
        except SignatureExpired:
            raise errors.PreviewExpired("the preview has expired; preview again") from None
        except BadSignature:
            raise errors.InvalidArgument("preview_token is not valid") from None
        if claims.get("by") != admin.id:
            raise errors.InvalidArgument("preview_token belongs to another admin")
        if confirmed_count != claims["count"]:
            raise errors.InvalidArgument(
                f"confirmed_count {confirmed_count} does not match the preview's {claims['count']}"
            )
        if claims["count"] == 0:
            raise errors.InvalidArgument("there is nothing to retry")
        flt = DeadFilter(claims["client_id"], claims["error_class"])
        try:
            return self._start(flt, claims, confirmed_count, reason, idempotency_key, admin)
        except IntegrityError:
            # The same key raced us and won; answer with its operation.
            if idempotency_key and (existing := self._existing(admin.id, idempotency_key)) is not None:
                return existing
            raise

    def _start(
        self, flt: DeadFilter, claims: dict[str, Any], confirmed_count: int, reason: str, key: str, admin: Actor
    ) -> Any:
        idempotency_key = key
        operation_id = new_id("bop")
        with self._engine.begin() as conn:
            # Lock the dead jobs of the filter, so the set can't change between the check and the insert.
            rows = list(
                conn.execute(
                    sa.select(generation_job.c.id, generation_job.c.client_id).where(*flt.where()).with_for_update()
                ).all()
            )
            if len(rows) != claims["count"] or _fingerprint([r.id for r in rows]) != claims["fingerprint"]:
                raise errors.SetChanged(
                    f"the dead jobs changed since the preview ({len(rows)} now, {claims['count']} previewed); "
                    "nothing was retried: preview again"
                )
            conn.execute(
                bulk_operation.insert().values(
                    id=operation_id,
                    kind="dead_retry",
                    status="running",
                    reason=reason,
                    requested_by=admin.id,
                    filter={"client_id": flt.client_id or None, "error_class": flt.error_class or None},
                    confirmed_count=confirmed_count,
                    total_count=len(rows),
                    rate_per_minute=self._rate,
                    idempotency_key=idempotency_key or None,
                )
            )
            clients = sorted({r.client_id or ADMIN_KEY for r in rows})
            locked = conn.execute(
                pg_insert(bulk_client_lock)
                .values([{"client_key": c, "operation_id": operation_id} for c in clients])
                .on_conflict_do_nothing()
                .returning(bulk_client_lock.c.client_key)
            ).all()
            if len(locked) != len(clients):
                raise errors.Busy("another bulk operation is running for some of these clients; wait for it to end")
            conn.execute(
                bulk_item.insert(),
                [{"operation_id": operation_id, "job_id": r.id, "client_key": r.client_id or ADMIN_KEY} for r in rows],
            )
            op = conn.execute(sa.select(bulk_operation).where(bulk_operation.c.id == operation_id)).one()
            data = {
                "previous": None,
                "new": {"status": "running", "total_count": len(rows)},
                "reason": reason,
                "filter": op.filter,
                "confirmed_count": confirmed_count,
            }
            envelope = make_envelope(
                type="generation.bulk_operation.retry_dead",
                source=SOURCE,
                entity_type="bulk_operation",
                entity_id=operation_id,
                data=data,
                actor=admin,
            )
            jobstore.add_event(conn, envelope)
        return op

    def _existing(self, requested_by: str, key: str) -> Any:
        b = bulk_operation.c
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(bulk_operation).where(b.requested_by == requested_by, b.idempotency_key == key)
            ).first()

    # -- the pacer (generation-worker) -----------------------------------------------------------------

    def pace(self) -> int:
        """Enqueue what the per-client limit allows now, for every running operation; returns how many."""
        with self._engine.connect() as conn:
            running = conn.execute(
                sa.select(bulk_operation.c.id).where(bulk_operation.c.status == "running").order_by("created_at")
            ).scalars()
            operation_ids = list(running)
        return sum(self._pace_operation(op_id) for op_id in operation_ids)

    def _pace_operation(self, operation_id: str) -> int:
        enqueued = 0
        i = bulk_item.c
        with self._engine.begin() as conn:
            op = conn.execute(
                sa.select(bulk_operation).where(bulk_operation.c.id == operation_id).with_for_update(skip_locked=True)
            ).first()
            if op is None or op.status != "running":
                return 0
            since = datetime.now(UTC) - timedelta(seconds=self._window_s)
            waiting_clients = conn.execute(
                sa.select(i.client_key, sa.func.count())
                .where(i.operation_id == operation_id, i.status == "waiting")
                .group_by(i.client_key)
            ).all()
            if not waiting_clients:
                self._finish(conn, op, "completed", None)
                return 0
            for client_key, _count in waiting_clients:
                used = conn.execute(
                    sa.select(sa.func.count()).where(
                        i.client_key == client_key, i.status == "enqueued", i.done_at > since
                    )
                ).scalar_one()
                allowed = max(op.rate_per_minute - used, 0)
                if not allowed:
                    continue
                items = conn.execute(
                    sa.select(i.job_id)
                    .where(i.operation_id == operation_id, i.client_key == client_key, i.status == "waiting")
                    .order_by(i.job_id)
                    .limit(allowed)
                ).scalars()
                for job_id in list(items):
                    error = self._requeue(conn, op, job_id)
                    if error is not None:
                        self._finish(conn, op, "aborted", error)
                        return enqueued
                    enqueued += 1
        return enqueued

    def _requeue(self, conn: sa.Connection, op: Any, job_id: str) -> str | None:
        """dead → pending with fresh attempts (and a fresh hold for a client job); the error, if it can't."""
        job = jobstore.lock_job(conn, job_id)
        if job is None or job.status != "dead":
            return f"job {job_id} is no longer dead ({job.status if job else 'missing'})"
        hold_id, reserved = None, 0
        if not job.is_admin and job.credits_reserved > 0 and job.client_id:
            try:
                hold = self._credits.reserve(
                    client_id=job.client_id,
                    amount=job.credits_reserved,
                    ttl_s=self._hold_ttl_s,
                    job_id=job_id,
                    key=f"hold-{job_id}-{op.id}",
                )
            except Exception as exc:
                return f"could not hold credits for {job_id}: {exc}"
            hold_id, reserved = hold.hold_id, hold.amount
        j = generation_job.c
        conn.execute(
            generation_job.update()
            .where(j.id == job_id)
            .values(
                status="pending",
                stage="queued",
                progress=0,
                max_attempts=j.attempt_count + self._max_attempts,  # a fresh set of attempts
                available_at=sa.func.now(),
                completed_at=None,
                hold_id=hold_id if hold_id else j.hold_id,
                credits_reserved=reserved if hold_id else j.credits_reserved,
                settlement="held" if hold_id else j.settlement,
                bulk_operation_id=op.id,
                updated_at=sa.func.now(),
            )
        )
        jobstore.record_transition(conn, job_id, "dead", "pending", job.attempt_count, op.reason, op.requested_by)
        jobstore.dispatch(conn, job_id)
        conn.execute(
            bulk_item.update()
            .where(bulk_item.c.operation_id == op.id, bulk_item.c.job_id == job_id)
            .values(status="enqueued", done_at=sa.func.now())
        )
        conn.execute(
            bulk_operation.update()
            .where(bulk_operation.c.id == op.id)
            .values(enqueued_count=bulk_operation.c.enqueued_count + 1)
        )
        return None

    def _finish(self, conn: sa.Connection, op: Any, status: str, error: str | None) -> None:
        op = conn.execute(sa.select(bulk_operation).where(bulk_operation.c.id == op.id)).one()
        skipped = conn.execute(
            bulk_item.update()
            .where(bulk_item.c.operation_id == op.id, bulk_item.c.status == "waiting")
            .values(status="skipped", done_at=sa.func.now())
        ).rowcount
        conn.execute(
            bulk_operation.update()
            .where(bulk_operation.c.id == op.id)
            .values(status=status, error_message=error, finished_at=sa.func.now(), skipped_count=skipped or 0)
        )
        conn.execute(bulk_client_lock.delete().where(bulk_client_lock.c.operation_id == op.id))
        if status == "aborted":
            log.warning("bulk operation aborted", extra={"operation_id": op.id, "error": error})
        envelope = make_envelope(
            type=f"generation.bulk_operation.{'complete' if status == 'completed' else 'abort'}",
            source=SOURCE,
            entity_type="bulk_operation",
            entity_id=op.id,
            data={
                "previous": {"status": "running"},
                "new": {"status": status, "enqueued_count": op.enqueued_count, "error": error},
            },
            actor=Actor.system(SOURCE),
        )
        jobstore.add_event(conn, envelope)


__all__ = ["DeadFilter", "DeadJobs", "Preview", "job_state"]
