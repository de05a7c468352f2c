"""The credits service, as payments uses it: purchases and refunds, keyed by Stripe's object ids."""

from __future__ import annotations

import json
from typing import Any, Protocol

import grpc

from payments.domain import errors
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.identity import Actor, ServiceCredential
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

STRIPE_ACTOR = Actor.system("stripe")  # the audit trail shows purchases and refunds as system:stripe


class Credits(Protocol):
    def purchase(
        self,
        *,
        client_id: str,
        credits: int,
        payment_reference: str,
        description: str,
        key: str,
        metadata: dict[str, Any],
    ) -> str: ...

    def refund(self, *, transaction_id: str, credits: int, reason: str, key: str, payment_reference: str) -> str: ...


class GrpcCredits:
    def __init__(self, target: str, credential_key: str, *, deadline_s: float = 5.0) -> None:
        self._channel = make_channel(target, retry_service="scenergy.credits.v1.CreditsService")
        self._stub = pb_grpc.CreditsServiceStub(self._channel)
        self._metadata = CallMetadata(ServiceCredential(credential_key), "payments")
        self._deadline_s = deadline_s

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata(STRIPE_ACTOR), timeout=self._deadline_s)
        except grpc.RpcError as exc:
            code, detail = exc.code(), exc.details() or ""
            if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND):
                raise errors.PermanentEventError(f"credits refused it: {detail}") from None
            if code == grpc.StatusCode.FAILED_PRECONDITION:
                raise errors.PermanentEventError(f"credits refused it: {detail}") from None
            raise errors.DependencyUnavailable(f"credits: {code.name.lower()}: {detail}") from None

    def purchase(
        self,
        *,
        client_id: str,
        credits: int,
        payment_reference: str,
        description: str,
        key: str,
        metadata: dict[str, Any],
    ) -> str:
        response = self._call(
            self._stub.Purchase,
            pb.PurchaseRequest(
                client_id=client_id,
                amount=credits,
                payment_reference=payment_reference,
                description=description,
                idempotency_key=key,
                metadata_json=json.dumps(metadata, sort_keys=True),
            ),
        )
        return str(response.transaction.id)

    def refund(self, *, transaction_id: str, credits: int, reason: str, key: str, payment_reference: str) -> str:
        response = self._call(
            self._stub.Refund,
            pb.RefundRequest(
                transaction_id=transaction_id,
                amount=credits,
                reason=reason,
                idempotency_key=key,
                payment_reference=payment_reference,
            ),
        )
        return str(response.transaction.id)

    def close(self) -> None:
        self._channel.close()
