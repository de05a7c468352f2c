"""From a validated event envelope to an audit entry: sensitive values out, text made storable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from audit.domain.chain import clean_text, normalize
from audit.domain.describe import describe
from audit.domain.model import AuditEntry
from scenergy.common.events import EventEnvelope
from scenergy.common.redaction import redact, scrub_text

STATE_KEYS = ("previous", "new")


def _redact_into(value: Any, pointer: str, redacted: list[str]) -> Any:
    clean, pointers = redact(value)
    redacted.extend(pointer + p for p in pointers)
    return normalize(clean)


def _scrub(value: str | None, pointer: str, redacted: list[str]) -> str | None:
    if value is None:
        return None
    clean, changed = scrub_text(value)
    if changed:
        redacted.append(pointer)
    return clean_text(clean)


def prepare(envelope: EventEnvelope, *, recorded_at: datetime) -> AuditEntry:
    """The entry, not yet chained (seq and hashes are given when it is appended)."""
    redacted: list[str] = []
    data = dict(envelope.data)
    previous = data.pop("previous", None)
    new = data.pop("new", None)
    metadata = _redact_into(data, "/metadata", redacted)
    error = envelope.error
    error_code = error.code if error else None
    actor = envelope.actor
    return AuditEntry(
        seq=0,
        id=envelope.id,
        occurred_at=envelope.occurred_at,
        recorded_at=recorded_at,
        source=envelope.source,
        event_type=envelope.type,
        action=envelope.action,
        entity_type=envelope.entity.type,
        entity_id=clean_text(envelope.entity.id),
        actor_type=actor.type.value,
        actor_id=clean_text(actor.id),
        actor_role=actor.role.value if actor.role else None,
        impersonator_id=clean_text(actor.impersonator_id) if actor.impersonator_id else None,
        ip_address=actor.ip,
        user_agent=_scrub(actor.user_agent, "/user_agent", redacted),
        request_id=clean_text(envelope.correlation_id) if envelope.correlation_id else None,
        outcome=envelope.outcome,
        error_code=error_code,
        error_message=_scrub(error.message, "/error_message", redacted) if error else None,
        # Described from the redacted data, so no sensitive value can reach the text.
        description=clean_text(describe(envelope.action, metadata, outcome=envelope.outcome, error_code=error_code)),
        previous_state=_redact_into(previous, "/previous_state", redacted) if previous is not None else None,
        new_state=_redact_into(new, "/new_state", redacted) if new is not None else None,
        metadata=metadata,
        redacted_fields=tuple(sorted(set(redacted))),
    )
