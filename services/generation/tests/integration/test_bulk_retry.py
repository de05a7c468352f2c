"""Bulk retry of dead jobs: the confirmed count is the enqueued count or the operation aborts, and the
pace per client stays within its limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from generation.adapters.tables import bulk_item, bulk_operation, generation_job
from generation.domain.ports import ErrorClass, GeneratedImage, ImageRequest, ProviderError
from generation.entrypoints.runner import build_runner
from generation.service_layer.dead_jobs import DeadFilter
from generation.testing import background
from scenergy.common.identity import Actor
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2 as credits_pb

pytestmark = pytest.mark.slow


class DownProvider:
    name = "down"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        raise ProviderError(ErrorClass.SERVER_ERROR, "the model answered 503", http_status=503)


def make_dead(
    make_container: Callable[..., Any], jobs: list[tuple[str, Actor]], job_request: Callable[..., Any]
) -> list[str]:
    """Submit and run jobs against a model that is down, with one attempt each: they die."""
    failing = make_container(provider=DownProvider(), max_attempts=1)
    runner = build_runner(failing, worker_id="dying")
    ids = []
    for client_id, actor in jobs:
        job = failing.commands.submit(job_request(client_id), actor)
        assert runner.run(job.id) == "dead"
        ids.append(job.id)
    return ids


def test_a_bulk_retry_enqueues_exactly_the_confirmed_jobs_within_the_pace(
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    clients = [funded_client(50), funded_client(50)]
    ids = make_dead(make_container, [(c, app_user) for c in clients for _ in range(12)], job_request)
    window_s, rate = 2.0, 5
    container = make_container(bulk_retry_per_client_per_minute=rate, pace_window_s=window_s, **jobs_queue)
    previews = [container.dead_jobs.preview(DeadFilter(client_id=c), ADMIN) for c in clients]
    assert [p.count for p in previews] == [12, 12]
    operations = [container.dead_jobs.retry(p.token, p.count, "the model is back", "", ADMIN) for p in previews]

    with background(container):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with container.engine.connect() as conn:
                running = conn.execute(
                    sa.select(sa.func.count()).where(
                        bulk_operation.c.id.in_([o.id for o in operations]), bulk_operation.c.status == "running"
                    )
                ).scalar_one()
            if not running:
                break
            time.sleep(0.2)
        with container.engine.connect() as conn:
            done = conn.execute(
                sa.select(bulk_operation).where(bulk_operation.c.id.in_([o.id for o in operations]))
            ).all()
            items = conn.execute(
                sa.select(bulk_item.c.client_key, bulk_item.c.done_at).where(
                    bulk_item.c.operation_id.in_([o.id for o in operations])
                )
            ).all()
    for op in done:
        assert op.status == "completed" and op.enqueued_count == op.confirmed_count == 12 and op.skipped_count == 0
    for client_id in clients:
        times = sorted(i.done_at.timestamp() for i in items if i.client_key == client_id)
        for n, start in enumerate(times):  # any window of window_s holds at most `rate` enqueues
            assert sum(1 for t in times[n:] if t < start + window_s) <= rate
        assert times[-1] - times[0] >= window_s * 2  # 12 at 5 per window needs three windows
    with container.engine.connect() as conn:
        statuses = set(conn.execute(sa.select(generation_job.c.status).where(generation_job.c.id.in_(ids))).scalars())
    assert statuses <= {"pending", "generating", "completed"}


def test_a_bulk_retry_that_can_not_hold_credits_aborts_and_says_so(
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    app_user: Actor,
    job_request: Callable[..., Any],
    credits_stub: Any,
    call_metadata: Any,
) -> None:
    client_id = funded_client(3)
    make_dead(make_container, [(client_id, app_user)] * 3, job_request)
    # The client spends its credits elsewhere meanwhile: only one retry can be held.
    credits_stub.Adjust(
        credits_pb.AdjustRequest(client_id=client_id, amount=-2, reason="spent", idempotency_key=new_id("key")),
        metadata=call_metadata(ADMIN),
    )
    container = make_container(**jobs_queue)
    preview = container.dead_jobs.preview(DeadFilter(client_id=client_id), ADMIN)
    op = container.dead_jobs.retry(preview.token, 3, "retry", "", ADMIN)
    container.dead_jobs.pace()
    with container.engine.connect() as conn:
        after = conn.execute(sa.select(bulk_operation).where(bulk_operation.c.id == op.id)).one()
    assert after.status == "aborted" and "insufficient" in after.error_message
    assert after.enqueued_count == 1 and after.skipped_count == 2
    # The lock is gone: a new preview and retry of what is left can run.
    again = container.dead_jobs.preview(DeadFilter(client_id=client_id), ADMIN)
    assert again.count == 2
