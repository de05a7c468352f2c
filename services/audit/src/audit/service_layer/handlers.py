"""The audit service's use cases: ingesting events, exports, verification, checkpoints, retention.

Reads are open to every admin role (a viewer reads everything); checkpoints on demand and purges
need a super admin or the platform itself. The service's own actions (an export, a purge) are
audited like any other: they are made into envelopes and appended to the same chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.adapters.store import AppendResult, AuditStore, Checkpoint
from audit.domain import export
from audit.domain.errors import InvalidArgument, NothingToPurge, PermissionDenied
from audit.domain.model import AuditEntry
from audit.domain.prepare import prepare
from audit.service_layer.verify import VerifyReport, verify_chain
from audit.views import AuditViews, EntryFilter, Page
from scenergy.common.events import EventEnvelope, make_envelope, parse_envelope
from scenergy.common.identity import Actor, ActorType, Role

SOURCE = "audit"
READER_ROLES = frozenset({Role.SUPER_ADMIN, Role.ADMIN, Role.VIEWER})


def authorize_read(actor: Actor | None) -> None:
    if actor is None or actor.type == ActorType.SYSTEM:
        return
    if actor.type != ActorType.ADMIN or actor.role not in READER_ROLES:
        raise PermissionDenied("reading the audit log needs an admin role")


def authorize_manage(actor: Actor | None, operation: str) -> None:
    if actor is None or actor.type == ActorType.SYSTEM:
        return
    if actor.type != ActorType.ADMIN or actor.role != Role.SUPER_ADMIN:
        raise PermissionDenied(f"{operation} needs a super_admin")


@dataclass(frozen=True)
class Export:
    content_type: str
    chunks: Iterator[bytes]


class AuditService:
    def __init__(self, store: AuditStore, views: AuditViews, *, retention_days: int) -> None:
        self.store = store
        self.views = views
        self.retention_days = retention_days

    def ingest(self, envelopes: list[EventEnvelope]) -> AppendResult:
        """Store a batch of events (the sink's handler): one transaction, duplicates skipped."""
        now = datetime.now(UTC)
        return self.store.append([prepare(envelope, recorded_at=now) for envelope in envelopes])

    def _own_event(self, action: str, entity_id: str, actor: Actor | None, data: dict[str, Any]) -> EventEnvelope:
        entity, verb = action.split(".")
        raw = make_envelope(
            type=f"{SOURCE}.{entity}.{verb}",
            source=SOURCE,
            entity_type="audit_log",
            entity_id=entity_id,
            data=data,
            actor=actor or Actor.system(SOURCE),
        )
        return parse_envelope(raw)

    def list_entries(self, flt: EntryFilter, actor: Actor | None, **page: Any) -> Page:
        authorize_read(actor)
        return self.views.list_entries(flt, **page)

    def get_entry(self, entry_id: str, actor: Actor | None) -> AuditEntry:
        authorize_read(actor)
        return self.views.get_entry(entry_id)

    def recent_activity(self, limit: int, actor: Actor | None) -> list[AuditEntry]:
        authorize_read(actor)
        return self.views.recent_activity(limit)

    def export(self, flt: EntryFilter, fmt: str, actor: Actor | None) -> Export:
        """Record the export in the log, then stream it; the stream ends at the chain head of now."""
        authorize_read(actor)
        if fmt not in export.FORMATS:
            raise InvalidArgument(f"format must be one of {', '.join(sorted(export.FORMATS))}")
        flt.validate()
        filters = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in flt.__dict__.items() if v}
        result = self.ingest([self._own_event("audit.export", "audit_log", actor, {"format": fmt, "filters": filters})])
        entries = self.views.stream(flt, until_seq=result.last_seq)
        return Export(export.CONTENT_TYPES[fmt], export.chunked(export.FORMATS[fmt](entries)))

    def verify(self, actor: Actor | None) -> VerifyReport:
        authorize_read(actor)
        return verify_chain(self.store)

    def checkpoint(self, actor: Actor | None, *, reason: str = "manual") -> Checkpoint:
        authorize_manage(actor, "a checkpoint")
        return self.store.checkpoint(reason)

    def purge_expired(self, actor: Actor | None, *, now: datetime | None = None) -> tuple[Checkpoint, int]:
        """Apply the retention period now; the purge is checkpointed first and recorded as an entry."""
        authorize_manage(actor, "a purge")
        if self.retention_days <= 0:
            raise NothingToPurge("retention is off: entries are kept forever")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        recorded_at = datetime.now(UTC)

        def record(facts: dict[str, Any]) -> Any:
            data = {**facts, "retention_days": self.retention_days}
            return prepare(self._own_event("audit.purge", "audit_log", actor, data), recorded_at=recorded_at)

        result = self.store.purge_before(cutoff, record)
        if result is None:
            raise NothingToPurge(f"no entry is older than {self.retention_days} days")
        return result
