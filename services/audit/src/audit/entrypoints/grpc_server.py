"""The audit gRPC server (and its /healthz, /readyz, /metrics on HTTP_PORT): `audit-grpc`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
import orjson
from flask import Flask

from audit.adapters.store import Checkpoint
from audit.bootstrap import SERVICE_NAME, Container, bootstrap
from audit.config import Settings
from audit.domain import errors
from audit.domain.diff import diff_states
from audit.domain.model import AuditEntry
from audit.views import EntryFilter
from scenergy.audit.v1 import audit_pb2 as pb
from scenergy.audit.v1 import audit_pb2_grpc as pb_grpc
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.common.grpc_server import GrpcServer, abort_on
from scenergy.common.http import init_app
from scenergy.common.logging import configure_logging
from scenergy.common.ops_server import serve_grpc
from scenergy.common.protobuf import InvalidTimestamp, from_timestamp, to_timestamp

ERRORS: dict[type[Exception], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidTimestamp: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.EntryNotFound: grpc.StatusCode.NOT_FOUND,
    errors.NothingToPurge: grpc.StatusCode.FAILED_PRECONDITION,
}

R = TypeVar("R")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def entry_pb(e: AuditEntry, *, summary: bool = False) -> pb.Entry:
    """A summary (ListEntries with `summary`) leaves the states and metadata unset."""
    return pb.Entry(
        seq=e.seq,
        id=e.id,
        occurred_at=to_timestamp(e.occurred_at),
        recorded_at=to_timestamp(e.recorded_at),
        source=e.source,
        event_type=e.event_type,
        action=e.action,
        entity_type=e.entity_type,
        entity_id=e.entity_id,
        actor_type=e.actor_type,
        actor_id=e.actor_id,
        actor_role=e.actor_role or "",
        impersonator_id=e.impersonator_id or "",
        ip_address=e.ip_address or "",
        user_agent=e.user_agent or "",
        request_id=e.request_id or "",
        outcome=e.outcome,
        error_code=e.error_code or "",
        error_message=e.error_message or "",
        description=e.description,
        previous_state_json="" if summary else _json(e.previous_state),
        new_state_json="" if summary else _json(e.new_state),
        metadata_json="" if summary else _json(e.metadata),
        redacted_fields=list(e.redacted_fields),
        prev_hash=e.prev_hash,
        hash=e.hash,
    )


def checkpoint_pb(c: Checkpoint) -> pb.Checkpoint:
    return pb.Checkpoint(
        id=c.id,
        seq=c.seq,
        last_id=c.last_id or "",
        last_hash=c.last_hash,
        entry_count=c.entry_count,
        reason=c.reason,
        created_at=to_timestamp(c.created_at),
        key_id=c.key_id,
        signature=c.signature,
    )


def entry_filter(f: pb.EntryFilter) -> EntryFilter:
    return EntryFilter(
        actor_id=f.actor_id,
        actor_type=f.actor_type,
        action=f.action,
        entity_type=f.entity_type,
        entity_id=f.entity_id,
        occurred_from=from_timestamp(f.occurred_from, "occurred_from"),
        occurred_to=from_timestamp(f.occurred_to, "occurred_to"),
        outcome=f.outcome,
        query=f.query,
    ).validate()


class AuditServicer(pb_grpc.AuditServiceServicer):
    """Translates protobuf to calls and domain errors to status codes; no logic of its own."""

    def __init__(self, container: Container) -> None:
        self._service = container.service

    def _run(self, ctx: grpc.ServicerContext, fn: Callable[[], R]) -> R:
        with abort_on(ctx, ERRORS):
            return fn()

    def ListEntries(self, request: pb.ListEntriesRequest, ctx: grpc.ServicerContext) -> pb.ListEntriesResponse:
        def run() -> pb.ListEntriesResponse:
            page = self._service.list_entries(
                entry_filter(request.filter),
                context.current_actor(),
                limit=request.limit,
                cursor=request.cursor,
                with_total=request.include_total,
                summary=request.summary,
            )
            return pb.ListEntriesResponse(
                items=[entry_pb(e, summary=request.summary) for e in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=page.total is not None,
            )

        return self._run(ctx, run)

    def GetEntry(self, request: pb.GetEntryRequest, ctx: grpc.ServicerContext) -> pb.EntryDetail:
        def run() -> pb.EntryDetail:
            entry = self._service.get_entry(request.id, context.current_actor())
            changes = diff_states(entry.previous_state, entry.new_state, entry.redacted_fields)
            return pb.EntryDetail(
                entry=entry_pb(entry),
                changes=[
                    pb.Change(
                        path=c.path,
                        kind=c.kind,
                        redacted=c.redacted,
                        before_json="" if c.redacted or c.kind == "added" else _json(c.before),
                        after_json="" if c.redacted or c.kind == "removed" else _json(c.after),
                    )
                    for c in changes
                ],
            )

        return self._run(ctx, run)

    def RecentActivity(self, request: pb.RecentActivityRequest, ctx: grpc.ServicerContext) -> pb.ListEntriesResponse:
        def run() -> pb.ListEntriesResponse:
            items = self._service.recent_activity(request.limit, context.current_actor())
            return pb.ListEntriesResponse(items=[entry_pb(e) for e in items])

        return self._run(ctx, run)

    def ExportEntries(self, request: pb.ExportEntriesRequest, ctx: grpc.ServicerContext) -> Iterator[pb.ExportChunk]:
        # Everything that can fail on the request runs before the first chunk, so it maps to a status.
        export = self._run(
            ctx,
            lambda: self._service.export(entry_filter(request.filter), request.format, context.current_actor()),
        )
        first = True
        for data in export.chunks:
            yield pb.ExportChunk(data=data, content_type=export.content_type if first else "")
            first = False
        if first:  # an empty export still says what it is
            yield pb.ExportChunk(data=b"", content_type=export.content_type)

    def VerifyChain(self, request: pb.VerifyChainRequest, ctx: grpc.ServicerContext) -> pb.VerifyReport:
        def run() -> pb.VerifyReport:
            report = self._service.verify(context.current_actor())
            first = report.first
            return pb.VerifyReport(
                ok=report.ok,
                entries_checked=report.entries_checked,
                missing=report.missing,
                first_bad_id=first.entry_id if first else "",
                first_bad_seq=first.seq if first else 0,
                first_problem=first.kind if first else "",
                start_seq=report.start_seq,
                end_seq=report.end_seq,
                checkpoints_checked=report.checkpoints_checked,
                problems=[
                    pb.VerifyProblem(kind=p.kind, seq=p.seq, entry_id=p.entry_id, detail=p.detail)
                    for p in report.problems
                ],
            )

        return self._run(ctx, run)

    def CreateCheckpoint(self, request: pb.CreateCheckpointRequest, ctx: grpc.ServicerContext) -> pb.Checkpoint:
        return self._run(ctx, lambda: checkpoint_pb(self._service.checkpoint(context.current_actor())))

    def PurgeExpired(self, request: pb.PurgeExpiredRequest, ctx: grpc.ServicerContext) -> pb.PurgeExpiredResponse:
        def run() -> pb.PurgeExpiredResponse:
            checkpoint, deleted = self._service.purge_expired(context.current_actor())
            return pb.PurgeExpiredResponse(checkpoint=checkpoint_pb(checkpoint), deleted=deleted)

        return self._run(ctx, run)


def build_server(container: Container, *, host: str | None = None, port: int | None = None) -> GrpcServer:
    settings = container.settings
    return GrpcServer.for_service(
        AuditServicer(container),
        pb_grpc.add_AuditServiceServicer_to_server,
        pb.DESCRIPTOR,
        "AuditService",
        credential=container.credential,
        host=host or settings.bind_host,
        port=settings.grpc_port if port is None else port,
        max_workers=settings.grpc_max_workers,
    )


def create_ops_app(container: Container) -> Flask:
    """The HTTP side: health, readiness (database) and metrics."""
    app = Flask("audit")
    return init_app(app, service=SERVICE_NAME, readiness={"database": lambda: ping(container.engine)})


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    container = bootstrap(settings, process="grpc")
    server, ops_app = build_server(container), create_ops_app(container)
    serve_grpc(server, ops_app, name=SERVICE_NAME, host=settings.bind_host, http_port=settings.http_port)
    container.close()


if __name__ == "__main__":
    main()
