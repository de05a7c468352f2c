"""Jobs through the real RabbitMQ: the job outbox, the relay woken at commit, consumers with prefetch 1."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from generation.adapters.tables import generation_job, job_attempt
from generation.domain.ports import ErrorClass, GeneratedImage, ImageRequest, ProviderError
from generation.testing import background
from scenergy.common.identity import Actor
from scenergy.common.testing.actors import ADMIN


def wait_for(predicate: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError("timed out waiting")


def statuses(container: Any, ids: list[str]) -> dict[str, str]:
    with container.engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(generation_job.c.id, generation_job.c.status).where(generation_job.c.id.in_(ids))
            ).all()
        )


def test_jobs_submitted_are_run_through_the_broker_and_charged_once(
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    container = make_container(runner_concurrency=2, **jobs_queue)
    client_id = funded_client(20)
    with background(container):
        ids = [container.commands.submit(job_request(client_id), app_user).id for _ in range(10)]
        wait_for(lambda: set(statuses(container, ids).values()) == {"completed"})
        wait_for(lambda: balance_of(client_id).balance == 10)
    assert balance_of(client_id).available == 10


class FlakyProvider:
    """Fails with a server error every time, counting the calls."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls: list[float] = []

    def generate(self, request: ImageRequest) -> GeneratedImage:
        self.calls.append(time.monotonic())
        raise ProviderError(ErrorClass.SERVER_ERROR, "the model answered 500", http_status=500)


def test_a_poison_job_is_dead_after_exactly_its_attempts_without_a_hot_loop(
    make_container: Callable[..., Any],
    jobs_queue: dict[str, str],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    provider = FlakyProvider()
    container = make_container(provider=provider, max_attempts=3, retry_base_s=0.4, retry_cap_s=1.0, **jobs_queue)
    client_id = funded_client(5)
    with background(container):
        job = container.commands.submit(job_request(client_id), app_user)
        wait_for(lambda: statuses(container, [job.id])[job.id] == "dead")
        time.sleep(1.5)  # long enough for a hot loop to show itself
    assert len(provider.calls) == 3
    gaps = [b - a for a, b in zip(provider.calls, provider.calls[1:], strict=False)]
    assert min(gaps) >= 0.2  # equal jitter: at least half of the 0.4 s base, then doubling
    with container.engine.connect() as conn:
        attempts = conn.execute(
            sa.select(job_attempt.c.outcome, job_attempt.c.error_class).where(job_attempt.c.job_id == job.id)
        ).all()
        dead = conn.execute(sa.select(generation_job).where(generation_job.c.id == job.id)).one()
    assert [tuple(a) for a in attempts] == [("retryable_error", "server_error")] * 3
    assert dead.settlement == "released" and dead.attempt_count == 3
    assert balance_of(client_id).available == 5 and balance_of(client_id).balance == 5


def test_an_admin_job_runs_through_the_broker(
    make_container: Callable[..., Any], jobs_queue: dict[str, str], job_request: Callable[..., Any]
) -> None:
    container = make_container(**jobs_queue)
    with background(container):
        job = container.commands.submit(job_request(), ADMIN)
        wait_for(lambda: statuses(container, [job.id])[job.id] == "completed")
