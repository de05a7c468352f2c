"""The dashboard: totals, the last admin actions, the credits summary, the generation figures with
the active jobs, today's revenue and failed webhooks, and every service's health.

The services are asked in parallel with a short deadline each, so one that is down shows as `down`
and the rest of the page still renders.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import grpc
import sqlalchemy as sa
from flask import Blueprint
from grpc_health.v1 import health_pb2, health_pb2_grpc
from spectree import Response as Responses

from admin_api.adapters.tables import app_user, client
from admin_api.api.audit import EntryOut, entry_out
from admin_api.api.credits import SummaryOut
from admin_api.api.jobs import JobOut, jobs_out, names_of
from admin_api.api.payments import MoneyOut, money
from admin_api.api.spec import ErrorEnvelope, Out, spec
from admin_api.bootstrap import Container
from admin_api.service_layer import directory
from admin_api.web import container
from scenergy.audit.v1 import audit_pb2
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.credits.v1 import credits_pb2
from scenergy.generation.v1 import generation_pb2
from scenergy.payments.v1 import payments_pb2

bp = Blueprint("dashboard", __name__, url_prefix="/api/admin")

_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dashboard")
SLOW_S = 0.5  # a service answering slower than this is `degraded`

ACTIVE_JOBS_SHOWN = 10  # the home screen's list; the jobs screen polls /jobs/active for all of them

Health = Literal["healthy", "degraded", "down"]


class Totals(Out):
    clients: int
    active_clients: int
    users: int


class ServiceHealth(Out):
    service: str
    status: Health
    latency_ms: float | None
    detail: str | None = None


class TopClient(Out):
    client_id: str
    client_name: str | None
    generations: int


class GenerationFigures(Out):
    generating: int  # active jobs, generating right now
    pending: int  # queued
    completed_24h: int
    failed_24h: int  # error and dead
    error_rate_24h: float  # failed / finished in the last 24 hours, 0 .. 1
    generations_today: int  # images made, UTC days
    generations_week: int  # since Monday
    generations_month: int
    top_clients_30d: list[TopClient]  # at most 5, by images made in 30 days
    storage_bytes: int
    dead_jobs: int
    provider: str  # gemini | offline
    provider_health: Health  # from the model's errors of the last 15 minutes
    oldest_pending_age_s: float


class ActiveJobs(Out):
    items: list[JobOut]  # generating first, then pending oldest first; at most 10
    generating: int
    pending: int


class PaymentFigures(Out):
    revenue_today: list[MoneyOut]  # one per currency, UTC day
    failed_webhooks: int  # Stripe events whose processing failed: see /payments/events?status=failed


class DashboardOut(Out):
    totals: Totals | None
    recent_activity: list[EntryOut] | None
    credits: SummaryOut | None
    generation: GenerationFigures | None
    active_jobs: ActiveJobs | None
    payments: PaymentFigures | None
    system_health: list[ServiceHealth]


TOTALS_TTL_S = 30.0  # counting 100k clients and 200k users per view is not worth it; half a minute old is fine
_totals_cache: dict[int, tuple[float, Totals]] = {}
_totals_lock = threading.Lock()


def _totals(c: Container) -> Totals:
    with _totals_lock:
        cached = _totals_cache.get(id(c))
        if cached is not None and time.monotonic() - cached[0] < TOTALS_TTL_S:
            return cached[1]
    fresh = _count_totals(c)
    with _totals_lock:
        _totals_cache[id(c)] = (time.monotonic(), fresh)
    return fresh


def _count_totals(c: Container) -> Totals:
    cutoff = directory.now() - directory.ACTIVE_WINDOW  # the same "active" as the clients list's
    with c.engine.connect() as conn:
        live = client.c.deleted_at.is_(None)
        row = conn.execute(
            sa.select(
                sa.select(sa.func.count()).select_from(client).where(live).scalar_subquery().label("clients"),
                sa.select(sa.func.count())
                .select_from(client)
                .where(live, client.c.last_active_at >= cutoff)
                .scalar_subquery()
                .label("active"),
                sa.select(sa.func.count())
                .select_from(app_user)
                .where(app_user.c.deleted_at.is_(None))
                .scalar_subquery()
                .label("users"),
            )
        ).one()
    return Totals(clients=row.clients, active_clients=row.active, users=row.users)


def _probe(name: str, check: Callable[[], Any]) -> ServiceHealth:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a probe reports; it never fails the page
        detail = exc.code().name if isinstance(exc, grpc.RpcError) else type(exc).__name__
        return ServiceHealth(service=name, status="down", latency_ms=None, detail=detail)
    elapsed = time.perf_counter() - started
    return ServiceHealth(
        service=name, status="degraded" if elapsed > SLOW_S else "healthy", latency_ms=round(elapsed * 1000, 1)
    )


def _grpc_health(channel: grpc.Channel, deadline: float) -> Callable[[], None]:
    def check() -> None:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=deadline).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(health_pb2.HealthCheckResponse.ServingStatus.Name(status))

    return check


@bp.get("/dashboard")
@spec.validate(resp=Responses(HTTP_200=DashboardOut, HTTP_401=ErrorEnvelope))
def dashboard() -> DashboardOut:
    """One call for the home screen; each part is null when its service could not answer in time."""
    c = container()
    p = c.platform
    deadline = c.settings.dashboard_deadline_s
    actor, request_id = context.current_actor(), context.current_request_id()

    def in_context(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with context.bound(request_id=request_id, actor=actor):
                return fn()

        return run

    credits_channel, audit_channel, generation_channel, payments_channel = p.channels
    jobs: dict[str, Future[Any]] = {
        "totals": _pool.submit(_totals, c),
        "activity": _pool.submit(
            in_context(
                lambda: p.audit.RecentActivity(
                    audit_pb2.RecentActivityRequest(limit=10), metadata=p.metadata(), timeout=deadline
                )
            )
        ),
        "credits": _pool.submit(
            in_context(
                lambda: p.credits.GetSummary(credits_pb2.GetSummaryRequest(), metadata=p.metadata(), timeout=deadline)
            )
        ),
        "generation": _pool.submit(
            in_context(
                lambda: p.generation.GetStats(generation_pb2.GetStatsRequest(), metadata=p.metadata(), timeout=deadline)
            )
        ),
        "active_jobs": _pool.submit(
            in_context(
                lambda: p.generation.ListActiveJobs(
                    generation_pb2.ListActiveJobsRequest(), metadata=p.metadata(), timeout=deadline
                )
            )
        ),
        "payments": _pool.submit(
            in_context(
                lambda: p.payments.GetOverview(
                    payments_pb2.GetOverviewRequest(), metadata=p.metadata(), timeout=deadline
                )
            )
        ),
    }

    health = [
        _pool.submit(_probe, "admin-api-database", lambda: ping(c.engine)),
        _pool.submit(_probe, "credits", _grpc_health(credits_channel, deadline)),
        _pool.submit(_probe, "audit", _grpc_health(audit_channel, deadline)),
        _pool.submit(_probe, "generation", _grpc_health(generation_channel, deadline)),
        _pool.submit(_probe, "payments", _grpc_health(payments_channel, deadline)),
    ]

    def result(name: str) -> Any:
        try:
            return jobs[name].result(timeout=deadline + 0.5)
        except Exception:
            return None

    summary = result("credits")
    activity = result("activity")
    stats = result("generation")
    active = result("active_jobs")
    overview = result("payments")
    return DashboardOut(
        totals=result("totals"),
        recent_activity=[entry_out(e) for e in activity.items] if activity is not None else None,
        credits=SummaryOut(
            in_circulation=summary.in_circulation,
            used_today=summary.used_today,
            granted_today=summary.granted_today,
            purchased_today=summary.purchased_today,
            active_holds=summary.active_holds,
            held=summary.held,
            accounts=summary.accounts,
        )
        if summary is not None
        else None,
        generation=_generation(stats) if stats is not None else None,
        active_jobs=ActiveJobs(
            items=jobs_out(active.items[:ACTIVE_JOBS_SHOWN]), generating=active.generating, pending=active.pending
        )
        if active is not None
        else None,
        payments=PaymentFigures(revenue_today=money(overview.revenue_today), failed_webhooks=overview.failed_webhooks)
        if overview is not None
        else None,
        system_health=[future.result() for future in health],
    )


def _generation(s: generation_pb2.GenerationStats) -> GenerationFigures:
    names = names_of(*(c.client_id for c in s.top_clients_30d))
    health: Health = "down"
    if s.provider_health in ("healthy", "degraded"):
        health = "healthy" if s.provider_health == "healthy" else "degraded"
    return GenerationFigures(
        generating=s.generating,
        pending=s.pending,
        completed_24h=s.completed_24h,
        failed_24h=s.failed_24h,
        error_rate_24h=s.error_rate_24h,
        generations_today=s.generations_today,
        generations_week=s.generations_week,
        generations_month=s.generations_month,
        top_clients_30d=[
            TopClient(client_id=c.client_id, client_name=names.get(c.client_id), generations=c.generations)
            for c in s.top_clients_30d
        ],
        storage_bytes=s.storage_bytes,
        dead_jobs=s.dead_jobs,
        provider=s.provider,
        provider_health=health,
        oldest_pending_age_s=s.oldest_pending_age_s,
    )
