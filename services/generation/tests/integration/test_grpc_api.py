"""The generation gRPC API over a real server: credential, roles, validation, the job debugger, the
lists and their paging, the asset browser's mutations and their audit events, and the guarded bulk
retry of dead jobs (made dead for real, by a failing model).

The tests share one database with the rest of the suite, so each works on clients of its own and
asserts what it created (or relative changes), never global totals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from generation.adapters.provider import OfflineProvider
from generation.adapters.tables import bulk_item, generated_asset, outbox
from generation.bootstrap import Container
from generation.domain.ports import ErrorClass, GeneratedImage, ImageRequest, ProviderError
from generation.domain.pricing import CURRENT_PRICES, DEFAULT_MODEL
from generation.entrypoints.grpc_server import build_server
from generation.entrypoints.runner import build_runner
from generation.views import GenerationViews
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.grpc_server import CREDENTIAL_HEADER
from scenergy.common.identity import Actor, ActorType, ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.pagination import encode_cursor
from scenergy.common.protobuf import to_timestamp
from scenergy.common.testing.actors import ADMIN, SUPER_ADMIN, VIEWER
from scenergy.generation.v1 import generation_pb2 as pb
from scenergy.generation.v1 import generation_pb2_grpc as pb_grpc

Code = grpc.StatusCode
SOFA = pb.ProductRef(id="prd_01sofa000000000000000000000", name="Gray velvet sofa")
LAMP = pb.ProductRef(
    id="prd_01lamp000000000000000000000",
    name="Brass lamp",
    image_url="https://img.example/lamp.jpg",
    description="tall, brushed",
)
SETTINGS = pb.JobSettings(room_type="living_room", style="scandinavian", lighting="natural", aspect_ratio="16:9")
TIMEOUT = 10


def submit_request(client_id: str = "", **overrides: Any) -> pb.SubmitJobRequest:
    values: dict[str, Any] = {
        "client_id": client_id,
        "admin_space": not client_id,
        "products": [SOFA],
        "settings": SETTINGS,
    }
    values.update(overrides)
    return pb.SubmitJobRequest(**values)


def code_of(call: Any, request: Any, metadata: Any = None) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=TIMEOUT)
    return caught.value.code(), caught.value.details()


def audit_events(container: Container, entity_id: str) -> list[dict[str, Any]]:
    """The audit events written to the outbox for an entity, oldest first."""
    with container.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(outbox.c.payload)
                .where(outbox.c.payload["entity"]["id"].astext == entity_id)
                .order_by(outbox.c.seq)
            ).scalars()
        )


class FailingProvider:
    """A model that fails with `error_class` for its first `failures` calls (every call when None)."""

    name = "offline"

    def __init__(self, error_class: ErrorClass = ErrorClass.SERVER_ERROR, failures: int | None = None) -> None:
        self.error_class = error_class
        self.failures = failures
        self.calls = 0
        self._offline = OfflineProvider()

    def generate(self, request: ImageRequest) -> GeneratedImage:
        self.calls += 1
        if self.failures is None or self.calls <= self.failures:
            raise ProviderError(self.error_class, "boom", http_status=503)
        return self._offline.generate(request)


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def admin_md(call_metadata: CallMetadata) -> list[tuple[str, str]]:
    return call_metadata(ADMIN)


@pytest.fixture
def viewer_md(call_metadata: CallMetadata) -> list[tuple[str, str]]:
    return call_metadata(VIEWER)


@pytest.fixture
def submit(stub: pb_grpc.GenerationServiceStub, call_metadata: CallMetadata, app_user: Actor) -> Callable[..., pb.Job]:
    """Submit over gRPC: a client job as the app's user, an admin-space job as an admin."""

    def make(client_id: str = "", *, actor: Actor | None = None, **overrides: Any) -> pb.Job:
        actor = actor or (app_user if client_id else ADMIN)
        request = submit_request(client_id, **overrides)
        job: pb.Job = stub.SubmitJob(request, metadata=call_metadata(actor), timeout=TIMEOUT)
        return job

    return make


@pytest.fixture
def run(container: Container) -> Callable[[str], str]:
    return build_runner(container, worker_id="t").run


@pytest.fixture
def get_job(stub: pb_grpc.GenerationServiceStub, admin_md: Any) -> Callable[[str], pb.JobDetail]:
    def get(job_id: str) -> pb.JobDetail:
        detail: pb.JobDetail = stub.GetJob(pb.GetJobRequest(job_id=job_id), metadata=admin_md, timeout=TIMEOUT)
        return detail

    return get


@pytest.fixture
def generate(
    submit: Callable[..., pb.Job],
    run: Callable[[str], str],
    get_job: Callable[[str], pb.JobDetail],
    stub: pb_grpc.GenerationServiceStub,
    admin_md: Any,
) -> Callable[..., pb.Asset]:
    """A completed job's asset (an admin-generated one without a client)."""

    def make(client_id: str = "") -> pb.Asset:
        job = submit(client_id)
        assert run(job.id) == "completed"
        asset_id = get_job(job.id).job.asset_id
        detail = stub.GetAsset(pb.GetAssetRequest(asset_id=asset_id), metadata=admin_md, timeout=TIMEOUT)
        return detail.asset

    return make


@pytest.fixture
def kill(
    make_container: Callable[..., Container], job_request: Callable[..., Any], app_user: Actor
) -> Callable[..., str]:
    """A dead job, for real: one attempt allowed, and the model fails it with a retryable error."""
    dying: list[Container] = []

    def make(client_id: str = "") -> str:
        if not dying:
            dying.append(make_container(provider=FailingProvider(), max_attempts=1))
        job = dying[0].commands.submit(job_request(client_id), app_user if client_id else ADMIN)
        assert build_runner(dying[0], worker_id="t").run(job.id) == "dead"
        return str(job.id)

    return make


@pytest.fixture
def uncached_stub(make_container: Callable[..., Container]) -> Iterator[pb_grpc.GenerationServiceStub]:
    """A server of its own whose figures aren't cached, so a test sees the change it made at once."""
    own = make_container()
    own.views = GenerationViews(own.engine, provider_name=own.provider.name, stats_ttl_s=0)
    server = build_server(own, host="127.0.0.1", port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield pb_grpc.GenerationServiceStub(channel)
    server.stop(grace_s=0)


# -- the credential ----------------------------------------------------------------------------------


def test_a_call_without_the_service_credential_is_unauthenticated(stub: pb_grpc.GenerationServiceStub) -> None:
    code, details = code_of(stub.GetStats, pb.GetStatsRequest())
    assert code == Code.UNAUTHENTICATED and "missing" in details
    forged = ServiceCredential("another-key-that-is-long-enough").sign("admin-api", ADMIN)
    code, _ = code_of(stub.SubmitJob, submit_request(), metadata=[(CREDENTIAL_HEADER, forged)])
    assert code == Code.UNAUTHENTICATED


# -- SubmitJob -----------------------------------------------------------------------------------------


def test_an_admin_submits_into_the_admin_space_and_the_submit_is_audited(
    container: Container, submit: Callable[..., pb.Job]
) -> None:
    job = submit(instructions="  Add a reading corner  ")
    assert job.id.startswith("job_") and job.is_admin and job.client_id == ""
    assert (job.status, job.stage, job.progress, job.attempt_count, job.max_attempts) == ("pending", "queued", 0, 0, 3)
    assert job.settlement == "none" and job.hold_id == "" and job.credits_reserved == 0
    assert job.submitted_by == ADMIN.id and job.submitted_by_type == "admin"
    assert job.model == DEFAULT_MODEL and job.product_count == 1 and Decimal(job.estimated_cost_usd) == 0
    assert job.HasField("created_at") and job.HasField("available_at") and not job.HasField("started_at")

    (event,) = audit_events(container, job.id)
    assert event["type"] == "generation.job.submit" and event["actor"]["id"] == ADMIN.id
    assert event["data"]["previous"] is None
    assert event["data"]["new"]["status"] == "pending" and event["data"]["new"]["client_id"] is None
    assert "Additional instructions: Add a reading corner" in event["data"]["prompt"]


def test_a_viewer_or_an_anonymous_caller_can_not_submit_and_a_user_can_not_use_the_admin_space(
    stub: pb_grpc.GenerationServiceStub, call_metadata: CallMetadata, app_user: Actor
) -> None:
    code, details = code_of(stub.SubmitJob, submit_request(), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED and "viewer" in details
    code, _ = code_of(stub.SubmitJob, submit_request(), call_metadata(None))
    assert code == Code.PERMISSION_DENIED
    code, details = code_of(stub.SubmitJob, submit_request(), call_metadata(app_user))
    assert code == Code.PERMISSION_DENIED and "admin space" in details


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"products": []}, "at least one product is required"),
        ({"products": [SOFA, SOFA]}, "is listed twice"),
        ({"settings": pb.JobSettings(aspect_ratio="2:1")}, "aspect_ratio must be one of"),
        ({"settings": pb.JobSettings(model="gpt-image")}, "model must be one of"),
        ({"settings": pb.JobSettings(style="baroque-punk")}, "style must be one of"),
        ({"instructions": "x" * 2001}, "instructions must be at most 2000 characters"),
        ({"inspiration_images": ["http://insecure.example/a.jpg"]}, "inspiration images must be https URLs"),
        ({"client_id": "cli_01abcdefghijklmnopqrstuvwx", "admin_space": True}, "an admin-space job has no client_id"),
        ({"admin_space": False}, "client_id is malformed"),
        ({"flow_id": "not an id"}, "flow_id is malformed"),
        ({"idempotency_key": "has space"}, "idempotency_key must be"),
    ],
)
def test_bad_submissions_are_invalid_arguments_with_a_clear_message(
    stub: pb_grpc.GenerationServiceStub, admin_md: Any, overrides: dict[str, Any], message: str
) -> None:
    code, details = code_of(stub.SubmitJob, submit_request(**overrides), admin_md)
    assert code == Code.INVALID_ARGUMENT
    assert message in details


def test_a_client_job_as_the_app_user_holds_a_credit_and_a_retried_submit_returns_it(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    app_user: Actor,
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
) -> None:
    client_id = funded_client(5)
    flow_id = new_id("flw")
    request = submit_request(client_id, flow_id=flow_id, idempotency_key=new_id("key"))
    job = stub.SubmitJob(request, metadata=call_metadata(app_user), timeout=TIMEOUT)
    assert job.client_id == client_id and not job.is_admin and job.flow_id == flow_id
    assert job.settlement == "held" and job.hold_id and job.credits_reserved == 1
    assert job.submitted_by == app_user.id and job.submitted_by_type == "user"
    assert balance_of(client_id).available == 4

    again = stub.SubmitJob(request, metadata=call_metadata(app_user), timeout=TIMEOUT)
    assert again.id == job.id and again.hold_id == job.hold_id
    assert balance_of(client_id).available == 4
    other = pb.SubmitJobRequest()
    other.CopyFrom(request)
    other.settings.style = "modern"
    code, _ = code_of(stub.SubmitJob, other, call_metadata(app_user))
    assert code == Code.ALREADY_EXISTS
    assert audit_events(container, job.id) == []  # only admins' actions are audited

    broke = funded_client(0)
    code, details = code_of(stub.SubmitJob, submit_request(broke), call_metadata(app_user))
    assert code == Code.FAILED_PRECONDITION and "insufficient" in details.lower()


# -- GetJob --------------------------------------------------------------------------------------------


def test_get_job_shows_the_debugger_view_of_a_run_job(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    app_user: Actor,
    submit: Callable[..., pb.Job],
    make_container: Callable[..., Container],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(3)
    job = submit(
        client_id,
        products=[SOFA, LAMP],
        instructions="Add a reading corner",
        inspiration_images=["https://img.example/mood.jpg"],
    )
    slow = make_container(provider=OfflineProvider(latency_s=0.05))
    assert build_runner(slow, worker_id="t").run(job.id) == "completed"

    detail = stub.GetJob(pb.GetJobRequest(job_id=job.id), metadata=viewer_md, timeout=TIMEOUT)  # a viewer reads
    done = detail.job
    assert (done.status, done.progress, done.attempt_count) == ("completed", 100, 1)
    assert done.asset_id.startswith("ast_") and done.settlement == "captured" and done.credits_charged == 1
    assert done.HasField("started_at") and done.HasField("completed_at") and not done.HasField("available_at")
    assert done.duration_ms >= 50 and done.product_count == 2

    assert "scandinavian living room featuring Gray velvet sofa and Brass lamp (tall, brushed)" in detail.prompt
    assert "Additional instructions: Add a reading corner" in detail.prompt
    assert "1 inspiration image(s)" in detail.prompt
    settings = {
        "room_type": "living_room",
        "style": "scandinavian",
        "lighting": "natural",
        "aspect_ratio": "16:9",
        "model": DEFAULT_MODEL,
    }
    assert detail.settings == pb.JobSettings(**settings)
    assert json.loads(detail.settings_json) == settings
    assert list(detail.products) == [SOFA, LAMP]
    assert detail.instructions == "Add a reading corner"
    assert list(detail.inspiration_images) == ["https://img.example/mood.jpg"]

    (attempt,) = detail.attempts
    assert (attempt.number, attempt.worker_id, attempt.outcome) == (1, "t", "completed")
    assert attempt.model_ms >= 50 and attempt.total_ms >= attempt.model_ms and attempt.error_class == ""
    assert attempt.provider_request_id == f"offline-{job.id}/1"
    assert attempt.HasField("started_at") and attempt.HasField("finished_at")
    transitions = [(t.from_status, t.to_status, t.attempt, t.actor) for t in detail.transitions]
    assert transitions == [
        ("", "pending", 0, app_user.id),
        ("pending", "generating", 1, "t"),
        ("generating", "completed", 1, "t"),
    ]
    assert detail.asset_url.startswith("http") and "signature=" in detail.asset_url
    assert detail.processing_ms >= 50  # the attempt, from its start to its end
    assert detail.queue_ms == attempt.queue_ms >= 0
    assert detail.price_version == CURRENT_PRICES.version and detail.error_stack == ""


def test_get_job_shows_a_failed_attempt_with_its_stack(
    make_container: Callable[..., Container],
    submit: Callable[..., pb.Job],
    get_job: Callable[[str], pb.JobDetail],
) -> None:
    class Broken:
        name = "offline"

        def generate(self, request: ImageRequest) -> GeneratedImage:
            raise RuntimeError("the adapter has a bug")

    job = submit()
    assert build_runner(make_container(provider=Broken()), worker_id="t").run(job.id) == "pending"  # retried
    detail = get_job(job.id)
    assert detail.job.status == "pending" and detail.job.error_class == "internal"
    assert detail.job.HasField("available_at")
    (attempt,) = detail.attempts
    assert attempt.outcome == "retryable_error" and attempt.error_class == "internal"
    assert "RuntimeError: the adapter has a bug" in attempt.error_message
    assert "RuntimeError" in detail.error_stack and detail.error_stack == attempt.error_stack
    assert detail.asset_url == "" and detail.processing_ms >= 0
    assert [(t.from_status, t.to_status) for t in detail.transitions][-1] == ("generating", "pending")


def test_get_job_of_a_malformed_id_is_invalid_and_of_an_unknown_one_not_found(
    stub: pb_grpc.GenerationServiceStub, admin_md: Any
) -> None:
    for malformed in ("", "job_", "ast_01abcdefghijklmnopqrstuvwx", "job_01 bad"):
        code, details = code_of(stub.GetJob, pb.GetJobRequest(job_id=malformed), admin_md)
        assert code == Code.INVALID_ARGUMENT and "job_id" in details
    code, _ = code_of(stub.GetJob, pb.GetJobRequest(job_id=new_id("job")), admin_md)
    assert code == Code.NOT_FOUND


# -- ListJobs ------------------------------------------------------------------------------------------


def list_jobs(stub: pb_grpc.GenerationServiceStub, md: Any, **kwargs: Any) -> pb.ListJobsResponse:
    request = pb.ListJobsRequest(
        filter=pb.JobFilter(**kwargs.pop("filter", {})),
        limit=kwargs.pop("limit", 100),
        cursor=kwargs.pop("cursor", ""),
        include_total=kwargs.pop("include_total", False),
    )
    assert not kwargs
    response: pb.ListJobsResponse = stub.ListJobs(request, metadata=md, timeout=TIMEOUT)
    return response


def test_list_jobs_views_and_filters(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    admin_md: Any,
    submit: Callable[..., pb.Job],
    run: Callable[[str], str],
    kill: Callable[..., str],
    make_container: Callable[..., Container],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(10)
    pending = submit(client_id).id
    completed = submit(client_id).id
    assert run(completed) == "completed"
    cancelled = submit(client_id).id
    stub.CancelJob(pb.CancelJobRequest(job_id=cancelled), metadata=admin_md, timeout=TIMEOUT)
    refused = submit(client_id).id
    blocked = make_container(provider=FailingProvider(ErrorClass.SAFETY_BLOCKED))
    assert build_runner(blocked, worker_id="t").run(refused) == "error"
    dead = kill(client_id)

    def ids(**flt: Any) -> list[str]:
        return [j.id for j in list_jobs(stub, viewer_md, filter={"client_id": client_id, **flt}).items]

    assert ids() == [dead, refused, cancelled, completed, pending]  # newest first
    assert ids(view="all") == ids()
    assert ids(view="active") == [pending]
    assert ids(view="completed") == [completed]
    assert ids(view="failed") == [dead, refused, cancelled]
    assert ids(status="cancelled") == [cancelled]
    assert ids(view="failed", status="error") == [refused]
    assert ids(view="active", status="completed") == []  # the status narrows the view
    listed = list_jobs(stub, viewer_md, filter={"client_id": client_id, "view": "failed"}, include_total=True)
    assert listed.has_total and listed.total == 3
    assert {j.status for j in listed.items} == {"dead", "error", "cancelled"}
    assert not list_jobs(stub, viewer_md, filter={"client_id": client_id}).has_total

    # "admin" is the admin space
    mine = submit()
    since = {"client_id": "admin", "created_from": mine.created_at}
    admin_jobs = list_jobs(stub, viewer_md, filter=since).items
    assert mine.id in [j.id for j in admin_jobs]
    assert all(j.client_id == "" for j in admin_jobs)

    for bad, message in [
        ({"view": "archived"}, "view must be one of"),
        ({"status": "lost"}, "status must be one of"),
        ({"client_id": "acme"}, "client_id is malformed"),
    ]:
        code, details = code_of(stub.ListJobs, pb.ListJobsRequest(filter=pb.JobFilter(**bad)), viewer_md)
        assert code == Code.INVALID_ARGUMENT and message in details


def test_list_jobs_by_date_range(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    submit: Callable[..., pb.Job],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(5)
    first, second, third = (submit(client_id) for _ in range(3))

    def ids(**flt: Any) -> list[str]:
        return [j.id for j in list_jobs(stub, viewer_md, filter={"client_id": client_id, **flt}).items]

    assert ids(created_from=second.created_at) == [third.id, second.id]  # from: inclusive
    assert ids(created_to=second.created_at) == [first.id]  # to: exclusive
    assert ids(created_from=second.created_at, created_to=third.created_at) == [second.id]
    later = to_timestamp(datetime.now(UTC) + timedelta(days=1))
    assert ids(created_from=later) == []


def test_list_jobs_pages_by_keyset_without_duplicates_or_gaps_while_jobs_arrive(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    submit: Callable[..., pb.Job],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(20)
    existing = [submit(client_id).id for _ in range(8)]
    seen: list[str] = []
    cursor, pages = "", 0
    while True:
        page = list_jobs(stub, viewer_md, filter={"client_id": client_id}, limit=3, cursor=cursor, include_total=True)
        if pages == 0:
            assert page.total == 8 and page.has_total
        seen += [j.id for j in page.items]
        pages += 1
        submit(client_id)  # a newer job arrives between pages: it sorts before the cursor
        cursor = page.next_cursor
        if not cursor:
            break
    assert pages == 3
    assert seen == list(reversed(existing))  # every job once, newest first
    fresh = list_jobs(stub, viewer_md, filter={"client_id": client_id}, include_total=True)
    assert fresh.total == 11 and fresh.next_cursor == ""


def test_list_jobs_limits_and_cursors(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    admin_md: Any,
    job_request: Callable[..., Any],
) -> None:
    made = [container.commands.submit(job_request(), ADMIN) for _ in range(51)]
    since = {"client_id": "admin", "created_from": to_timestamp(made[0].created_at)}
    page = list_jobs(stub, viewer_md, filter=since, limit=0)
    assert len(page.items) == 50 and page.next_cursor  # 0: the default
    rest = list_jobs(stub, viewer_md, filter=since, cursor=page.next_cursor)
    assert {j.id for j in made} <= {j.id for j in [*page.items, *rest.items]}

    for limit in (101, -1):
        code, details = code_of(stub.ListJobs, pb.ListJobsRequest(limit=limit), viewer_md)
        assert code == Code.INVALID_ARGUMENT and "limit must be between 1 and 100" in details
    for cursor in ("not-a-cursor!", encode_cursor(["yesterday", "job_x"]), encode_cursor([1])):
        code, details = code_of(stub.ListJobs, pb.ListJobsRequest(cursor=cursor), viewer_md)
        assert code == Code.INVALID_ARGUMENT and "cursor" in details


def test_totals_without_any_filter_count_every_row(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    generate: Callable[..., pb.Asset],
) -> None:
    made = [generate(), generate()]
    jobs = stub.ListJobs(pb.ListJobsRequest(include_total=True), metadata=viewer_md, timeout=TIMEOUT)
    assert jobs.has_total and jobs.total >= len(jobs.items) >= 2
    request = pb.ListAssetsRequest(filter=pb.AssetFilter(include_deleted=True), include_total=True)
    assets = stub.ListAssets(request, metadata=viewer_md, timeout=TIMEOUT)
    assert assets.has_total and assets.total >= len(assets.items) >= len(made)


# -- ListActiveJobs ------------------------------------------------------------------------------------


def test_list_active_jobs_has_an_etag_for_cheap_polling(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    admin_md: Any,
    submit: Callable[..., pb.Job],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(5)

    def active(if_none_match: str = "") -> pb.ActiveJobs:
        request = pb.ListActiveJobsRequest(client_id=client_id, if_none_match=if_none_match)
        response: pb.ActiveJobs = stub.ListActiveJobs(request, metadata=viewer_md, timeout=TIMEOUT)
        return response

    empty = active()
    assert not empty.items and empty.etag and (empty.generating, empty.pending) == (0, 0)
    first, second = submit(client_id), submit(client_id)
    polled = active()
    assert [j.id for j in polled.items] == [first.id, second.id]  # pending, oldest first
    assert (polled.generating, polled.pending) == (0, 2) and polled.etag != empty.etag
    assert active().etag == polled.etag  # nothing changed
    unchanged = active(polled.etag)
    assert unchanged.not_modified and not unchanged.items
    assert unchanged.etag == polled.etag and (unchanged.generating, unchanged.pending) == (0, 2)
    stale = active(empty.etag)
    assert not stale.not_modified and len(stale.items) == 2

    seen: dict[str, pb.ActiveJobs] = {}

    def checkpoint(point: str) -> None:
        if point == "before_model":  # the second job is generating now
            seen["running"], seen["again"] = active(), active()

    assert build_runner(container, worker_id="t", checkpoint=checkpoint).run(second.id) == "completed"
    running = seen["running"]
    assert [j.id for j in running.items] == [second.id, first.id]  # generating first
    assert running.items[0].status == "generating" and (running.generating, running.pending) == (1, 1)
    assert running.etag != polled.etag and seen["again"].etag == running.etag

    after_run = active()
    assert [j.id for j in after_run.items] == [first.id] and after_run.etag not in (polled.etag, running.etag)
    stub.CancelJob(pb.CancelJobRequest(job_id=first.id), metadata=admin_md, timeout=TIMEOUT)
    after_cancel = active(after_run.etag)
    assert not after_cancel.not_modified and not after_cancel.items and after_cancel.etag != after_run.etag
    third = submit(client_id)
    after_submit = active(after_cancel.etag)
    assert not after_submit.not_modified and [j.id for j in after_submit.items] == [third.id]

    code, _ = code_of(stub.ListActiveJobs, pb.ListActiveJobsRequest(client_id="nope"), viewer_md)
    assert code == Code.INVALID_ARGUMENT


# -- CancelJob and RegenerateJob -----------------------------------------------------------------------


def test_cancel_a_pending_job_but_not_a_completed_one_and_never_as_a_viewer(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    submit: Callable[..., pb.Job],
    run: Callable[[str], str],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
    app_user: Actor,
) -> None:
    client_id = funded_client(3)
    job = submit(client_id)
    assert balance_of(client_id).available == 2

    code, _ = code_of(stub.CancelJob, pb.CancelJobRequest(job_id=job.id), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED
    stranger = Actor(ActorType.USER, "usr_01someoneelse0000000000000")
    code, _ = code_of(stub.CancelJob, pb.CancelJobRequest(job_id=job.id), call_metadata(stranger))
    assert code == Code.PERMISSION_DENIED

    cancelled = stub.CancelJob(
        pb.CancelJobRequest(job_id=job.id, reason="wrong sofa"), metadata=admin_md, timeout=TIMEOUT
    )
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == ADMIN.id
    assert cancelled.settlement == "released" and cancelled.error_message == "wrong sofa"
    assert balance_of(client_id).available == 3
    (event,) = audit_events(container, job.id)
    assert event["type"] == "generation.job.cancel" and event["actor"]["id"] == ADMIN.id
    assert event["data"]["previous"]["status"] == "pending" and event["data"]["previous"]["settlement"] == "held"
    assert event["data"]["new"]["status"] == "cancelled" and event["data"]["reason"] == "wrong sofa"
    code, details = code_of(stub.CancelJob, pb.CancelJobRequest(job_id=job.id), admin_md)
    assert code == Code.FAILED_PRECONDITION and "cancelled" in details

    done = submit(client_id)
    assert run(done.id) == "completed"
    code, details = code_of(stub.CancelJob, pb.CancelJobRequest(job_id=done.id), admin_md)
    assert code == Code.FAILED_PRECONDITION and "completed" in details

    own = submit(client_id)  # the submitting user may cancel their own job
    mine = stub.CancelJob(pb.CancelJobRequest(job_id=own.id), metadata=call_metadata(app_user), timeout=TIMEOUT)
    assert mine.status == "cancelled" and mine.cancelled_by == app_user.id

    code, _ = code_of(stub.CancelJob, pb.CancelJobRequest(job_id="job_?"), admin_md)
    assert code == Code.INVALID_ARGUMENT
    code, _ = code_of(stub.CancelJob, pb.CancelJobRequest(job_id=new_id("job")), admin_md)
    assert code == Code.NOT_FOUND


def test_regenerate_links_the_new_job_and_an_admins_regenerate_charges_nobody(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    app_user: Actor,
    submit: Callable[..., pb.Job],
    run: Callable[[str], str],
    get_job: Callable[[str], pb.JobDetail],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
) -> None:
    client_id = funded_client(5)
    original = submit(client_id, instructions="Warm evening mood")
    assert run(original.id) == "completed"
    assert balance_of(client_id).balance == 4

    again = stub.RegenerateJob(pb.RegenerateJobRequest(job_id=original.id), metadata=admin_md, timeout=TIMEOUT)
    assert again.id != original.id and again.regenerated_from == original.id and again.client_id == client_id
    assert again.status == "pending" and again.is_admin and again.submitted_by == ADMIN.id
    assert again.settlement == "none" and again.hold_id == "" and again.credits_reserved == 0
    assert get_job(again.id).prompt == get_job(original.id).prompt
    assert get_job(again.id).settings == get_job(original.id).settings
    assert run(again.id) == "completed"
    assert balance_of(client_id).balance == 4 and balance_of(client_id).available == 4  # charged nobody
    asset = stub.GetAsset(pb.GetAssetRequest(asset_id=get_job(again.id).job.asset_id), metadata=admin_md).asset
    assert asset.gallery_client_id == client_id and not asset.is_admin_generated
    (event,) = audit_events(container, again.id)
    assert event["type"] == "generation.job.regenerate" and event["data"]["regenerated_from"] == original.id
    assert event["data"]["previous"] is None and event["data"]["new"]["status"] == "pending"

    # the app's user regenerating pays for it, like a submit
    paid = stub.RegenerateJob(pb.RegenerateJobRequest(job_id=original.id), metadata=call_metadata(app_user))
    assert paid.regenerated_from == original.id and paid.settlement == "held" and paid.credits_reserved == 1
    assert balance_of(client_id).available == 3

    code, _ = code_of(stub.RegenerateJob, pb.RegenerateJobRequest(job_id=original.id), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED
    admin_job = submit()
    code, _ = code_of(stub.RegenerateJob, pb.RegenerateJobRequest(job_id=admin_job.id), call_metadata(app_user))
    assert code == Code.PERMISSION_DENIED
    code, _ = code_of(stub.RegenerateJob, pb.RegenerateJobRequest(job_id="nope"), admin_md)
    assert code == Code.INVALID_ARGUMENT
    code, _ = code_of(stub.RegenerateJob, pb.RegenerateJobRequest(job_id=new_id("job")), admin_md)
    assert code == Code.NOT_FOUND


# -- assets --------------------------------------------------------------------------------------------


def list_assets(stub: pb_grpc.GenerationServiceStub, md: Any, **flt: Any) -> pb.ListAssetsResponse:
    request = pb.ListAssetsRequest(filter=pb.AssetFilter(**flt), limit=100, include_total=True)
    response: pb.ListAssetsResponse = stub.ListAssets(request, metadata=md, timeout=TIMEOUT)
    return response


def asset_ids(stub: pb_grpc.GenerationServiceStub, md: Any, **flt: Any) -> list[str]:
    return [a.id for a in list_assets(stub, md, **flt).items]


def test_list_assets_filters(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    admin_md: Any,
    submit: Callable[..., pb.Job],
    generate: Callable[..., pb.Asset],
    get_job: Callable[[str], pb.JobDetail],
    make_container: Callable[..., Container],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(5)
    clean = generate(client_id)
    retried_job = submit(client_id)  # its first attempt fails: its asset has errors
    flaky = build_runner(make_container(provider=FailingProvider(failures=1)), worker_id="t")
    assert flaky.run(retried_job.id) == "pending"
    assert flaky.run(retried_job.id) == "completed"
    retried = get_job(retried_job.id).job.asset_id
    admin_asset = generate()

    assert clean.client_id == client_id and clean.gallery_client_id == client_id and not clean.is_admin_generated
    assert clean.approval_status == "pending" and not clean.has_errors and clean.url
    assert (clean.width, clean.height, clean.content_type) == (1024, 576, "image/png") and clean.size_bytes > 0
    assert list(clean.product_names) == ["Gray velvet sofa"] and clean.model == DEFAULT_MODEL
    assert admin_asset.is_admin_generated and admin_asset.client_id == "" and admin_asset.gallery_client_id == ""

    mine = list_assets(stub, viewer_md, client_id=client_id)
    assert [a.id for a in mine.items] == [retried, clean.id] and mine.total == 2 and mine.has_total
    assert asset_ids(stub, viewer_md, client_id=client_id, has_errors=1) == [retried]
    assert asset_ids(stub, viewer_md, client_id=client_id, has_errors=2) == [clean.id]
    assert asset_ids(stub, viewer_md, client_id=client_id, admin_generated=2) == [retried, clean.id]
    assert asset_ids(stub, viewer_md, client_id=client_id, admin_generated=1) == []
    admin_made = list_assets(stub, viewer_md, admin_generated=1, created_from=admin_asset.created_at).items
    assert admin_asset.id in [a.id for a in admin_made] and all(a.is_admin_generated for a in admin_made)
    client_made = list_assets(stub, viewer_md, admin_generated=2, created_from=clean.created_at).items
    assert clean.id in [a.id for a in client_made] and admin_asset.id not in [a.id for a in client_made]
    assert all(not a.is_admin_generated for a in client_made)

    review = pb.ReviewAssetRequest(asset_id=clean.id, approval_status="approved")
    stub.ReviewAsset(review, metadata=admin_md, timeout=TIMEOUT)
    assert asset_ids(stub, viewer_md, client_id=client_id, approval_status="approved") == [clean.id]
    assert asset_ids(stub, viewer_md, client_id=client_id, approval_status="pending") == [retried]
    assert asset_ids(stub, viewer_md, client_id=client_id, approval_status="rejected") == []

    second_made = list_assets(stub, viewer_md, client_id=client_id).items[0].created_at
    assert asset_ids(stub, viewer_md, client_id=client_id, created_from=second_made) == [retried]
    assert asset_ids(stub, viewer_md, client_id=client_id, created_to=second_made) == [clean.id]

    for bad, message in [
        ({"approval_status": "maybe"}, "approval_status must be"),
        ({"admin_generated": 3}, "admin_generated"),
        ({"has_errors": -1}, "has_errors"),
        ({"client_id": "admin"}, "client_id is malformed"),
    ]:
        code, details = code_of(stub.ListAssets, pb.ListAssetsRequest(filter=pb.AssetFilter(**bad)), viewer_md)
        assert code == Code.INVALID_ARGUMENT and message in details
    code, _ = code_of(stub.ListAssets, pb.ListAssetsRequest(limit=101), viewer_md)
    assert code == Code.INVALID_ARGUMENT


def test_list_assets_pages_by_keyset(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    generate: Callable[..., pb.Asset],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(5)
    made = [generate(client_id).id for _ in range(3)]
    request = pb.ListAssetsRequest(filter=pb.AssetFilter(client_id=client_id), limit=2)
    first = stub.ListAssets(request, metadata=viewer_md, timeout=TIMEOUT)
    assert [a.id for a in first.items] == [made[2], made[1]] and first.next_cursor and not first.has_total
    request.cursor = first.next_cursor
    second = stub.ListAssets(request, metadata=viewer_md, timeout=TIMEOUT)
    assert [a.id for a in second.items] == [made[0]] and second.next_cursor == ""


def test_get_asset_shows_its_job_prompt_and_settings(
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    generate: Callable[..., pb.Asset],
    get_job: Callable[[str], pb.JobDetail],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(2)
    asset = generate(client_id)
    detail = stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id), metadata=viewer_md, timeout=TIMEOUT)
    job = get_job(asset.job_id)
    assert detail.asset.id == asset.id and detail.asset.job_id == job.job.id and detail.asset.url
    assert detail.job.id == job.job.id and detail.job.asset_id == asset.id and detail.job.status == "completed"
    assert detail.prompt == job.prompt and detail.settings == job.settings and list(detail.products) == [SOFA]

    code, details = code_of(stub.GetAsset, pb.GetAssetRequest(asset_id=asset.job_id), viewer_md)
    assert code == Code.INVALID_ARGUMENT and "asset_id" in details
    code, _ = code_of(stub.GetAsset, pb.GetAssetRequest(asset_id=new_id("ast")), viewer_md)
    assert code == Code.NOT_FOUND


def test_review_approves_rejects_and_puts_back_and_each_review_is_audited(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    generate: Callable[..., pb.Asset],
    funded_client: Callable[..., str],
) -> None:
    asset = generate(funded_client(2))

    def review(status: str, note: str = "", actor: Actor = ADMIN) -> pb.Asset:
        request = pb.ReviewAssetRequest(asset_id=asset.id, approval_status=status, note=note)
        reviewed: pb.Asset = stub.ReviewAsset(request, metadata=call_metadata(actor), timeout=TIMEOUT)
        return reviewed

    approved = review("approved", "on brand")
    assert approved.approval_status == "approved" and approved.reviewed_by == ADMIN.id
    assert approved.HasField("reviewed_at") and approved.review_note == "on brand"
    rejected = review("rejected", "the sofa is the wrong colour", SUPER_ADMIN)
    assert rejected.approval_status == "rejected" and rejected.reviewed_by == SUPER_ADMIN.id
    back = review("pending")
    assert back.approval_status == "pending" and back.reviewed_by == "" and not back.HasField("reviewed_at")

    events = audit_events(container, asset.id)
    assert [e["type"] for e in events] == ["generation.asset.review"] * 3
    assert [(e["data"]["previous"]["approval_status"], e["data"]["new"]["approval_status"]) for e in events] == [
        ("pending", "approved"),
        ("approved", "rejected"),
        ("rejected", "pending"),
    ]
    assert [e["actor"]["id"] for e in events] == [ADMIN.id, SUPER_ADMIN.id, ADMIN.id]

    code, details = code_of(
        stub.ReviewAsset, pb.ReviewAssetRequest(asset_id=asset.id, approval_status="maybe"), admin_md
    )
    assert code == Code.INVALID_ARGUMENT and "approval_status" in details
    code, _ = code_of(
        stub.ReviewAsset, pb.ReviewAssetRequest(asset_id=asset.id, approval_status="approved"), call_metadata(VIEWER)
    )
    assert code == Code.PERMISSION_DENIED
    code, _ = code_of(
        stub.ReviewAsset, pb.ReviewAssetRequest(asset_id=new_id("ast"), approval_status="approved"), admin_md
    )
    assert code == Code.NOT_FOUND
    assert len(audit_events(container, asset.id)) == 3  # refusals write nothing


def test_delete_is_soft_hides_the_asset_and_happens_once(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    viewer_md: Any,
    generate: Callable[..., pb.Asset],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(3)
    kept, deleted = generate(client_id), generate(client_id)

    code, _ = code_of(stub.DeleteAsset, pb.DeleteAssetRequest(asset_id=deleted.id), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED
    gone = stub.DeleteAsset(
        pb.DeleteAssetRequest(asset_id=deleted.id, reason="duplicate"), metadata=admin_md, timeout=TIMEOUT
    )
    assert gone.HasField("deleted_at")
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(generated_asset).where(generated_asset.c.id == deleted.id)).one()
    grace = timedelta(seconds=container.settings.asset_purge_grace_s)
    assert row.deleted_by == ADMIN.id and row.purged_at is None
    assert row.purge_after is not None and abs(row.purge_after - (row.deleted_at + grace)) < timedelta(seconds=1)
    assert container.storage.exists(row.object_key)  # removed after the grace period, not now

    assert asset_ids(stub, viewer_md, client_id=client_id) == [kept.id]
    shown = list_assets(stub, viewer_md, client_id=client_id, include_deleted=True).items
    assert [a.id for a in shown] == [deleted.id, kept.id] and shown[0].HasField("deleted_at")
    detail = stub.GetAsset(pb.GetAssetRequest(asset_id=deleted.id), metadata=viewer_md, timeout=TIMEOUT)
    assert detail.asset.HasField("deleted_at")

    code, details = code_of(stub.DeleteAsset, pb.DeleteAssetRequest(asset_id=deleted.id), admin_md)
    assert code == Code.FAILED_PRECONDITION and "already deleted" in details
    review = pb.ReviewAssetRequest(asset_id=deleted.id, approval_status="approved")
    code, _ = code_of(stub.ReviewAsset, review, admin_md)
    assert code == Code.FAILED_PRECONDITION
    (event,) = audit_events(container, deleted.id)
    assert event["type"] == "generation.asset.delete"
    assert event["data"]["previous"]["deleted"] is False and event["data"]["new"]["deleted"] is True


def test_transfer_moves_an_admin_generated_asset_into_a_clients_gallery_once(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    viewer_md: Any,
    generate: Callable[..., pb.Asset],
    funded_client: Callable[..., str],
) -> None:
    asset = generate()
    target = funded_client(1)
    client_asset = generate(funded_client(1))

    def transfer(asset_id: str, client_id: str) -> pb.TransferAssetRequest:
        return pb.TransferAssetRequest(asset_id=asset_id, client_id=client_id)

    code, details = code_of(stub.TransferAsset, transfer(asset.id, "acme"), admin_md)
    assert code == Code.INVALID_ARGUMENT and "client_id" in details
    code, _ = code_of(stub.TransferAsset, transfer(asset.id, target), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED
    code, details = code_of(stub.TransferAsset, transfer(client_asset.id, target), admin_md)
    assert code == Code.FAILED_PRECONDITION and "admin-generated" in details
    assert asset_ids(stub, viewer_md, client_id=target) == []

    moved = stub.TransferAsset(transfer(asset.id, target), metadata=admin_md, timeout=TIMEOUT)
    assert moved.transferred_to_client_id == target and moved.gallery_client_id == target
    assert moved.HasField("transferred_at") and moved.is_admin_generated and moved.client_id == ""
    assert asset_ids(stub, viewer_md, client_id=target) == [asset.id]
    assert asset_ids(stub, viewer_md, client_id=target, admin_generated=1) == [asset.id]
    stats = stub.GetClientStats(pb.GetClientStatsRequest(client_id=target), metadata=viewer_md, timeout=TIMEOUT)
    assert stats.generations == 1 and stats.jobs == 0 and stats.storage_bytes == asset.size_bytes

    code, details = code_of(stub.TransferAsset, transfer(asset.id, funded_client(0)), admin_md)
    assert code == Code.FAILED_PRECONDITION and "already transferred" in details
    (event,) = audit_events(container, asset.id)
    assert event["type"] == "generation.asset.transfer" and event["actor"]["id"] == ADMIN.id
    assert event["data"]["previous"]["gallery_client_id"] is None
    assert event["data"]["previous"]["transferred_to_client_id"] is None
    assert event["data"]["new"]["gallery_client_id"] == target
    assert event["data"]["new"]["transferred_to_client_id"] == target
    assert audit_events(container, client_asset.id) == []


# -- dead jobs and the guarded bulk retry --------------------------------------------------------------


def preview_of(stub: pb_grpc.GenerationServiceStub, md: Any, client_id: str, error_class: str = "") -> Any:
    request = pb.PreviewDeadRetryRequest(client_id=client_id, error_class=error_class)
    return stub.PreviewDeadRetry(request, metadata=md, timeout=TIMEOUT)


def retry_request(preview: Any, count: int | None = None, **overrides: Any) -> pb.RetryDeadJobsRequest:
    values: dict[str, Any] = {
        "preview_token": preview.preview_token,
        "confirmed_count": preview.count if count is None else count,
        "reason": "the model's outage is over",
        "idempotency_key": new_id("key"),
    }
    values.update(overrides)
    return pb.RetryDeadJobsRequest(**values)


def operations_touching(container: Container, job_ids: list[str]) -> list[str]:
    with container.engine.connect() as conn:
        return list(conn.execute(sa.select(bulk_item.c.operation_id).where(bulk_item.c.job_id.in_(job_ids))).scalars())


def test_dead_jobs_are_listed_previewed_retried_and_paced_back_to_pending(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    viewer_md: Any,
    kill: Callable[..., str],
    run: Callable[[str], str],
    get_job: Callable[[str], pb.JobDetail],
    funded_client: Callable[..., str],
    balance_of: Callable[[str], Any],
) -> None:
    client_id = funded_client(10)
    dead = [kill(client_id) for _ in range(3)]
    assert balance_of(client_id).available == 10  # a dead job's hold is released

    detail = get_job(dead[0])
    assert detail.job.status == "dead" and detail.job.error_class == "server_error"
    assert detail.job.error_message == "boom" and detail.job.settlement == "released"
    (attempt,) = detail.attempts
    assert attempt.outcome == "retryable_error" and attempt.error_class == "server_error" and attempt.http_status == 503
    assert [(t.from_status, t.to_status) for t in detail.transitions][-1] == ("generating", "dead")
    old_holds = {job_id: get_job(job_id).job.hold_id for job_id in dead}

    listed = stub.ListDeadJobs(pb.ListDeadJobsRequest(client_id=client_id), metadata=viewer_md, timeout=TIMEOUT)
    assert [j.id for j in listed.items] == list(reversed(dead)) and listed.total == 3 and listed.has_total
    first = stub.ListDeadJobs(pb.ListDeadJobsRequest(client_id=client_id, limit=2), metadata=viewer_md)
    rest = stub.ListDeadJobs(
        pb.ListDeadJobsRequest(client_id=client_id, limit=2, cursor=first.next_cursor), metadata=viewer_md
    )
    assert [j.id for j in [*first.items, *rest.items]] == list(reversed(dead)) and rest.next_cursor == ""
    other_class = pb.ListDeadJobsRequest(client_id=client_id, error_class="timeout")
    assert not stub.ListDeadJobs(other_class, metadata=viewer_md).items
    code, _ = code_of(stub.ListDeadJobs, pb.ListDeadJobsRequest(client_id="acme"), viewer_md)
    assert code == Code.INVALID_ARGUMENT

    code, _ = code_of(stub.PreviewDeadRetry, pb.PreviewDeadRetryRequest(client_id=client_id), viewer_md)
    assert code == Code.PERMISSION_DENIED
    preview = preview_of(stub, admin_md, client_id)
    assert preview.count == 3
    assert [(c.key, c.count) for c in preview.by_error_class] == [("server_error", 3)]
    assert [(c.key, c.count) for c in preview.by_client] == [(client_id, 3)]
    assert [j.id for j in preview.sample] == dead  # oldest first
    assert Decimal(preview.estimated_cost_usd) == 3 * CURRENT_PRICES.typical(DEFAULT_MODEL) > 0
    assert preview.estimated_credits == 3 and preview.per_client_rate_per_minute == 20 and preview.preview_token
    expires = preview.expires_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(seconds=590) < expires <= timedelta(seconds=600)

    # a wrong count or a missing reason: refused, nothing changes
    code, details = code_of(stub.RetryDeadJobs, retry_request(preview, 2), admin_md)
    assert code == Code.INVALID_ARGUMENT and "does not match" in details
    code, details = code_of(stub.RetryDeadJobs, retry_request(preview, reason=" "), admin_md)
    assert code == Code.INVALID_ARGUMENT and "reason is required" in details
    code, _ = code_of(stub.RetryDeadJobs, retry_request(preview), call_metadata(VIEWER))
    assert code == Code.PERMISSION_DENIED
    assert operations_touching(container, dead) == []
    assert all(get_job(job_id).job.status == "dead" for job_id in dead)

    request = retry_request(preview)
    op = stub.RetryDeadJobs(request, metadata=admin_md, timeout=TIMEOUT)
    assert op.id.startswith("bop_") and (op.kind, op.status) == ("dead_retry", "running")
    assert (op.confirmed_count, op.total_count, op.enqueued_count, op.skipped_count) == (3, 3, 0, 0)
    assert op.requested_by == ADMIN.id and op.reason == "the model's outage is over" and op.rate_per_minute == 20
    assert json.loads(op.filter_json) == {"client_id": client_id, "error_class": None}
    assert stub.RetryDeadJobs(request, metadata=admin_md, timeout=TIMEOUT).id == op.id  # a replay: the same one
    (event,) = audit_events(container, op.id)
    assert event["type"] == "generation.bulk_operation.retry_dead" and event["actor"]["id"] == ADMIN.id
    assert event["data"]["previous"] is None and event["data"]["new"] == {"status": "running", "total_count": 3}
    assert event["data"]["confirmed_count"] == 3 and event["data"]["reason"] == op.reason

    # one running operation per client: a second one is refused while this one runs
    again = preview_of(stub, admin_md, client_id)
    assert again.count == 3  # still dead until the pacer gets to them
    code, details = code_of(stub.RetryDeadJobs, retry_request(again), admin_md)
    assert code == Code.ABORTED and "another bulk operation" in details
    assert set(operations_touching(container, dead)) == {op.id}

    container.dead_jobs.pace()
    for job_id in dead:
        job = get_job(job_id)
        assert job.job.status == "pending" and job.job.attempt_count == 1 and job.job.max_attempts == 4
        assert job.job.settlement == "held" and job.job.hold_id and job.job.hold_id != old_holds[job_id]
        assert job.job.credits_reserved == 1
        last = job.transitions[-1]
        assert (last.from_status, last.to_status, last.reason, last.actor) == ("dead", "pending", op.reason, ADMIN.id)
    assert balance_of(client_id).available == 7  # a fresh hold for each client job
    container.dead_jobs.pace()  # nothing waits any more: the operation completes
    done = stub.GetBulkOperation(pb.GetBulkOperationRequest(operation_id=op.id), metadata=viewer_md)
    assert (done.status, done.enqueued_count, done.skipped_count, done.error_message) == ("completed", 3, 0, "")
    assert done.HasField("finished_at")
    listed_ops = stub.ListBulkOperations(pb.ListBulkOperationsRequest(limit=100), metadata=viewer_md).items
    assert [o.status for o in listed_ops if o.id == op.id] == ["completed"]
    ends = [e for e in audit_events(container, op.id) if e["type"] == "generation.bulk_operation.complete"]
    assert len(ends) == 1 and ends[0]["data"]["new"]["status"] == "completed"
    assert not stub.ListDeadJobs(pb.ListDeadJobsRequest(client_id=client_id), metadata=viewer_md).items

    assert run(dead[0]) == "completed"  # the retried job now runs, and its fresh hold is captured
    assert balance_of(client_id).balance == 9

    code, _ = code_of(stub.GetBulkOperation, pb.GetBulkOperationRequest(operation_id="bop_"), viewer_md)
    assert code == Code.INVALID_ARGUMENT
    code, _ = code_of(stub.GetBulkOperation, pb.GetBulkOperationRequest(operation_id=new_id("bop")), viewer_md)
    assert code == Code.NOT_FOUND


def test_a_retry_whose_dead_jobs_changed_since_the_preview_enqueues_nothing(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    admin_md: Any,
    kill: Callable[..., str],
    get_job: Callable[[str], pb.JobDetail],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(5)
    first = kill(client_id)
    preview = preview_of(stub, admin_md, client_id)
    assert preview.count == 1
    second = kill(client_id)  # another job dies after the preview

    code, details = code_of(stub.RetryDeadJobs, retry_request(preview), admin_md)
    assert code == Code.ABORTED and "changed" in details
    assert operations_touching(container, [first, second]) == []
    assert get_job(first).job.status == "dead" and get_job(second).job.status == "dead"
    assert preview_of(stub, admin_md, client_id).count == 2  # a new preview sees both

    empty = preview_of(stub, admin_md, client_id, error_class="timeout")
    assert empty.count == 0 and not empty.sample and Decimal(empty.estimated_cost_usd) == 0
    code, details = code_of(stub.RetryDeadJobs, retry_request(empty), admin_md)
    assert code == Code.INVALID_ARGUMENT and "nothing to retry" in details


def test_a_tampered_or_another_admins_preview_token_is_refused(
    container: Container,
    stub: pb_grpc.GenerationServiceStub,
    call_metadata: CallMetadata,
    admin_md: Any,
    kill: Callable[..., str],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(2)
    dead = kill(client_id)
    preview = preview_of(stub, admin_md, client_id)

    payload, stamp, signature = preview.preview_token.rsplit(".", 2)
    middle = len(payload) // 2
    payload = payload[:middle] + ("A" if payload[middle] != "A" else "B") + payload[middle + 1 :]
    for token in (f"{payload}.{stamp}.{signature}", "not-a-token", preview.preview_token + "x"):
        code, details = code_of(stub.RetryDeadJobs, retry_request(preview, preview_token=token), admin_md)
        assert code == Code.INVALID_ARGUMENT and "preview_token is not valid" in details
    code, details = code_of(stub.RetryDeadJobs, retry_request(preview, preview_token=""), admin_md)
    assert code == Code.INVALID_ARGUMENT and "preview_token" in details
    code, details = code_of(stub.RetryDeadJobs, retry_request(preview), call_metadata(SUPER_ADMIN))
    assert code == Code.INVALID_ARGUMENT and "another admin" in details
    assert operations_touching(container, [dead]) == []


def test_admin_space_dead_jobs_are_listed_and_previewed_under_admin(
    stub: pb_grpc.GenerationServiceStub, admin_md: Any, kill: Callable[..., str]
) -> None:
    dead = kill()
    listed = stub.ListDeadJobs(pb.ListDeadJobsRequest(client_id="admin", limit=100), metadata=admin_md)
    assert dead in [j.id for j in listed.items] and all(j.client_id == "" for j in listed.items)
    preview = preview_of(stub, admin_md, "admin")
    assert preview.count >= 1 and [c.key for c in preview.by_client] == ["admin"] and preview.estimated_credits == 0


# -- figures -------------------------------------------------------------------------------------------


def test_stats_and_client_stats_count_what_was_made(
    uncached_stub: pb_grpc.GenerationServiceStub,
    stub: pb_grpc.GenerationServiceStub,
    viewer_md: Any,
    submit: Callable[..., pb.Job],
    generate: Callable[..., pb.Asset],
    kill: Callable[..., str],
    funded_client: Callable[..., str],
) -> None:
    client_id = funded_client(10)
    day = datetime.now(UTC).date()
    before = uncached_stub.GetStats(pb.GetStatsRequest(), metadata=viewer_md, timeout=TIMEOUT)
    empty = uncached_stub.GetClientStats(pb.GetClientStatsRequest(client_id=client_id), metadata=viewer_md)
    assert (empty.generations, empty.jobs, empty.active_jobs, empty.failed_jobs, empty.storage_bytes) == (0,) * 5
    assert not empty.HasField("last_generation_at")

    made = [generate(client_id), generate(client_id)]
    submit(client_id)  # stays pending
    kill(client_id)

    after = uncached_stub.GetStats(pb.GetStatsRequest(), metadata=viewer_md, timeout=TIMEOUT)
    assert after.completed_24h >= before.completed_24h + 2
    assert after.failed_24h >= before.failed_24h + 1 and after.dead_jobs >= 1
    assert 0 < after.error_rate_24h <= 1
    if datetime.now(UTC).date() == day:  # the day didn't turn meanwhile
        assert after.generations_today >= before.generations_today + 2
    assert after.generations_week >= after.generations_today
    assert after.generations_month >= after.generations_today
    assert after.storage_bytes >= sum(a.size_bytes for a in made)
    assert after.pending >= 1 and after.oldest_pending_age_s >= 0
    assert after.provider == "offline" and after.provider_health in ("healthy", "degraded", "down")
    top = [(c.client_id, c.generations) for c in after.top_clients_30d]
    assert len(top) <= 5 and top == sorted(top, key=lambda c: (-c[1], c[0]))

    client = uncached_stub.GetClientStats(pb.GetClientStatsRequest(client_id=client_id), metadata=viewer_md)
    assert client.client_id == client_id
    assert (client.generations, client.jobs, client.active_jobs, client.failed_jobs) == (2, 4, 1, 1)
    assert client.storage_bytes == sum(a.size_bytes for a in made)
    assert client.last_generation_at == made[1].created_at

    cached = stub.GetStats(pb.GetStatsRequest(), metadata=viewer_md, timeout=TIMEOUT)  # the shared server's
    assert cached.provider == "offline"
    code, _ = code_of(uncached_stub.GetClientStats, pb.GetClientStatsRequest(client_id="admin"), viewer_md)
    assert code == Code.INVALID_ARGUMENT
