"""Read-side queries: the job debugger, the active-jobs poll, the asset browser, the figures."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from generation.adapters.tables import (
    bulk_operation,
    generated_asset,
    generation_job,
    job_attempt,
    job_transition,
)
from generation.domain import errors
from scenergy.common.ids import is_id
from scenergy.common.keyset import Page, TimeKeyset

ACTIVE_LIMIT = 200
VIEWS = {
    "all": None,
    "active": ("pending", "generating"),
    "completed": ("completed",),
    "failed": ("error", "dead", "cancelled"),
}
STATUSES = ("pending", "generating", "completed", "error", "cancelled", "dead")


@dataclass(frozen=True)
class JobFilter:
    view: str = "all"
    client_id: str = ""  # "admin": the admin space
    status: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None

    def where(self) -> list[Any]:
        j = generation_job.c
        if self.view not in VIEWS:
            raise errors.InvalidArgument(f"view must be one of {', '.join(VIEWS)}")
        clauses: list[Any] = []
        statuses = VIEWS[self.view]
        if statuses:
            clauses.append(j.status.in_(statuses))
        if self.status:
            if self.status not in STATUSES:
                raise errors.InvalidArgument(f"status must be one of {', '.join(STATUSES)}")
            clauses.append(j.status == self.status)
        if self.client_id == "admin":
            clauses.append(j.client_id.is_(None))
        elif self.client_id:
            if not is_id(self.client_id, "cli"):
                raise errors.InvalidArgument("client_id is malformed: expected a cli_ id or admin")
            clauses.append(j.client_id == self.client_id)
        if self.created_from:
            clauses.append(j.created_at >= self.created_from)
        if self.created_to:
            clauses.append(j.created_at < self.created_to)
        return clauses


@dataclass(frozen=True)
class AssetFilter:
    client_id: str = ""
    created_from: datetime | None = None
    created_to: datetime | None = None
    approval_status: str = ""
    admin_generated: int = 0  # 0 any, 1 only, 2 none
    has_errors: int = 0  # 0 any, 1 yes, 2 no
    include_deleted: bool = False

    def where(self) -> list[Any]:
        a = generated_asset.c
        clauses: list[Any] = []
        if not self.include_deleted:
            clauses.append(a.deleted_at.is_(None))
        if self.client_id:
            if not is_id(self.client_id, "cli"):
                raise errors.InvalidArgument("client_id is malformed: expected a cli_ id")
            clauses.append(a.gallery_client_id == self.client_id)
        if self.created_from:
            clauses.append(a.created_at >= self.created_from)
        if self.created_to:
            clauses.append(a.created_at < self.created_to)
        if self.approval_status:
            if self.approval_status not in ("pending", "approved", "rejected"):
                raise errors.InvalidArgument("approval_status must be pending, approved or rejected")
            clauses.append(a.approval_status == self.approval_status)
        if self.admin_generated not in (0, 1, 2) or self.has_errors not in (0, 1, 2):
            raise errors.InvalidArgument("admin_generated and has_errors take 0 (any), 1 (yes) or 2 (no)")
        if self.admin_generated:
            clauses.append(a.is_admin_generated.is_(self.admin_generated == 1))
        if self.has_errors:
            clauses.append(a.had_errors.is_(self.has_errors == 1))
        return clauses


class GenerationViews:
    def __init__(
        self, engine: Engine, *, provider_name: str, stats_ttl_s: float = 5.0, active_ttl_s: float = 0.5
    ) -> None:
        self._engine = engine
        self._active_ttl_s = active_ttl_s  # how stale a "not modified" answer to the 2-second poll may be
        # Per client filter: (when, etag, generating, pending, the listed rows once someone needed them).
        self._active_cache: dict[str, tuple[float, str, int, int, list[Any] | None]] = {}
        self._provider_name = provider_name
        self._stats_ttl_s = stats_ttl_s
        self._stats_cache: tuple[float, dict[str, Any]] | None = None

    # -- jobs --------------------------------------------------------------------------------------

    def job(self, job_id: str) -> tuple[Any, list[Any], list[Any], Any]:
        j = generation_job.c
        with self._engine.connect() as conn:
            job = conn.execute(sa.select(generation_job).where(j.id == job_id)).first()
            if job is None:
                raise errors.NotFound("job", job_id)
            attempts = conn.execute(
                sa.select(job_attempt).where(job_attempt.c.job_id == job_id).order_by(job_attempt.c.number)
            ).all()
            transitions = conn.execute(
                sa.select(job_transition).where(job_transition.c.job_id == job_id).order_by(job_transition.c.id)
            ).all()
            asset = None
            if job.asset_id:
                asset = conn.execute(sa.select(generated_asset).where(generated_asset.c.id == job.asset_id)).first()
        return job, list(attempts), list(transitions), asset

    def jobs(self, flt: JobFilter, *, limit: int, cursor: str, include_total: bool) -> Page:
        keys = TimeKeyset(limit, cursor)
        j = generation_job.c
        where = flt.where()
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(generation_job)
                .where(*where, *keys.after(j.created_at, j.id))
                .order_by(j.created_at.desc(), j.id.desc())
                .limit(keys.size + 1)
            ).all()
            total = _count(conn, generation_job, where) if include_total else None
        return keys.page(rows, "created_at", total)

    def dead_jobs(self, client_id: str, error_class: str, *, limit: int, cursor: str) -> Page:
        from generation.service_layer.dead_jobs import DeadFilter

        keys = TimeKeyset(limit, cursor)
        j = generation_job.c
        where = DeadFilter(client_id, error_class).check().where()
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(generation_job)
                .where(*where, *keys.after(j.created_at, j.id))
                .order_by(j.created_at.desc(), j.id.desc())
                .limit(keys.size + 1)
            ).all()
            total = _count(conn, generation_job, where)
        return keys.page(rows, "created_at", total)

    def active(self, client_id: str = "", if_none_match: str = "") -> tuple[list[Any] | None, str, int, int]:
        """Generating first, then pending oldest first; None instead of rows when the caller's etag is current.

        The etag comes from narrow rows read straight off the active-jobs index (each status in its
        order, with a limit: no sort of a large backlog); the full rows are read only when it changed,
        so the 2-second poll of an unchanged list costs three small index reads.
        """
        j = generation_job.c
        where: list[Any] = []
        if client_id:
            if not is_id(client_id, "cli"):
                raise errors.InvalidArgument("client_id is malformed: expected a cli_ id")
            where.append(j.client_id == client_id)
        narrow = (j.id, j.status, j.stage, j.progress, j.attempt_count)
        cached = self._active_cache.get(client_id)
        if cached is not None and time.monotonic() - cached[0] < self._active_ttl_s:
            # Every open dashboard polls every 2 s: within the TTL the list costs no query, whether the
            # caller has it already (its etag) or needs it (a new screen, a changed list).
            _fetched, etag, generating, pending, rows = cached
            if if_none_match == etag:
                return None, etag, generating, pending
            if rows is not None:
                return rows, etag, generating, pending
        with self._engine.connect() as conn:
            shown = list(
                conn.execute(
                    sa.select(*narrow)
                    .where(j.status == "generating", *where)
                    .order_by(j.created_at, j.id)
                    .limit(ACTIVE_LIMIT)
                ).all()
            )
            if len(shown) < ACTIVE_LIMIT:
                shown += conn.execute(
                    sa.select(*narrow)
                    .where(j.status == "pending", *where)
                    .order_by(j.created_at, j.id)
                    .limit(ACTIVE_LIMIT - len(shown))
                ).all()
            counts: dict[str, int] = dict(
                conn.execute(
                    sa.select(j.status, sa.func.count())
                    .where(j.status.in_(("pending", "generating")), *where)
                    .group_by(j.status)
                ).all()
            )
            digest = hashlib.sha256()
            for row in shown:
                digest.update(f"{row.id}|{row.status}|{row.stage}|{row.progress}|{row.attempt_count}\n".encode())
            digest.update(repr(sorted(counts.items())).encode())  # GROUP BY returns the groups in no set order
            etag = digest.hexdigest()[:32]
            generating, pending = int(counts.get("generating", 0)), int(counts.get("pending", 0))
            if len(self._active_cache) > 1000:
                self._active_cache.clear()
            now = time.monotonic()
            if if_none_match and if_none_match == etag:
                self._active_cache[client_id] = (now, etag, generating, pending, None)
                return None, etag, generating, pending
            order = {row.id: n for n, row in enumerate(shown)}
            full = conn.execute(sa.select(generation_job).where(j.id.in_(list(order)))).all() if order else []
        rows = sorted(full, key=lambda row: order[row.id])
        self._active_cache[client_id] = (now, etag, generating, pending, rows)
        return rows, etag, generating, pending

    def bulk_operation(self, operation_id: str) -> Any:
        with self._engine.connect() as conn:
            op = conn.execute(sa.select(bulk_operation).where(bulk_operation.c.id == operation_id)).first()
        if op is None:
            raise errors.NotFound("bulk operation", operation_id)
        return op

    def bulk_operations(self, *, limit: int, cursor: str) -> Page:
        keys = TimeKeyset(limit, cursor)
        b = bulk_operation.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(bulk_operation)
                .where(*keys.after(b.created_at, b.id))
                .order_by(b.created_at.desc(), b.id.desc())
                .limit(keys.size + 1)
            ).all()
        return keys.page(rows, "created_at", None)

    # -- assets ------------------------------------------------------------------------------------

    def assets(self, flt: AssetFilter, *, limit: int, cursor: str, include_total: bool) -> Page:
        keys = TimeKeyset(limit, cursor)
        a = generated_asset.c
        where = flt.where()
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(generated_asset)
                .where(*where, *keys.after(a.created_at, a.id))
                .order_by(a.created_at.desc(), a.id.desc())
                .limit(keys.size + 1)
            ).all()
            total = _count(conn, generated_asset, where) if include_total else None
        return keys.page(rows, "created_at", total)

    def asset(self, asset_id: str) -> tuple[Any, Any]:
        with self._engine.connect() as conn:
            asset = conn.execute(sa.select(generated_asset).where(generated_asset.c.id == asset_id)).first()
            if asset is None:
                raise errors.NotFound("asset", asset_id)
            job = conn.execute(sa.select(generation_job).where(generation_job.c.id == asset.job_id)).one()
        return asset, job

    # -- figures -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """The dashboard's figures; cached a few seconds, since every open dashboard asks."""
        cached = self._stats_cache
        if cached is not None and time.monotonic() - cached[0] < self._stats_ttl_s:
            return cached[1]
        j, a = generation_job.c, generated_asset.c
        now = datetime.now(UTC)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        week = day - timedelta(days=day.weekday())
        month = day.replace(day=1)
        since_24h = now - timedelta(hours=24)
        with self._engine.connect() as conn:
            active: dict[str, int] = dict(
                conn.execute(
                    sa.select(j.status, sa.func.count())
                    .where(j.status.in_(("pending", "generating")))
                    .group_by(j.status)
                ).all()
            )
            oldest_pending = conn.execute(
                sa.select(sa.func.min(j.available_at)).where(j.status == "pending", j.available_at <= sa.func.now())
            ).scalar_one()
            finished: dict[str, int] = dict(
                conn.execute(
                    sa.select(j.status, sa.func.count())
                    .where(j.completed_at >= since_24h, j.status.in_(("completed", "error", "dead")))
                    .group_by(j.status)
                ).all()
            )
            made = conn.execute(
                sa.select(
                    sa.func.count().filter(a.created_at >= day),
                    sa.func.count().filter(a.created_at >= week),
                    sa.func.count(),
                ).where(a.created_at >= min(week, month))
            ).one()
            top = conn.execute(
                sa.select(a.client_id, sa.func.count().label("n"))
                .where(a.created_at >= now - timedelta(days=30), a.client_id.is_not(None))
                .group_by(a.client_id)
                .order_by(sa.desc("n"), a.client_id)
                .limit(5)
            ).all()
            storage = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(a.size_bytes), 0)).where(a.purged_at.is_(None))
            ).scalar_one()
            dead = conn.execute(sa.select(sa.func.count()).where(j.status == "dead")).scalar_one()
            recent = conn.execute(
                sa.select(job_attempt.c.outcome, job_attempt.c.error_class, sa.func.count())
                .where(job_attempt.c.started_at >= now - timedelta(minutes=15))
                .group_by(job_attempt.c.outcome, job_attempt.c.error_class)
            ).all()
        failed = finished.get("error", 0) + finished.get("dead", 0)
        done = failed + finished.get("completed", 0)
        month_count = made[2] if month <= week else self._month_count(month)
        stats = {
            "generating": active.get("generating", 0),
            "pending": active.get("pending", 0),
            "completed_24h": finished.get("completed", 0),
            "failed_24h": failed,
            "error_rate_24h": failed / done if done else 0.0,
            "generations_today": made[0],
            "generations_week": made[1],
            "generations_month": month_count,
            "top_clients_30d": [(r.client_id, r.n) for r in top],
            "storage_bytes": int(storage),
            "dead_jobs": dead,
            "provider": self._provider_name,
            "provider_health": _provider_health(recent),
            "oldest_pending_age_s": (now - oldest_pending).total_seconds() if oldest_pending else 0.0,
        }
        self._stats_cache = (time.monotonic(), stats)
        return stats

    def _month_count(self, month: datetime) -> int:
        a = generated_asset.c
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(a.created_at >= month)).scalar_one())

    def client_stats(self, client_id: str) -> dict[str, Any]:
        if not is_id(client_id, "cli"):
            raise errors.InvalidArgument("client_id is malformed: expected a cli_ id")
        j, a = generation_job.c, generated_asset.c
        with self._engine.connect() as conn:
            jobs = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(j.status.in_(("pending", "generating"))),
                    sa.func.count().filter(j.status.in_(("error", "dead"))),
                ).where(j.client_id == client_id)
            ).one()
            assets = conn.execute(
                sa.select(
                    sa.func.count().filter(a.deleted_at.is_(None)),
                    sa.func.coalesce(sa.func.sum(a.size_bytes).filter(a.purged_at.is_(None)), 0),
                    sa.func.max(a.created_at).filter(a.deleted_at.is_(None)),
                ).where(a.gallery_client_id == client_id)
            ).one()
        return {
            "client_id": client_id,
            "generations": assets[0],
            "jobs": jobs[0],
            "active_jobs": jobs[1],
            "failed_jobs": jobs[2],
            "storage_bytes": int(assets[1]),
            "last_generation_at": assets[2],
        }


def _provider_health(recent: Sequence[Any]) -> str:
    """From the last 15 minutes of attempts: down when the model's own errors dominate, degraded when frequent."""
    total = sum(r[2] for r in recent)
    if not total:
        return "healthy"
    provider_errors = sum(r[2] for r in recent if r[1] in ("rate_limited", "server_error", "timeout"))
    share = provider_errors / total
    if total >= 5 and share >= 0.5:
        return "down"
    if share >= 0.1:
        return "degraded"
    return "healthy"


def _count(conn: sa.Connection, table: sa.Table, where: list[Any]) -> int:
    """The rows matching `where`; FROM named, since an empty filter would otherwise count one row of nothing."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())
