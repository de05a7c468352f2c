"""The event envelope every producer writes and every consumer reads (see ARCHITECTURE.md, Events).

`EventEnvelope` is the one schema of the platform's events: producers build envelopes through
`make_envelope` (which validates what they built) and consumers parse messages with
`parse_envelope`, so a field can't mean one thing to a producer and another to the audit sink.
`docs/events.md` shows the JSON Schema generated from it.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from scenergy.common.context import current_actor, current_request_id
from scenergy.common.identity import Actor, ActorType, Role
from scenergy.common.ids import new_id

SCHEMA_VERSION = 1
TYPE_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class InvalidEnvelope(ValueError):
    """A message that is not a well-formed event envelope."""


def _ip(value: str | None) -> str | None:
    return None if value is None else _canonical_ip(value)


@functools.lru_cache(maxsize=4096)  # the same few addresses come by again and again
def _canonical_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("ip must be an IPv4 or IPv6 address") from None


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Text = Annotated[str, Field(min_length=1, max_length=200, strict=True)]
OptionalText = Annotated[str | None, Field(default=None, max_length=200, strict=True)]


class _Model(BaseModel):
    # Unknown fields are ignored rather than refused: a newer producer may add one.
    model_config = ConfigDict(frozen=True, extra="ignore")


class EnvelopeActor(_Model):
    type: ActorType
    id: Text
    role: Role | None = None
    ip: Annotated[str | None, Field(default=None, max_length=64), AfterValidator(_ip)] = None
    user_agent: Annotated[str | None, Field(default=None, max_length=1000)] = None
    impersonator_id: OptionalText = None  # the admin acting as this actor, when there is one


class EnvelopeEntity(_Model):
    type: Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
    id: Text


class EnvelopeError(_Model):
    code: Annotated[str, Field(pattern=NAME_PATTERN, max_length=100)]
    message: Annotated[str, Field(default="", max_length=2000)] = ""


class EventEnvelope(_Model):
    id: Annotated[str, Field(pattern=r"^evt_[A-Za-z0-9]{6,64}$")]
    type: Annotated[str, Field(pattern=TYPE_PATTERN, max_length=200)]
    occurred_at: Annotated[AwareDatetime, AfterValidator(_utc)]
    source: Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
    correlation_id: OptionalText = None  # the request id of the request that caused the event
    actor: EnvelopeActor
    entity: EnvelopeEntity
    data: dict[str, Any]
    outcome: Literal["success", "failure"] = "success"
    error: EnvelopeError | None = None
    schema_version: Literal[1]

    @model_validator(mode="after")
    def _check(self) -> EventEnvelope:
        for key in ("previous", "new"):
            if self.data.get(key) is not None and not isinstance(self.data[key], dict):
                raise ValueError(f"data.{key} must be an object or null")
        if self.outcome == "failure" and self.error is None:
            raise ValueError("a failure must carry an error code")
        return self

    @property
    def action(self) -> str:
        """`entity.verb` (e.g. `credit.grant`): the type without its service prefix."""
        return self.type.split(".", 1)[1]


def _explain(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"missing field {where!r}"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_envelope(raw: bytes | str | dict[str, Any]) -> EventEnvelope:
    """Validate a message body (JSON text or an already decoded object); raise InvalidEnvelope."""
    try:
        if isinstance(raw, dict):
            return EventEnvelope.model_validate(raw)
        if isinstance(raw, bytes | str):
            return EventEnvelope.model_validate_json(raw)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidEnvelope("body is not valid JSON") from None
        if any(e["type"] == "model_type" and not e["loc"] for e in exc.errors()):
            raise InvalidEnvelope("envelope must be a JSON object") from None
        raise InvalidEnvelope(_explain(exc)) from None
    raise InvalidEnvelope("envelope must be a JSON object")


def validate_envelope(envelope: Any) -> dict[str, Any]:
    """Raise InvalidEnvelope naming the first problem; return the envelope unchanged."""
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("envelope must be a JSON object")
    parse_envelope(envelope)
    return envelope


def envelope_json_schema() -> dict[str, Any]:
    return EventEnvelope.model_json_schema()


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
    error_code: str | None = None,
    error_message: str = "",
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
    if error_code is not None:
        envelope["error"] = {"code": error_code, "message": error_message}
    validate_envelope(envelope)
    return envelope


def routing_key(envelope: dict[str, Any]) -> str:
    return str(envelope["type"])
