"""Generation jobs through the gateway: the job debugger, the active-jobs poll, regenerate and cancel,
the admin generation, and the dead jobs with their guarded bulk retry.

The jobs live in the generation service; the gateway checks input, resolves product ids from its own
directory, adds client names, passes the admin's identity (and idempotency keys where the contract
takes one) and maps the service's answers to HTTP. The service writes the audit events itself.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import sqlalchemy as sa
from flask import Blueprint, Response, request
from pydantic import AwareDatetime, Field, field_validator
from spectree import Response as Responses

from admin_api.adapters.tables import client, product
from admin_api.api.convert import idempotency_key_for, iso, loads, stamp
from admin_api.api.credits import client_names
from admin_api.api.spec import ErrorEnvelope, Model, Out, Page, body_of, query_of, spec
from admin_api.web import container, current_actor
from scenergy.common.http import ApiError
from scenergy.common.ids import is_id
from scenergy.generation.v1 import generation_pb2 as pb

bp = Blueprint("jobs", __name__, url_prefix="/api/admin")

READ_ERRORS = {
    "HTTP_400": ErrorEnvelope,
    "HTTP_401": ErrorEnvelope,
    "HTTP_404": ErrorEnvelope,
    "HTTP_503": ErrorEnvelope,
}
WRITE_ERRORS = {**READ_ERRORS, "HTTP_403": ErrorEnvelope, "HTTP_409": ErrorEnvelope}

CLIENT_ID = r"^(cli_[A-Za-z0-9]{6,64})?$"  # empty: any
CLIENT_OR_ADMIN = r"^(admin|cli_[A-Za-z0-9]{6,64})?$"  # "admin": the admin space; empty: any
ERROR_CLASS = r"^([a-z_]{1,40})?$"
JobStatus = Literal["pending", "generating", "completed", "error", "cancelled", "dead"]
ACTIVE_POLL_ETAG_MAX = 200


# --- shared conversions ----------------------------------------------------------------------


def opt(text: str) -> str | None:
    """The services send "" for an absent text; the API says null."""
    return text or None


def require_id(value: str, prefix: str, field: str) -> str:
    """A malformed id is bad input (400): nothing could be found under it."""
    if not is_id(value, prefix):
        raise ApiError(
            400,
            "invalid_request",
            f"{field} is not a valid {prefix}_ id.",
            {"fields": [{"field": field, "message": f"expected a {prefix}_ id"}]},
        )
    return value


def check_range(created_from: Any, created_to: Any) -> None:
    if created_from and created_to and created_from >= created_to:
        raise ApiError(400, "invalid_request", "created_from must be before created_to.")


def usd(text: str) -> float | None:
    try:
        return float(Decimal(text)) if text else None
    except InvalidOperation:
        return None


def names_of(*ids: str) -> dict[str, str]:
    """Client names from the directory for the non-empty ids given (one query)."""
    return client_names(sorted({i for i in ids if i and i != "admin"}))


def generation() -> Any:
    return container().platform


# --- shapes ----------------------------------------------------------------------------------


class ProductOut(Out):
    id: str
    name: str
    image_url: str | None
    description: str | None


class JobSettingsOut(Out):
    room_type: str
    style: str
    lighting: str
    aspect_ratio: str
    model: str


class JobOut(Out):
    id: str
    client_id: str | None  # null: the admin space
    client_name: str | None
    admin_space: bool
    is_admin: bool  # submitted by an admin (charges nobody)
    flow_id: str | None
    status: str  # pending | generating | completed | error | cancelled | dead
    stage: str  # queued | calling_model | uploading | finalizing
    progress: int
    attempt_count: int
    max_attempts: int
    model: str
    regenerated_from: str | None
    asset_id: str | None
    error_class: str | None
    error_message: str | None
    credits_reserved: int
    credits_charged: int
    settlement: str
    submitted_by: str
    submitted_by_type: str
    cancelled_by: str | None
    product_count: int
    duration_ms: int | None
    tokens_total: int
    estimated_cost_usd: str
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    updated_at: str | None
    available_at: str | None  # a pending retry waits until then


class JobsOut(Out):
    items: list[JobOut]
    next_cursor: str | None
    total: int | None = None


class ActiveJobsOut(Out):
    items: list[JobOut]
    etag: str
    generating: int
    pending: int


class AttemptOut(Out):
    number: int
    worker_id: str
    outcome: str
    error_class: str | None
    error_message: str | None
    error_stack: str | None
    provider_request_id: str | None
    prompt_tokens: int
    candidate_tokens: int
    total_tokens: int
    queue_ms: int
    model_ms: int
    upload_ms: int
    total_ms: int
    http_status: int | None
    retry_after_s: float | None
    started_at: str | None
    finished_at: str | None


class TransitionOut(Out):
    from_status: str | None
    to_status: str
    attempt: int
    reason: str | None
    actor: str
    occurred_at: str | None


class JobDebugOut(Out):
    """The seed's JobDebugInfo (in the API's snake_case), with attempts, transitions and timings."""

    # identity
    job_id: str
    client_id: str | None
    client_name: str | None
    generation_flow_id: str | None
    admin_space: bool
    is_admin: bool
    submitted_by: str
    submitted_by_type: str
    regenerated_from: str | None
    # request
    products: list[ProductOut]
    prompt: str
    settings: JobSettingsOut
    instructions: str
    inspiration_images: list[str]
    # execution
    status: str
    stage: str
    progress: int
    attempt_count: int
    max_attempts: int
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    updated_at: str | None
    available_at: str | None
    duration_ms: int | None
    queue_ms: int | None  # submit to the first start
    processing_ms: int | None  # the last attempt, so far if it runs
    cancelled_by: str | None
    # result
    generated_asset_id: str | None
    asset_url: str | None
    # error
    error_class: str | None
    error_message: str | None
    error_stack: str | None
    # cost
    tokens_used: int | None
    prompt_tokens: int
    candidate_tokens: int
    estimated_cost: float | None  # USD
    estimated_cost_usd: str  # the same, as exact decimal text
    price_version: str | None
    credits_reserved: int
    credits_charged: int
    settlement: str
    attempts: list[AttemptOut]
    transitions: list[TransitionOut]


class CountOut(Out):
    key: str
    count: int


class ClientCountOut(Out):
    client_id: str  # "admin": the admin space
    client_name: str | None
    count: int


class PreviewOut(Out):
    count: int
    by_error_class: list[CountOut]
    by_client: list[ClientCountOut]
    sample: list[JobOut]
    estimated_cost_usd: str
    estimated_credits: int
    preview_token: str
    expires_at: str | None
    per_client_rate_per_minute: int


class BulkOperationOut(Out):
    id: str
    kind: str
    status: str  # running | completed | aborted
    reason: str
    requested_by: str
    confirmed_count: int
    enqueued_count: int
    skipped_count: int
    total_count: int
    rate_per_minute: int
    filter: dict[str, Any]
    error_message: str | None
    created_at: str | None
    finished_at: str | None


class BulkOperationsOut(Out):
    items: list[BulkOperationOut]
    next_cursor: str | None


class JobsQuery(Page):
    view: Literal["all", "active", "completed", "failed"] = "all"
    client_id: str = Field("", max_length=80, pattern=CLIENT_OR_ADMIN, description='a cli_ id, or "admin"')
    status: JobStatus | None = None
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    include_total: bool = False


class ActiveQuery(Model):
    client_id: str = Field("", max_length=80, pattern=CLIENT_ID)


class DeadQuery(Page):
    client_id: str = Field("", max_length=80, pattern=CLIENT_OR_ADMIN, description='a cli_ id, or "admin"')
    error_class: str = Field("", max_length=40, pattern=ERROR_CLASS)


class BulkQuery(Page):
    pass


class CancelIn(Model):
    reason: str = Field("", max_length=500)


class SettingsIn(Model):
    """Left out: the service's default (living_room, modern, natural, 1:1, the default model)."""

    room_type: str = Field("", max_length=40, examples=["living_room"])
    style: str = Field("", max_length=40, examples=["scandinavian"])
    lighting: str = Field("", max_length=40, examples=["natural"])
    aspect_ratio: str = Field("", max_length=10, examples=["16:9"])
    model: str = Field("", max_length=80, examples=["gemini-2.5-flash-image"])


class GenerateIn(Model):
    product_ids: list[str] = Field(min_length=1, max_length=10)
    settings: SettingsIn | None = None  # null or left out: every default
    instructions: str = Field("", max_length=2000)
    inspiration_images: list[str] = Field(default_factory=list, max_length=5)

    @field_validator("product_ids")
    @classmethod
    def _ids(cls, ids: list[str]) -> list[str]:
        for value in ids:
            if not is_id(value):
                raise ValueError(f"{value[:80]!r} is not a product id")
        if len(set(ids)) != len(ids):
            raise ValueError("a product is listed twice")
        return ids

    @field_validator("inspiration_images")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith("https://") or len(url) > 2000:
                raise ValueError("inspiration images must be https URLs of at most 2000 characters")
        return urls


class PreviewIn(Model):
    client_id: str = Field("", max_length=80, pattern=CLIENT_OR_ADMIN, description='a cli_ id, or "admin"')
    error_class: str = Field("", max_length=40, pattern=ERROR_CLASS)


class RetryIn(Model):
    preview_token: str = Field(min_length=1, max_length=4096)
    confirmed_count: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=3, max_length=500)


# --- conversions -----------------------------------------------------------------------------


def job_out(j: pb.Job, names: dict[str, str]) -> JobOut:
    return JobOut(
        id=j.id,
        client_id=opt(j.client_id),
        client_name=names.get(j.client_id),
        admin_space=not j.client_id,
        is_admin=j.is_admin,
        flow_id=opt(j.flow_id),
        status=j.status,
        stage=j.stage,
        progress=j.progress,
        attempt_count=j.attempt_count,
        max_attempts=j.max_attempts,
        model=j.model,
        regenerated_from=opt(j.regenerated_from),
        asset_id=opt(j.asset_id),
        error_class=opt(j.error_class),
        error_message=opt(j.error_message),
        credits_reserved=j.credits_reserved,
        credits_charged=j.credits_charged,
        settlement=j.settlement,
        submitted_by=j.submitted_by,
        submitted_by_type=j.submitted_by_type,
        cancelled_by=opt(j.cancelled_by),
        product_count=j.product_count,
        duration_ms=j.duration_ms if j.started_at.seconds and j.completed_at.seconds else None,
        tokens_total=j.tokens_total,
        estimated_cost_usd=j.estimated_cost_usd or "0",
        created_at=iso(j.created_at),
        started_at=iso(j.started_at),
        completed_at=iso(j.completed_at),
        updated_at=iso(j.updated_at),
        available_at=iso(j.available_at),
    )


def jobs_out(items: Any) -> list[JobOut]:
    items = list(items)
    names = names_of(*(j.client_id for j in items))
    return [job_out(j, names) for j in items]


def product_out(p: pb.ProductRef) -> ProductOut:
    return ProductOut(id=p.id, name=p.name, image_url=opt(p.image_url), description=opt(p.description))


def settings_out(s: pb.JobSettings) -> JobSettingsOut:
    return JobSettingsOut(
        room_type=s.room_type, style=s.style, lighting=s.lighting, aspect_ratio=s.aspect_ratio, model=s.model
    )


def attempt_out(a: pb.Attempt) -> AttemptOut:
    return AttemptOut(
        number=a.number,
        worker_id=a.worker_id,
        outcome=a.outcome,
        error_class=opt(a.error_class),
        error_message=opt(a.error_message),
        error_stack=opt(a.error_stack),
        provider_request_id=opt(a.provider_request_id),
        prompt_tokens=a.prompt_tokens,
        candidate_tokens=a.candidate_tokens,
        total_tokens=a.total_tokens,
        queue_ms=a.queue_ms,
        model_ms=a.model_ms,
        upload_ms=a.upload_ms,
        total_ms=a.total_ms,
        http_status=a.http_status or None,
        retry_after_s=a.retry_after_s or None,
        started_at=iso(a.started_at),
        finished_at=iso(a.finished_at),
    )


def debug_out(d: pb.JobDetail) -> JobDebugOut:
    j = d.job
    ran = len(d.attempts) > 0
    return JobDebugOut(
        job_id=j.id,
        client_id=opt(j.client_id),
        client_name=names_of(j.client_id).get(j.client_id),
        generation_flow_id=opt(j.flow_id),
        admin_space=not j.client_id,
        is_admin=j.is_admin,
        submitted_by=j.submitted_by,
        submitted_by_type=j.submitted_by_type,
        regenerated_from=opt(j.regenerated_from),
        products=[product_out(p) for p in d.products],
        prompt=d.prompt,
        settings=settings_out(d.settings),
        instructions=d.instructions,
        inspiration_images=list(d.inspiration_images),
        status=j.status,
        stage=j.stage,
        progress=j.progress,
        attempt_count=j.attempt_count,
        max_attempts=j.max_attempts,
        created_at=iso(j.created_at),
        started_at=iso(j.started_at),
        completed_at=iso(j.completed_at),
        updated_at=iso(j.updated_at),
        available_at=iso(j.available_at),
        duration_ms=j.duration_ms if j.started_at.seconds and j.completed_at.seconds else None,
        queue_ms=d.queue_ms if ran else None,
        processing_ms=d.processing_ms if ran else None,
        cancelled_by=opt(j.cancelled_by),
        generated_asset_id=opt(j.asset_id),
        asset_url=opt(d.asset_url),
        error_class=opt(j.error_class),
        error_message=opt(j.error_message),
        error_stack=opt(d.error_stack),
        tokens_used=j.tokens_total if ran else None,
        prompt_tokens=d.prompt_tokens,
        candidate_tokens=d.candidate_tokens,
        estimated_cost=usd(j.estimated_cost_usd) if d.price_version else None,
        estimated_cost_usd=j.estimated_cost_usd or "0",
        price_version=opt(d.price_version),
        credits_reserved=j.credits_reserved,
        credits_charged=j.credits_charged,
        settlement=j.settlement,
        attempts=[attempt_out(a) for a in d.attempts],
        transitions=[
            TransitionOut(
                from_status=opt(t.from_status),
                to_status=t.to_status,
                attempt=t.attempt,
                reason=opt(t.reason),
                actor=t.actor,
                occurred_at=iso(t.occurred_at),
            )
            for t in d.transitions
        ],
    )


def bulk_out(o: pb.BulkOperation) -> BulkOperationOut:
    return BulkOperationOut(
        id=o.id,
        kind=o.kind,
        status=o.status,
        reason=o.reason,
        requested_by=o.requested_by,
        confirmed_count=o.confirmed_count,
        enqueued_count=o.enqueued_count,
        skipped_count=o.skipped_count,
        total_count=o.total_count,
        rate_per_minute=o.rate_per_minute,
        filter=loads(o.filter_json) or {},
        error_message=opt(o.error_message),
        created_at=iso(o.created_at),
        finished_at=iso(o.finished_at),
    )


def etags_of(header: str) -> list[str]:
    """The entity tags of an If-None-Match header, without quotes or the weak prefix."""
    tags = []
    for part in header.split(","):
        tag = part.strip()
        tag = tag[2:] if tag.startswith("W/") else tag
        tag = tag.strip('"')
        if tag:
            tags.append(tag[:ACTIVE_POLL_ETAG_MAX])
    return tags[:20]


# --- jobs ------------------------------------------------------------------------------------


@bp.get("/jobs")
@spec.validate(query=JobsQuery, resp=Responses(HTTP_200=JobsOut, **READ_ERRORS))
def list_jobs() -> JobsOut:
    """Jobs newest first. `view`: active (pending, generating), completed, failed (error, dead, cancelled)
    or all; filters: client (`admin` for the admin space), one status, a creation date range."""
    query = query_of(JobsQuery)
    check_range(query.created_from, query.created_to)
    p = generation()
    response = p.call(
        "generation",
        p.generation.ListJobs,
        pb.ListJobsRequest(
            filter=pb.JobFilter(
                view=query.view,
                client_id=query.client_id,
                status=query.status or "",
                created_from=stamp(query.created_from),
                created_to=stamp(query.created_to),
            ),
            limit=query.limit,
            cursor=query.cursor,
            include_total=query.include_total,
        ),
    )
    return JobsOut(
        items=jobs_out(response.items),
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


@bp.get("/jobs/active")
@spec.validate(query=ActiveQuery, resp=Responses("HTTP_304", HTTP_200=ActiveJobsOut, **READ_ERRORS))
def active_jobs() -> Any:
    """Pending and generating jobs with their progress (generating first), for the 2-second poll.
    The answer carries an `ETag`; send it back in `If-None-Match` and an unchanged list is a 304
    without a body (the service doesn't even build the items)."""
    query = query_of(ActiveQuery)
    sent = etags_of(request.headers.get("If-None-Match", ""))
    p = generation()
    response = p.call(
        "generation",
        p.generation.ListActiveJobs,
        pb.ListActiveJobsRequest(client_id=query.client_id, if_none_match=sent[0] if len(sent) == 1 else ""),
    )
    etag = f'"{response.etag}"'
    if response.not_modified or response.etag in sent or "*" in sent:
        unchanged = Response(status=304)
        unchanged.headers["ETag"] = etag
        return unchanged
    body = ActiveJobsOut(
        items=jobs_out(response.items), etag=response.etag, generating=response.generating, pending=response.pending
    )
    return body, 200, {"ETag": etag}


@bp.get("/jobs/<job_id>")
@spec.validate(resp=Responses(HTTP_200=JobDebugOut, **READ_ERRORS))
def get_job(job_id: str) -> JobDebugOut:
    """The job debugger: the request (products, the full compiled prompt, settings), the execution
    (status, progress, timings, every attempt and transition), the result, the error and the cost."""
    require_id(job_id, "job", "job_id")
    p = generation()
    return debug_out(p.call("generation", p.generation.GetJob, pb.GetJobRequest(job_id=job_id)))


@bp.post("/jobs/<job_id>/regenerate")
@spec.validate(resp=Responses(HTTP_201=JobOut, **WRITE_ERRORS))
def regenerate(job_id: str) -> tuple[JobOut, int]:
    """A new job with the original's settings, linked to it (`regenerated_from`); charges nobody."""
    require_id(job_id, "job", "job_id")
    p = generation()
    key = idempotency_key_for(current_actor().id)
    job = p.call("generation", p.generation.RegenerateJob, pb.RegenerateJobRequest(job_id=job_id, idempotency_key=key))
    return jobs_out([job])[0], 201


@bp.post("/jobs/<job_id>/cancel")
@spec.validate(json=CancelIn, resp=Responses(HTTP_200=JobOut, **WRITE_ERRORS))
def cancel(job_id: str) -> JobOut:
    """Stop a pending or generating job (409 otherwise); a client job's credit hold is released."""
    require_id(job_id, "job", "job_id")
    body = body_of(CancelIn)
    p = generation()
    job = p.call("generation", p.generation.CancelJob, pb.CancelJobRequest(job_id=job_id, reason=body.reason))
    return jobs_out([job])[0]


@bp.post("/generate")
@spec.validate(json=GenerateIn, resp=Responses(HTTP_201=JobOut, **WRITE_ERRORS))
def generate() -> tuple[JobOut, int]:
    """An admin generation into the admin space: no credits; the asset is admin-generated and can be
    transferred to a client later. Products are picked from the directory by id."""
    body = body_of(GenerateIn)
    products = _products(body.product_ids)
    s = body.settings or SettingsIn.model_validate({})
    p = generation()
    job = p.call(
        "generation",
        p.generation.SubmitJob,
        pb.SubmitJobRequest(
            admin_space=True,
            products=products,
            settings=pb.JobSettings(
                room_type=s.room_type, style=s.style, lighting=s.lighting, aspect_ratio=s.aspect_ratio, model=s.model
            ),
            instructions=body.instructions,
            inspiration_images=body.inspiration_images,
            idempotency_key=idempotency_key_for(current_actor().id),
        ),
    )
    return jobs_out([job])[0], 201


def _products(ids: list[str]) -> list[pb.ProductRef]:
    """The products of live clients, in the order given; unknown ids are a 400 naming them. The
    directory keeps no product description: the category stands in for it."""
    with container().engine.connect() as conn:
        rows = conn.execute(
            sa.select(product.c.id, product.c.name, product.c.image_url, product.c.category)
            .join(client, client.c.id == product.c.client_id)
            .where(product.c.id.in_(ids), client.c.deleted_at.is_(None))
        ).all()
    found = {r.id: r for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ApiError(
            400,
            "unknown_products",
            f"No product {', '.join(missing)}.",
            {"product_ids": missing, "fields": [{"field": "product_ids", "message": "unknown product ids"}]},
        )
    return [
        pb.ProductRef(
            id=found[i].id, name=found[i].name, image_url=found[i].image_url or "", description=found[i].category or ""
        )
        for i in ids
    ]


# --- dead jobs -------------------------------------------------------------------------------


@bp.get("/jobs/dead")
@spec.validate(query=DeadQuery, resp=Responses(HTTP_200=JobsOut, **READ_ERRORS))
def dead_jobs() -> JobsOut:
    """Jobs whose last attempt failed with an error worth retrying, newest first, with the total."""
    query = query_of(DeadQuery)
    p = generation()
    response = p.call(
        "generation",
        p.generation.ListDeadJobs,
        pb.ListDeadJobsRequest(
            client_id=query.client_id, error_class=query.error_class, limit=query.limit, cursor=query.cursor
        ),
    )
    return JobsOut(
        items=jobs_out(response.items),
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


@bp.post("/jobs/dead/retry-preview")
@spec.validate(json=PreviewIn, resp=Responses(HTTP_200=PreviewOut, **WRITE_ERRORS))
def retry_preview() -> PreviewOut:
    """What a bulk retry would touch (count, by error class and client, a sample, the cost) and a
    token naming exactly that set, valid for ten minutes. Changes nothing."""
    body = body_of(PreviewIn)
    p = generation()
    preview = p.call(
        "generation",
        p.generation.PreviewDeadRetry,
        pb.PreviewDeadRetryRequest(client_id=body.client_id, error_class=body.error_class),
    )
    names = names_of(*(c.key for c in preview.by_client), *(j.client_id for j in preview.sample))
    return PreviewOut(
        count=preview.count,
        by_error_class=[CountOut(key=c.key, count=c.count) for c in preview.by_error_class],
        by_client=[
            ClientCountOut(client_id=c.key, client_name=names.get(c.key), count=c.count) for c in preview.by_client
        ],
        sample=[job_out(j, names) for j in preview.sample],
        estimated_cost_usd=preview.estimated_cost_usd or "0",
        estimated_credits=preview.estimated_credits,
        preview_token=preview.preview_token,
        expires_at=iso(preview.expires_at),
        per_client_rate_per_minute=preview.per_client_rate_per_minute,
    )


@bp.post("/jobs/dead/retry")
@spec.validate(json=RetryIn, resp=Responses(HTTP_200=BulkOperationOut, **WRITE_ERRORS))
def retry_dead() -> BulkOperationOut:
    """Retry the previewed dead jobs: the count must be the preview's (400 otherwise); if the set
    changed since, nothing is retried (409). The jobs are enqueued gradually, per client."""
    body = body_of(RetryIn)
    p = generation()
    operation = p.call(
        "generation",
        p.generation.RetryDeadJobs,
        pb.RetryDeadJobsRequest(
            preview_token=body.preview_token,
            confirmed_count=body.confirmed_count,
            reason=body.reason,
            idempotency_key=idempotency_key_for(current_actor().id),
        ),
    )
    return bulk_out(operation)


@bp.get("/jobs/bulk-operations")
@spec.validate(query=BulkQuery, resp=Responses(HTTP_200=BulkOperationsOut, **READ_ERRORS))
def list_bulk_operations() -> BulkOperationsOut:
    """Bulk retries, newest first, with their progress."""
    query = query_of(BulkQuery)
    p = generation()
    page = p.call(
        "generation",
        p.generation.ListBulkOperations,
        pb.ListBulkOperationsRequest(limit=query.limit, cursor=query.cursor),
    )
    return BulkOperationsOut(items=[bulk_out(o) for o in page.items], next_cursor=page.next_cursor or None)


@bp.get("/jobs/bulk-operations/<operation_id>")
@spec.validate(resp=Responses(HTTP_200=BulkOperationOut, **READ_ERRORS))
def get_bulk_operation(operation_id: str) -> BulkOperationOut:
    require_id(operation_id, "bop", "operation_id")
    p = generation()
    return bulk_out(
        p.call("generation", p.generation.GetBulkOperation, pb.GetBulkOperationRequest(operation_id=operation_id))
    )
