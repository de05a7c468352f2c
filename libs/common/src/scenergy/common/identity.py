"""Who is acting, and the signed service credential that carries it between services.

The gateway (or another service) signs a short-lived token holding the caller service and the
acting identity; internal services verify it and refuse calls without it. Signing uses
itsdangerous (HMAC-SHA256 with a timestamp), so the token can't be forged or replayed late.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class Role(enum.StrEnum):
    SUPER_ADMIN = "super_admin"
    ADMIN = "admin"
    VIEWER = "viewer"

    @property
    def can_mutate(self) -> bool:
        return self in (Role.SUPER_ADMIN, Role.ADMIN)


class ActorType(enum.StrEnum):
    ADMIN = "admin"
    SYSTEM = "system"  # a service acting on its own (a worker, a webhook, a reaper)
    USER = "user"  # a client app user, through the client-facing app


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: str
    role: Role | None = None
    ip: str | None = None
    user_agent: str | None = None
    impersonator_id: str | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(type=ActorType.SYSTEM, id=name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "id": self.id,
            "role": self.role.value if self.role else None,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "impersonator_id": self.impersonator_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(
            type=ActorType(data["type"]),
            id=str(data["id"]),
            role=Role(data["role"]) if data.get("role") else None,
            ip=data.get("ip"),
            user_agent=data.get("user_agent"),
            impersonator_id=data.get("impersonator_id"),
        )


class InvalidCredential(Exception):
    """The service credential is missing, forged or expired."""


@dataclass(frozen=True)
class CallerIdentity:
    service: str
    actor: Actor | None


class ServiceCredential:
    """Signs and verifies the credential internal calls carry."""

    SALT = "scenergy.service-credential.v1"

    # Verified tokens are remembered until they expire: a caller reuses its token for many calls.
    _CACHE_LIMIT = 10_000

    def __init__(self, secret: str, *, max_age_s: int = 60) -> None:
        if len(secret) < 16:
            raise ValueError("the service credential key must be at least 16 characters")
        self._serializer = URLSafeTimedSerializer(secret, salt=self.SALT)
        self._max_age_s = max_age_s
        self._verified: dict[str, tuple[float, CallerIdentity]] = {}

    def sign(self, service: str, actor: Actor | None = None) -> str:
        payload = {"svc": service, "act": actor.to_dict() if actor else None}
        return str(self._serializer.dumps(payload))

    def verify(self, token: str | None) -> CallerIdentity:
        if not token:
            raise InvalidCredential("missing service credential")
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            return cached[1]
        identity, signed_at = self._verify_signature(token)
        if len(self._verified) >= self._CACHE_LIMIT:
            self._verified.clear()
        # Expire a little early: the signature's clock has whole seconds.
        self._verified[token] = (signed_at + self._max_age_s - 1, identity)
        return identity

    def _verify_signature(self, token: str) -> tuple[CallerIdentity, float]:
        try:
            payload, signed_at = self._serializer.loads(token, max_age=self._max_age_s, return_timestamp=True)
        except SignatureExpired:
            raise InvalidCredential("service credential expired") from None
        except BadSignature:
            raise InvalidCredential("invalid service credential") from None
        try:
            actor = Actor.from_dict(payload["act"]) if payload.get("act") else None
            return CallerIdentity(service=str(payload["svc"]), actor=actor), signed_at.timestamp()
        except (KeyError, TypeError, ValueError):
            raise InvalidCredential("malformed service credential") from None
