"""The dashboard: totals, the last admin actions, the credits summary and every service's health.

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
from admin_api.api.spec import ErrorEnvelope, Out, spec
from admin_api.bootstrap import Container
from admin_api.service_layer import directory
from admin_api.web import container
from scenergy.audit.v1 import audit_pb2
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.credits.v1 import credits_pb2

bp = Blueprint("dashboard", __name__, url_prefix="/api/admin")

_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard")
SLOW_S = 0.5  # a service answering slower than this is `degraded`

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


class DashboardOut(Out):
    totals: Totals | None
    recent_activity: list[EntryOut] | None
    credits: SummaryOut | None
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

    credits_channel, audit_channel = p.channels
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
    }

    health = [
        _pool.submit(_probe, "admin-api-database", lambda: ping(c.engine)),
        _pool.submit(_probe, "credits", _grpc_health(credits_channel, deadline)),
        _pool.submit(_probe, "audit", _grpc_health(audit_channel, deadline)),
    ]

    def result(name: str) -> Any:
        try:
            return jobs[name].result(timeout=deadline + 0.5)
        except Exception:
            return None

    summary = result("credits")
    activity = result("activity")
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
        system_health=[future.result() for future in health],
    )
