"""The audit log through the gateway: the filtered list, one entry with its diff, and streamed exports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import grpc
from flask import Blueprint, Response, request, stream_with_context
from pydantic import AwareDatetime, Field
from spectree import Response as Responses

from admin_api.api.convert import iso, loads, stamp
from admin_api.api.spec import ErrorEnvelope, Model, Out, spec
from admin_api.clients.platform import as_api_error
from admin_api.web import container
from scenergy.audit.v1 import audit_pb2 as pb

bp = Blueprint("audit", __name__, url_prefix="/api/admin/audit")

ACTION = r"^([a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?)?$"
NAME = r"^([a-z][a-z0-9_]*)?$"
ERRORS = {"HTTP_400": ErrorEnvelope, "HTTP_401": ErrorEnvelope, "HTTP_404": ErrorEnvelope, "HTTP_503": ErrorEnvelope}


class AuditQuery(Model):
    admin: str = Field("", max_length=200, description="the acting admin's id")
    action: str = Field(
        "", max_length=100, pattern=ACTION, description="credit.grant, or credit for every credit action"
    )
    entity_type: str = Field("", max_length=64, pattern=NAME)
    entity_id: str = Field("", max_length=200)
    occurred_from: AwareDatetime | None = None
    occurred_to: AwareDatetime | None = None
    outcome: Literal["", "success", "failure"] = ""
    q: str = Field("", max_length=200, description="words searched in the action and the description")
    limit: int = Field(50, ge=1, le=100)
    cursor: str = Field("", max_length=500)
    include_total: bool = False


class ExportQuery(Model):
    format: Literal["csv", "jsonl"] = "csv"
    admin: str = Field("", max_length=200)
    action: str = Field("", max_length=100, pattern=ACTION)
    entity_type: str = Field("", max_length=64, pattern=NAME)
    entity_id: str = Field("", max_length=200)
    occurred_from: AwareDatetime | None = None
    occurred_to: AwareDatetime | None = None
    outcome: Literal["", "success", "failure"] = ""
    q: str = Field("", max_length=200)


class EntrySummaryOut(Out):
    """A row of the audit list: who did what to what, when, and how it went (the states are in the detail)."""

    id: str
    seq: int
    occurred_at: str | None
    recorded_at: str | None
    source: str
    action: str
    entity_type: str
    entity_id: str
    actor_type: str
    actor_id: str
    actor_role: str | None
    impersonator_id: str | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    outcome: str
    error_code: str | None
    error_message: str | None
    description: str
    redacted_fields: list[str]
    hash: str


class EntryOut(EntrySummaryOut):
    previous_state: dict[str, Any] | None
    new_state: dict[str, Any] | None
    metadata: dict[str, Any]


class ChangeOut(Out):
    path: str
    kind: str
    before: Any = None
    after: Any = None
    redacted: bool


class EntriesOut(Out):
    items: list[EntrySummaryOut]
    next_cursor: str | None
    total: int | None = None


class EntryDetailOut(Out):
    entry: EntryOut
    changes: list[ChangeOut]


def entry_summary_out(e: pb.Entry) -> EntrySummaryOut:
    return EntrySummaryOut(**_summary_fields(e))


def entry_out(e: pb.Entry) -> EntryOut:
    return EntryOut(
        **_summary_fields(e),
        previous_state=loads(e.previous_state_json),
        new_state=loads(e.new_state_json),
        metadata=loads(e.metadata_json) or {},
    )


def _summary_fields(e: pb.Entry) -> dict[str, Any]:
    return {
        "id": e.id,
        "seq": e.seq,
        "occurred_at": iso(e.occurred_at),
        "recorded_at": iso(e.recorded_at),
        "source": e.source,
        "action": e.action,
        "entity_type": e.entity_type,
        "entity_id": e.entity_id,
        "actor_type": e.actor_type,
        "actor_id": e.actor_id,
        "actor_role": e.actor_role or None,
        "impersonator_id": e.impersonator_id or None,
        "ip_address": e.ip_address or None,
        "user_agent": e.user_agent or None,
        "request_id": e.request_id or None,
        "outcome": e.outcome,
        "error_code": e.error_code or None,
        "error_message": e.error_message or None,
        "description": e.description,
        "redacted_fields": list(e.redacted_fields),
        "hash": e.hash,
    }


def entry_filter(q: AuditQuery | ExportQuery) -> pb.EntryFilter:
    return pb.EntryFilter(
        actor_id=q.admin,
        action=q.action,
        entity_type=q.entity_type,
        entity_id=q.entity_id,
        occurred_from=stamp(q.occurred_from),
        occurred_to=stamp(q.occurred_to),
        outcome=q.outcome,
        query=q.q,
    )


@bp.get("")
@spec.validate(query=AuditQuery, resp=Responses(HTTP_200=EntriesOut, **ERRORS))
def list_entries() -> EntriesOut:
    """The audit log, newest first (by occurrence time when a date range is given); each entry's
    states and diff are in its detail."""
    query = AuditQuery.model_validate(request.args.to_dict())
    p = container().platform
    response = p.call(
        "audit",
        p.audit.ListEntries,
        pb.ListEntriesRequest(
            filter=entry_filter(query),
            limit=query.limit,
            cursor=query.cursor,
            include_total=query.include_total,
            summary=True,
        ),
    )
    return EntriesOut(
        items=[entry_summary_out(e) for e in response.items],
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


@bp.get("/export")
@spec.validate(
    query=ExportQuery,
    resp=Responses("HTTP_200", HTTP_400=ErrorEnvelope, HTTP_401=ErrorEnvelope, HTTP_503=ErrorEnvelope),
)
def export() -> Response:
    """The filtered log as CSV or JSON lines, streamed (oldest first); the export is itself audited."""
    query = ExportQuery.model_validate(request.args.to_dict())
    p = container().platform
    stream = p.audit.ExportEntries(
        pb.ExportEntriesRequest(filter=entry_filter(query), format=query.format),
        metadata=p.metadata(),
        timeout=600,
    )
    try:
        first = next(stream)  # errors in the request (bad filter, audit down) surface before any byte is sent
    except grpc.RpcError as exc:
        raise as_api_error(exc, "audit") from None
    except StopIteration:
        first = pb.ExportChunk(content_type="text/csv" if query.format == "csv" else "application/x-ndjson")

    def body() -> Iterator[bytes]:
        yield first.data
        for chunk in stream:
            yield chunk.data

    stamp_ = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = Response(stream_with_context(body()), mimetype=first.content_type.split(";")[0])
    if first.content_type.startswith("text/csv"):
        response.headers["Content-Type"] = first.content_type
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp_}.{query.format}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<entry_id>")
@spec.validate(resp=Responses(HTTP_200=EntryDetailOut, **ERRORS))
def get_entry(entry_id: str) -> EntryDetailOut:
    """One entry with its before/after diff; redacted fields show as changed without values."""
    p = container().platform
    detail = p.call("audit", p.audit.GetEntry, pb.GetEntryRequest(id=entry_id[:200]))
    return EntryDetailOut(
        entry=entry_out(detail.entry),
        changes=[
            ChangeOut(
                path=c.path,
                kind=c.kind,
                before=loads(c.before_json),
                after=loads(c.after_json),
                redacted=c.redacted,
            )
            for c in detail.changes
        ],
    )
