"""The generation gRPC server (and its /healthz, /readyz, /metrics, local objects on HTTP_PORT): `generation-grpc`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from flask import Flask

from generation.adapters.credits import HoldGone
from generation.adapters.storage import LocalStorage, local_objects_blueprint
from generation.bootstrap import SERVICE_NAME, Container, bootstrap
from generation.config import Settings
from generation.domain import errors
from generation.domain.model import Product
from generation.domain.ports import StorageError
from generation.service_layer.commands import SubmitJob, check_asset_id, check_job_id
from generation.service_layer.dead_jobs import DeadFilter
from generation.views import AssetFilter, JobFilter
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.common.grpc_server import GrpcServer, abort_on
from scenergy.common.http import init_app
from scenergy.common.ids import is_id
from scenergy.common.logging import configure_logging
from scenergy.common.ops_server import serve_grpc
from scenergy.common.pagination import InvalidPage
from scenergy.common.protobuf import InvalidTimestamp, from_timestamp, to_timestamp
from scenergy.generation.v1 import generation_pb2 as pb
from scenergy.generation.v1 import generation_pb2_grpc as pb_grpc

ERRORS: dict[type[Exception], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidTimestamp: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidPage: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    errors.SetChanged: grpc.StatusCode.ABORTED,
    errors.PreviewExpired: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Busy: grpc.StatusCode.ABORTED,
    errors.IdempotencyConflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.InsufficientCredits: grpc.StatusCode.FAILED_PRECONDITION,
    HoldGone: grpc.StatusCode.FAILED_PRECONDITION,
    errors.DependencyUnavailable: grpc.StatusCode.UNAVAILABLE,
}

R = TypeVar("R")


def _settings_pb(data: dict[str, Any]) -> pb.JobSettings:
    return pb.JobSettings(
        **{k: str(data.get(k, "")) for k in ("room_type", "style", "lighting", "aspect_ratio", "model")}
    )


def _products_pb(products: list[dict[str, Any]]) -> list[pb.ProductRef]:
    return [
        pb.ProductRef(
            id=p["id"], name=p.get("name", ""), image_url=p.get("image_url", ""), description=p.get("description", "")
        )
        for p in products
    ]


def _duration_ms(job: Any) -> int:
    if job.started_at and job.completed_at:
        return int((job.completed_at - job.started_at).total_seconds() * 1000)
    return 0


def job_pb(job: Any) -> pb.Job:
    return pb.Job(
        id=job.id,
        client_id=job.client_id or "",
        is_admin=job.is_admin,
        flow_id=job.flow_id or "",
        status=job.status,
        stage=job.stage,
        progress=job.progress,
        attempt_count=job.attempt_count,
        max_attempts=job.max_attempts,
        model=job.model,
        regenerated_from=job.regenerated_from or "",
        asset_id=job.asset_id or "",
        error_class=job.error_class or "",
        error_message=job.error_message or "",
        credits_reserved=job.credits_reserved,
        credits_charged=job.credits_charged,
        hold_id=job.hold_id or "",
        settlement=job.settlement,
        submitted_by=job.submitted_by,
        submitted_by_type=job.submitted_by_type,
        created_at=to_timestamp(job.created_at),
        started_at=to_timestamp(job.started_at),
        completed_at=to_timestamp(job.completed_at),
        updated_at=to_timestamp(job.updated_at),
        available_at=to_timestamp(job.available_at) if job.status == "pending" else None,
        duration_ms=_duration_ms(job),
        tokens_total=job.total_tokens,
        estimated_cost_usd=str(job.estimated_cost_usd),
        product_count=len(job.products),
        cancelled_by=job.cancelled_by or "",
    )


def attempt_pb(a: Any) -> pb.Attempt:
    return pb.Attempt(
        number=a.number,
        worker_id=a.worker_id,
        outcome=a.outcome,
        error_class=a.error_class or "",
        error_message=a.error_message or "",
        error_stack=a.error_stack or "",
        provider_request_id=a.provider_request_id or "",
        prompt_tokens=a.prompt_tokens,
        candidate_tokens=a.candidate_tokens,
        total_tokens=a.total_tokens,
        queue_ms=a.queue_ms or 0,
        model_ms=a.model_ms or 0,
        upload_ms=a.upload_ms or 0,
        total_ms=a.total_ms or 0,
        http_status=a.http_status or 0,
        retry_after_s=a.retry_after_s or 0.0,
        started_at=to_timestamp(a.started_at),
        finished_at=to_timestamp(a.finished_at),
    )


class GenerationServicer(pb_grpc.GenerationServiceServicer):
    """Translates protobuf to commands and domain errors to status codes; no logic of its own."""

    def __init__(self, container: Container) -> None:
        self._c = container
        self._commands = container.commands
        self._views = container.views
        self._storage = container.storage
        self._url_ttl = container.settings.presigned_url_ttl_s
        # The last full answer to the active-jobs poll per client filter, by etag: an unchanged list is
        # converted to protobuf once, however many screens poll it. Read-only once built.
        self._active_answers: dict[str, pb.ActiveJobs] = {}

    def _run(self, ctx: grpc.ServicerContext, fn: Callable[[], R]) -> R:
        with abort_on(ctx, ERRORS):
            return fn()

    def _url(self, key: str) -> str:
        try:
            return self._storage.presigned_url(key, expires_s=self._url_ttl)
        except StorageError:
            return ""  # the page still renders; the image shows as unavailable

    def asset_pb(self, asset: Any) -> pb.Asset:
        return pb.Asset(
            id=asset.id,
            job_id=asset.job_id,
            client_id=asset.client_id or "",
            is_admin_generated=asset.is_admin_generated,
            transferred_to_client_id=asset.transferred_to_client_id or "",
            transferred_at=to_timestamp(asset.transferred_at),
            gallery_client_id=asset.gallery_client_id or "",
            approval_status=asset.approval_status,
            reviewed_by=asset.reviewed_by or "",
            reviewed_at=to_timestamp(asset.reviewed_at),
            content_type=asset.content_type,
            size_bytes=asset.size_bytes,
            width=asset.width,
            height=asset.height,
            url=self._url(asset.object_key) if asset.purged_at is None else "",
            has_errors=asset.had_errors,
            product_names=list(asset.product_names),
            model=asset.model,
            created_at=to_timestamp(asset.created_at),
            deleted_at=to_timestamp(asset.deleted_at),
            review_note=asset.review_note or "",
        )

    # -- jobs --------------------------------------------------------------------------------------

    def SubmitJob(self, request: pb.SubmitJobRequest, ctx: grpc.ServicerContext) -> pb.Job:
        def run() -> pb.Job:
            s = request.settings
            cmd = SubmitJob(
                client_id=request.client_id,
                admin_space=request.admin_space,
                products=[Product(p.id, p.name, p.image_url, p.description) for p in request.products],
                room_type=s.room_type,
                style=s.style,
                lighting=s.lighting,
                aspect_ratio=s.aspect_ratio,
                model=s.model,
                instructions=request.instructions,
                inspiration_images=tuple(request.inspiration_images),
                flow_id=request.flow_id,
                idempotency_key=request.idempotency_key,
            )
            return job_pb(self._commands.submit(cmd, context.current_actor()))

        return self._run(ctx, run)

    def GetJob(self, request: pb.GetJobRequest, ctx: grpc.ServicerContext) -> pb.JobDetail:
        def run() -> pb.JobDetail:
            job, attempts, transitions, asset = self._views.job(check_job_id(request.job_id))
            failed = [a for a in attempts if a.error_stack or a.error_message]
            last = attempts[-1] if attempts else None
            processing_ms = 0
            if last is not None:  # the last attempt, so far when it still runs
                end = last.finished_at or (datetime.now(UTC) if last.outcome == "running" else None)
                processing_ms = int((end - last.started_at).total_seconds() * 1000) if end else 0
            return pb.JobDetail(
                job=job_pb(job),
                products=_products_pb(job.products),
                prompt=job.prompt,
                settings=_settings_pb(job.settings),
                instructions=job.instructions,
                inspiration_images=list(job.inspiration_images),
                attempts=[attempt_pb(a) for a in attempts],
                transitions=[
                    pb.Transition(
                        from_status=t.from_status or "",
                        to_status=t.to_status,
                        attempt=t.attempt,
                        reason=t.reason,
                        actor=t.actor,
                        occurred_at=to_timestamp(t.occurred_at),
                    )
                    for t in transitions
                ],
                asset_url=self._url(asset.object_key) if asset is not None and asset.purged_at is None else "",
                error_stack=(failed[-1].error_stack or "") if failed else "",
                prompt_tokens=job.prompt_tokens,
                candidate_tokens=job.candidate_tokens,
                price_version=job.price_version or "",
                queue_ms=(attempts[0].queue_ms or 0) if attempts else 0,
                processing_ms=processing_ms,
                settings_json=json.dumps(job.settings, sort_keys=True),
            )

        return self._run(ctx, run)

    def ListJobs(self, request: pb.ListJobsRequest, ctx: grpc.ServicerContext) -> pb.ListJobsResponse:
        def run() -> pb.ListJobsResponse:
            f = request.filter
            flt = JobFilter(
                view=f.view or "all",
                client_id=f.client_id,
                status=f.status,
                created_from=from_timestamp(f.created_from, "created_from"),
                created_to=from_timestamp(f.created_to, "created_to"),
            )
            page = self._views.jobs(
                flt, limit=request.limit, cursor=request.cursor, include_total=request.include_total
            )
            return pb.ListJobsResponse(
                items=[job_pb(j) for j in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=page.total is not None,
            )

        return self._run(ctx, run)

    def ListActiveJobs(self, request: pb.ListActiveJobsRequest, ctx: grpc.ServicerContext) -> pb.ActiveJobs:
        def run() -> pb.ActiveJobs:
            rows, etag, generating, pending = self._views.active(request.client_id, request.if_none_match)
            if rows is None:
                return pb.ActiveJobs(etag=etag, not_modified=True, generating=generating, pending=pending)
            answer = self._active_answers.get(request.client_id)
            if answer is None or answer.etag != etag:
                answer = pb.ActiveJobs(
                    items=[job_pb(j) for j in rows], etag=etag, generating=generating, pending=pending
                )
                if len(self._active_answers) > 1000:
                    self._active_answers.clear()
                self._active_answers[request.client_id] = answer
            return answer

        return self._run(ctx, run)

    def CancelJob(self, request: pb.CancelJobRequest, ctx: grpc.ServicerContext) -> pb.Job:
        return self._run(
            ctx, lambda: job_pb(self._commands.cancel(request.job_id, request.reason, context.current_actor()))
        )

    def RegenerateJob(self, request: pb.RegenerateJobRequest, ctx: grpc.ServicerContext) -> pb.Job:
        return self._run(
            ctx,
            lambda: job_pb(self._commands.regenerate(request.job_id, request.idempotency_key, context.current_actor())),
        )

    # -- dead jobs ---------------------------------------------------------------------------------

    def ListDeadJobs(self, request: pb.ListDeadJobsRequest, ctx: grpc.ServicerContext) -> pb.ListJobsResponse:
        def run() -> pb.ListJobsResponse:
            page = self._views.dead_jobs(
                request.client_id, request.error_class, limit=request.limit, cursor=request.cursor
            )
            return pb.ListJobsResponse(
                items=[job_pb(j) for j in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=True,
            )

        return self._run(ctx, run)

    def PreviewDeadRetry(self, request: pb.PreviewDeadRetryRequest, ctx: grpc.ServicerContext) -> pb.DeadRetryPreview:
        def run() -> pb.DeadRetryPreview:
            p = self._c.dead_jobs.preview(DeadFilter(request.client_id, request.error_class), context.current_actor())
            return pb.DeadRetryPreview(
                count=p.count,
                by_error_class=[pb.Count(key=k, count=n) for k, n in p.by_error_class],
                by_client=[pb.Count(key=k, count=n) for k, n in p.by_client],
                sample=[job_pb(j) for j in p.sample],
                estimated_cost_usd=str(p.estimated_cost_usd),
                estimated_credits=p.estimated_credits,
                preview_token=p.token,
                expires_at=to_timestamp(p.expires_at),
                per_client_rate_per_minute=p.rate_per_minute,
            )

        return self._run(ctx, run)

    def RetryDeadJobs(self, request: pb.RetryDeadJobsRequest, ctx: grpc.ServicerContext) -> pb.BulkOperation:
        def run() -> pb.BulkOperation:
            op = self._c.dead_jobs.retry(
                request.preview_token,
                request.confirmed_count,
                request.reason,
                request.idempotency_key,
                context.current_actor(),
            )
            return bulk_pb(op)

        return self._run(ctx, run)

    def GetBulkOperation(self, request: pb.GetBulkOperationRequest, ctx: grpc.ServicerContext) -> pb.BulkOperation:
        def run() -> pb.BulkOperation:
            if not is_id(request.operation_id, "bop"):
                raise errors.InvalidArgument("operation_id is malformed: expected a bop_ id")
            return bulk_pb(self._views.bulk_operation(request.operation_id))

        return self._run(ctx, run)

    def ListBulkOperations(
        self, request: pb.ListBulkOperationsRequest, ctx: grpc.ServicerContext
    ) -> pb.ListBulkOperationsResponse:
        def run() -> pb.ListBulkOperationsResponse:
            page = self._views.bulk_operations(limit=request.limit, cursor=request.cursor)
            return pb.ListBulkOperationsResponse(items=[bulk_pb(o) for o in page.items], next_cursor=page.next_cursor)

        return self._run(ctx, run)

    # -- assets ------------------------------------------------------------------------------------

    def ListAssets(self, request: pb.ListAssetsRequest, ctx: grpc.ServicerContext) -> pb.ListAssetsResponse:
        def run() -> pb.ListAssetsResponse:
            f = request.filter
            flt = AssetFilter(
                client_id=f.client_id,
                created_from=from_timestamp(f.created_from, "created_from"),
                created_to=from_timestamp(f.created_to, "created_to"),
                approval_status=f.approval_status,
                admin_generated=f.admin_generated,
                has_errors=f.has_errors,
                include_deleted=f.include_deleted,
            )
            page = self._views.assets(
                flt, limit=request.limit, cursor=request.cursor, include_total=request.include_total
            )
            return pb.ListAssetsResponse(
                items=[self.asset_pb(a) for a in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=page.total is not None,
            )

        return self._run(ctx, run)

    def GetAsset(self, request: pb.GetAssetRequest, ctx: grpc.ServicerContext) -> pb.AssetDetail:
        def run() -> pb.AssetDetail:
            asset, job = self._views.asset(check_asset_id(request.asset_id))
            return pb.AssetDetail(
                asset=self.asset_pb(asset),
                prompt=job.prompt,
                settings=_settings_pb(job.settings),
                products=_products_pb(job.products),
                job=job_pb(job),
            )

        return self._run(ctx, run)

    def ReviewAsset(self, request: pb.ReviewAssetRequest, ctx: grpc.ServicerContext) -> pb.Asset:
        return self._run(
            ctx,
            lambda: self.asset_pb(
                self._commands.review(request.asset_id, request.approval_status, request.note, context.current_actor())
            ),
        )

    def DeleteAsset(self, request: pb.DeleteAssetRequest, ctx: grpc.ServicerContext) -> pb.Asset:
        grace = self._c.settings.asset_purge_grace_s
        return self._run(
            ctx,
            lambda: self.asset_pb(
                self._commands.delete_asset(request.asset_id, request.reason, context.current_actor(), grace_s=grace)
            ),
        )

    def TransferAsset(self, request: pb.TransferAssetRequest, ctx: grpc.ServicerContext) -> pb.Asset:
        return self._run(
            ctx,
            lambda: self.asset_pb(
                self._commands.transfer(request.asset_id, request.client_id, context.current_actor())
            ),
        )

    # -- figures -----------------------------------------------------------------------------------

    def GetStats(self, request: pb.GetStatsRequest, ctx: grpc.ServicerContext) -> pb.GenerationStats:
        def run() -> pb.GenerationStats:
            s = dict(self._views.stats())
            top = s.pop("top_clients_30d")
            return pb.GenerationStats(**s, top_clients_30d=[pb.ClientCount(client_id=c, generations=n) for c, n in top])

        return self._run(ctx, run)

    def GetClientStats(self, request: pb.GetClientStatsRequest, ctx: grpc.ServicerContext) -> pb.ClientGenerationStats:
        def run() -> pb.ClientGenerationStats:
            s = self._views.client_stats(request.client_id)
            s["last_generation_at"] = to_timestamp(s["last_generation_at"])
            return pb.ClientGenerationStats(**s)

        return self._run(ctx, run)


def bulk_pb(op: Any) -> pb.BulkOperation:
    return pb.BulkOperation(
        id=op.id,
        kind=op.kind,
        status=op.status,
        reason=op.reason,
        requested_by=op.requested_by,
        confirmed_count=op.confirmed_count,
        enqueued_count=op.enqueued_count,
        skipped_count=op.skipped_count,
        total_count=op.total_count,
        rate_per_minute=op.rate_per_minute,
        filter_json=json.dumps(op.filter, sort_keys=True),
        error_message=op.error_message or "",
        created_at=to_timestamp(op.created_at),
        finished_at=to_timestamp(op.finished_at),
    )


def build_server(container: Container, *, host: str | None = None, port: int | None = None) -> GrpcServer:
    settings = container.settings
    return GrpcServer.for_service(
        GenerationServicer(container),
        pb_grpc.add_GenerationServiceServicer_to_server,
        pb.DESCRIPTOR,
        "GenerationService",
        credential=container.credential,
        host=host or settings.bind_host,
        port=settings.grpc_port if port is None else port,
        max_workers=settings.grpc_max_workers,
    )


def create_ops_app(container: Container) -> Flask:
    """Health, readiness (database, object store) and metrics; in the embedded run, the local objects too."""
    app = Flask("generation")
    if isinstance(container.storage, LocalStorage):
        app.register_blueprint(local_objects_blueprint(container.storage))
    readiness = {"database": lambda: ping(container.engine), "storage": container.storage.check}
    return init_app(app, service=SERVICE_NAME, readiness=readiness)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    container = bootstrap(settings, process="grpc")
    server, ops_app = build_server(container), create_ops_app(container)
    serve_grpc(server, ops_app, name=SERVICE_NAME, host=settings.bind_host, http_port=settings.http_port)
    container.close()


if __name__ == "__main__":
    main()
