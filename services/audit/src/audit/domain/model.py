"""An audit entry as stored, and its one public shape (the API, the JSON export and the CSV agree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def iso(value: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling of a time everywhere an entry is shown or hashed."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditEntry:
    seq: int  # position in the chain; pages and exports follow it
    id: str  # the event id (evt_…): one entry per event, whatever the redeliveries
    occurred_at: datetime
    recorded_at: datetime
    source: str  # the producing service
    event_type: str  # the routing key, e.g. credits.credit.grant
    action: str  # entity.verb, e.g. credit.grant
    entity_type: str
    entity_id: str
    actor_type: str
    actor_id: str
    actor_role: str | None
    impersonator_id: str | None
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    outcome: str  # success | failure
    error_code: str | None
    error_message: str | None
    description: str
    previous_state: dict[str, Any] | None
    new_state: dict[str, Any] | None
    metadata: dict[str, Any] = field(default_factory=dict)
    # JSON pointers into this entry of every value removed as sensitive, e.g. "/new_state/api_key".
    redacted_fields: tuple[str, ...] = ()
    prev_hash: str = ""
    hash: str = ""
    seal: str | None = None  # Ed25519 signature over the chain head, on the last entry of each write

    def content(self) -> dict[str, Any]:
        """What the hash covers: everything recorded about the event, not its chain bookkeeping."""
        return {
            "id": self.id,
            "occurred_at": iso(self.occurred_at),
            "recorded_at": iso(self.recorded_at),
            "source": self.source,
            "event_type": self.event_type,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "impersonator_id": self.impersonator_id,
            "ip_address": self.ip_address,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "description": self.description,
            "previous_state": self.previous_state,
            "new_state": self.new_state,
            "metadata": self.metadata,
            "redacted_fields": list(self.redacted_fields),
        }

    def to_public(self) -> dict[str, Any]:
        """The entry as the API and the exports show it."""
        return {"seq": self.seq, **self.content(), "prev_hash": self.prev_hash, "hash": self.hash}
