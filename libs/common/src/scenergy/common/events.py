"""The event envelope every producer writes and every consumer reads (see ARCHITECTURE.md, Events)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from scenergy.common.context import current_actor, current_request_id
from scenergy.common.identity import Actor
from scenergy.common.ids import new_id

SCHEMA_VERSION = 1
_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class InvalidEnvelope(ValueError):
    """A message that is not a well-formed event envelope."""


def make_envelope(
    *,
    type: str,
    source: str,
    entity_type: str,
    entity_id: str,
    data: dict[str, Any],
    actor: Actor | None = None,
    correlation_id: str | None = None,
    outcome: str = "success",
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """Build an envelope; actor and correlation id default to the current request's."""
    actor = actor or current_actor() or Actor.system(source)
    envelope = {
        "id": new_id("evt"),
        "type": type,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "source": source,
        "correlation_id": correlation_id or current_request_id(),
        "actor": actor.to_dict(),
        "entity": {"type": entity_type, "id": entity_id},
        "data": data,
        "outcome": outcome,
        "schema_version": SCHEMA_VERSION,
    }
    validate_envelope(envelope)
    return envelope


def validate_envelope(envelope: Any) -> dict[str, Any]:
    """Raise InvalidEnvelope naming the first problem; return the envelope unchanged."""
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("envelope must be a JSON object")
    for key in ("id", "type", "occurred_at", "source", "actor", "entity", "data", "schema_version"):
        if key not in envelope:
            raise InvalidEnvelope(f"missing field {key!r}")
    if not isinstance(envelope["id"], str) or not envelope["id"].startswith("evt_"):
        raise InvalidEnvelope("id must be an evt_ id")
    if not isinstance(envelope["type"], str) or not _TYPE_RE.match(envelope["type"]):
        raise InvalidEnvelope("type must look like <service>.<entity>.<action>")
    try:
        occurred = datetime.fromisoformat(envelope["occurred_at"])
    except (TypeError, ValueError):
        raise InvalidEnvelope("occurred_at must be an ISO 8601 time") from None
    if occurred.utcoffset() is None:
        raise InvalidEnvelope("occurred_at must carry a time zone")
    actor = envelope["actor"]
    if not isinstance(actor, dict) or not actor.get("type") or not actor.get("id"):
        raise InvalidEnvelope("actor must have a type and an id")
    entity = envelope["entity"]
    if not isinstance(entity, dict) or not entity.get("type") or not entity.get("id"):
        raise InvalidEnvelope("entity must have a type and an id")
    if not isinstance(envelope["data"], dict):
        raise InvalidEnvelope("data must be an object")
    if envelope.get("outcome", "success") not in ("success", "failure"):
        raise InvalidEnvelope("outcome must be success or failure")
    if envelope["schema_version"] != SCHEMA_VERSION:
        raise InvalidEnvelope(f"unsupported schema_version {envelope['schema_version']!r}")
    return envelope


def routing_key(envelope: dict[str, Any]) -> str:
    return str(envelope["type"])
