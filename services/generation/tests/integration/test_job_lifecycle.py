"""A job from submit to its final state, run by the runner directly (the queue is tested elsewhere)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from generation.adapters.tables import generated_asset, generation_job, job_attempt, job_outbox, job_transition
from generation.bootstrap import Container
from generation.domain import errors
from generation.entrypoints.runner import build_runner
from scenergy.common.identity import Actor
from scenergy.common.testing.actors import ADMIN, VIEWER


def rows(container: Container, table: sa.Table, job_id: str) -> list[Any]:
    with container.engine.connect() as conn:
        column = table.c.id if table is generation_job else table.c.job_id
        # In key order (a transition's id, an attempt's number): without ORDER BY, heap order is anyone's guess.
        order = list(table.primary_key.columns)
        return list(conn.execute(sa.select(table).where(column == job_id).order_by(*order)).all())


def job(container: Container, job_id: str) -> Any:
    return rows(container, generation_job, job_id)[0]


def test_a_client_job_holds_credits_runs_and_is_charged_once(
    container: Container,
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    client_id = funded_client(10)
    submitted = container.commands.submit(job_request(client_id), app_user)
    assert submitted.status == "pending" and submitted.settlement == "held" and submitted.hold_id
    assert "scandinavian living room featuring Gray velvet sofa" in submitted.prompt
    assert balance_of(client_id).available == 9 and balance_of(client_id).balance == 10
    with container.engine.connect() as conn:  # its run message waits in the job outbox, written with it
        messages = (
            conn.execute(
                sa.select(job_outbox.c.payload["job_id"].astext).where(
                    job_outbox.c.payload["job_id"].astext == submitted.id
                )
            )
            .scalars()
            .all()
        )
    assert messages == [submitted.id]
    runner = build_runner(container, worker_id="test-runner")

    assert runner.run(submitted.id) == "completed"
    assert runner.run(submitted.id) == "skipped"  # a duplicate message changes nothing

    done = job(container, submitted.id)
    assert done.status == "completed" and done.progress == 100 and done.settlement == "captured"
    assert done.credits_charged == 1 and done.price_version
    assert balance_of(client_id).balance == 9 and balance_of(client_id).available == 9
    (asset,) = rows(container, generated_asset, submitted.id)
    assert asset.client_id == client_id and asset.gallery_client_id == client_id and not asset.is_admin_generated
    assert container.storage.exists(asset.object_key) and asset.width == 1024 and asset.height == 576
    (attempt,) = rows(container, job_attempt, submitted.id)
    assert attempt.outcome == "completed" and attempt.model_ms is not None and attempt.queue_ms is not None
    transitions = [(t.from_status, t.to_status) for t in rows(container, job_transition, submitted.id)]
    assert transitions == [(None, "pending"), ("pending", "generating"), ("generating", "completed")]


def test_an_admin_job_touches_no_credits_and_its_asset_is_admin_generated(
    container: Container, job_request: Callable[..., Any]
) -> None:
    submitted = container.commands.submit(job_request(), ADMIN)
    assert submitted.client_id is None and submitted.is_admin and submitted.settlement == "none"
    assert build_runner(container, worker_id="test-runner").run(submitted.id) == "completed"
    (asset,) = rows(container, generated_asset, submitted.id)
    assert asset.is_admin_generated and asset.client_id is None and asset.gallery_client_id is None


def test_a_viewer_can_not_submit_and_a_user_can_not_use_the_admin_space(
    container: Container, job_request: Callable[..., Any], app_user: Actor
) -> None:
    with pytest.raises(errors.PermissionDenied):
        container.commands.submit(job_request(), VIEWER)
    with pytest.raises(errors.PermissionDenied):
        container.commands.submit(job_request(), app_user)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"products": []}, "at least one product"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio must be one of"),
        ({"model": "gpt-image"}, "model must be one of"),
        ({"style": "baroque-punk"}, "style must be one of"),
        ({"instructions": "x" * 2001}, "at most 2000"),
        ({"instructions": "bad\x00text"}, "can't be stored"),
        ({"inspiration_images": ("http://insecure.example/a.jpg",)}, "https URLs"),
        ({"inspiration_images": tuple(f"https://img.example/{n}.jpg" for n in range(6))}, "at most 5"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"flow_id": "not an id"}, "flow_id"),
    ],
)
def test_bad_submissions_are_refused_and_change_nothing(
    container: Container, job_request: Callable[..., Any], overrides: dict[str, Any], message: str
) -> None:
    with container.engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(generation_job)).scalar_one()
    with pytest.raises(errors.InvalidArgument, match=message):
        container.commands.submit(job_request(**overrides), ADMIN)
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(generation_job)).scalar_one() == before


def test_a_client_without_credits_gets_no_job(
    container: Container, funded_client: Callable[..., str], app_user: Actor, job_request: Callable[..., Any]
) -> None:
    client_id = funded_client(0)
    with pytest.raises(errors.InsufficientCredits):
        container.commands.submit(job_request(client_id), app_user)
    with container.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).where(generation_job.c.client_id == client_id)).scalar_one()
    assert count == 0


def test_a_retried_submit_with_its_key_returns_the_first_job_and_holds_once(
    container: Container,
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    client_id = funded_client(5)
    first = container.commands.submit(job_request(client_id, idempotency_key="submit-1"), app_user)
    again = container.commands.submit(job_request(client_id, idempotency_key="submit-1"), app_user)
    assert again.id == first.id
    assert balance_of(client_id).available == 4
    with pytest.raises(errors.IdempotencyConflict):
        container.commands.submit(job_request(client_id, idempotency_key="submit-1", style="modern"), app_user)


def test_cancel_of_a_pending_job_releases_its_hold_and_a_late_run_does_nothing(
    container: Container,
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    client_id = funded_client(3)
    submitted = container.commands.submit(job_request(client_id), app_user)
    cancelled = container.commands.cancel(submitted.id, "changed my mind", ADMIN)
    assert cancelled.status == "cancelled" and cancelled.settlement == "released"
    assert balance_of(client_id).available == 3 and balance_of(client_id).balance == 3
    assert build_runner(container, worker_id="late").run(submitted.id) == "skipped"
    with pytest.raises(errors.Conflict):
        container.commands.cancel(submitted.id, "", ADMIN)


def test_an_admin_regenerate_links_the_new_job_and_charges_nobody(
    container: Container,
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    client_id = funded_client(2)
    original = container.commands.submit(job_request(client_id), app_user)
    build_runner(container, worker_id="r").run(original.id)
    again = container.commands.regenerate(original.id, "", ADMIN)
    assert again.regenerated_from == original.id and again.client_id == client_id
    assert again.settlement == "none" and again.settings == original.settings and again.prompt == original.prompt
    build_runner(container, worker_id="r").run(again.id)
    assert balance_of(client_id).balance == 1  # only the original was charged
    (asset,) = rows(container, generated_asset, again.id)
    assert asset.gallery_client_id == client_id


def test_the_request_of_a_job_is_immutable(container: Container, job_request: Callable[..., Any]) -> None:
    submitted = container.commands.submit(job_request(), ADMIN)
    with pytest.raises(sa.exc.DBAPIError, match="immutable"), container.engine.begin() as conn:
        conn.execute(generation_job.update().where(generation_job.c.id == submitted.id).values(prompt="other"))


class BlockingProvider:
    """The model refuses the prompt after reading it: billed tokens, no image."""

    name = "blocking"

    def generate(self, request: Any) -> Any:
        from generation.domain.ports import ErrorClass, ProviderError, Usage

        usage = Usage(prompt_tokens=120, candidate_tokens=0, total_tokens=120)
        raise ProviderError(ErrorClass.SAFETY_BLOCKED, "blocked: SAFETY", provider_request_id="resp-1", usage=usage)


def test_a_safety_block_fails_at_once_and_keeps_its_tokens_and_cost(
    make_container: Callable[..., Any],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
    job_request: Callable[..., Any],
) -> None:
    container = make_container(provider=BlockingProvider())
    client_id = funded_client(2)
    submitted = container.commands.submit(job_request(client_id), app_user)
    assert build_runner(container, worker_id="r").run(submitted.id) == "error"
    failed = job(container, submitted.id)
    assert failed.status == "error" and failed.attempt_count == 1 and failed.error_class == "safety_blocked"
    assert failed.total_tokens == 120 and failed.estimated_cost_usd > 0 and failed.price_version
    assert failed.settlement == "released" and balance_of(client_id).available == 2
    (attempt,) = rows(container, job_attempt, submitted.id)
    assert attempt.outcome == "fatal_error" and attempt.provider_request_id == "resp-1" and attempt.total_tokens == 120


def test_the_active_poll_answers_not_modified_from_memory_within_its_cache_time(
    make_container: Callable[..., Any], job_request: Callable[..., Any]
) -> None:
    import time

    container = make_container(active_poll_cache_s=0.3)
    rows, etag, *_ = container.views.active("")
    assert rows is not None
    container.commands.submit(job_request(), ADMIN)
    assert container.views.active("", etag)[0] is None  # within 0.3 s: the poller's copy is still current
    time.sleep(0.35)
    fresh, new_etag, *_ = container.views.active("", etag)
    assert fresh is not None and new_etag != etag

    # Within the cache time a new poller (no etag, or an old one) gets the same list, with no query.
    statements: list[str] = []
    sa.event.listen(container.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    again, again_etag, *_ = container.views.active("")
    stale, stale_etag, *_ = container.views.active("", etag)
    assert statements == []
    assert again_etag == stale_etag == new_etag
    assert again is not None and stale is not None and [r.id for r in again] == [r.id for r in fresh]
