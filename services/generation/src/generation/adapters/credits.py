"""The credits service, as the generation service uses it: holds for client jobs.

Every call carries an idempotency key derived from the job, so a retried call (after a timeout, a
crash or a redelivery) applies once. Calls act as the system actor `generation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from generation.domain import errors
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.identity import Actor, ServiceCredential
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

SYSTEM_ACTOR = Actor.system("generation")


@dataclass(frozen=True)
class HoldResult:
    hold_id: str
    amount: int


class Credits(Protocol):
    def reserve(self, *, client_id: str, amount: int, ttl_s: int, job_id: str, key: str) -> HoldResult: ...

    def capture(self, *, hold_id: str, amount: int, asset_id: str, key: str) -> None: ...

    def release(self, *, hold_id: str, key: str) -> None: ...


class HoldGone(errors.GenerationError):
    """The hold is no longer active (expired, or settled the other way)."""


class GrpcCredits:
    def __init__(self, target: str, credential_key: str, *, deadline_s: float = 5.0) -> None:
        self._channel = make_channel(target, retry_service="scenergy.credits.v1.CreditsService")
        self._stub = pb_grpc.CreditsServiceStub(self._channel)
        self._metadata = CallMetadata(ServiceCredential(credential_key), "generation")
        self._deadline_s = deadline_s

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata(SYSTEM_ACTOR), timeout=self._deadline_s)
        except grpc.RpcError as exc:
            code, detail = exc.code(), exc.details() or ""
            if code == grpc.StatusCode.FAILED_PRECONDITION and "insufficient" in detail:
                raise errors.InsufficientCredits(detail) from None
            if code == grpc.StatusCode.FAILED_PRECONDITION and "hold" in detail:
                raise HoldGone(detail) from None
            if code == grpc.StatusCode.NOT_FOUND:
                raise errors.InvalidArgument(detail) from None
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise errors.InvalidArgument(detail) from None
            raise errors.DependencyUnavailable(f"credits: {code.name.lower()}: {detail}") from None

    def reserve(self, *, client_id: str, amount: int, ttl_s: int, job_id: str, key: str) -> HoldResult:
        response = self._call(
            self._stub.ReserveHold,
            pb.ReserveHoldRequest(
                client_id=client_id, amount=amount, ttl_seconds=ttl_s, job_id=job_id, idempotency_key=key
            ),
        )
        return HoldResult(response.hold.id, response.hold.amount)

    def capture(self, *, hold_id: str, amount: int, asset_id: str, key: str) -> None:
        self._call(
            self._stub.CaptureHold,
            pb.CaptureHoldRequest(
                hold_id=hold_id,
                amount=amount,
                description="generation",
                generated_asset_id=asset_id,
                idempotency_key=key,
            ),
        )

    def release(self, *, hold_id: str, key: str) -> None:
        self._call(self._stub.ReleaseHold, pb.ReleaseHoldRequest(hold_id=hold_id, idempotency_key=key))

    def close(self) -> None:
        self._channel.close()
