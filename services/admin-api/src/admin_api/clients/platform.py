"""The gateway's gRPC clients of the platform's services, and gRPC status → HTTP error mapping.

Every call carries a deadline and the acting admin in signed metadata (never a header the browser
sent). A service that is down or slow becomes a 503, never a hang.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from scenergy.audit.v1 import audit_pb2_grpc
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.http import ApiError
from scenergy.common.identity import ServiceCredential
from scenergy.credits.v1 import credits_pb2_grpc
from scenergy.generation.v1 import generation_pb2_grpc
from scenergy.payments.v1 import payments_pb2_grpc

SERVICE_NAME = "admin-api"

# ARCHITECTURE.md, Contracts: how the gateway answers for a service's status.
HTTP_FOR_STATUS: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_argument"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.NOT_FOUND: (404, "not_found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "conflict"),
    grpc.StatusCode.ABORTED: (409, "conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "failed_precondition"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limited"),
    grpc.StatusCode.UNAVAILABLE: (503, "service_unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "service_unavailable"),
}

R = TypeVar("R")


def as_api_error(exc: grpc.RpcError, service: str) -> ApiError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    status, name = HTTP_FOR_STATUS.get(code, (502, "upstream_error"))
    details = exc.details() if hasattr(exc, "details") else ""
    if status >= 500:
        return ApiError(status, name, f"The {service} service is not answering; try again shortly.")
    return ApiError(status, name, details or name.replace("_", " "))


@dataclass
class Platform:
    """Stubs of the services the gateway calls, sharing one credential."""

    credits: credits_pb2_grpc.CreditsServiceStub
    audit: audit_pb2_grpc.AuditServiceStub
    generation: generation_pb2_grpc.GenerationServiceStub
    payments: payments_pb2_grpc.PaymentsServiceStub
    metadata: CallMetadata
    deadline_s: float
    # credits, audit, generation, payments: the dashboard's health checks use them
    channels: tuple[grpc.Channel, ...]

    @classmethod
    def connect(
        cls,
        *,
        credits_addr: str,
        audit_addr: str,
        generation_addr: str,
        payments_addr: str,
        credential_key: str,
        deadline_s: float,
    ) -> Platform:
        credits_channel = make_channel(credits_addr, retry_service="scenergy.credits.v1.CreditsService")
        audit_channel = make_channel(audit_addr, retry_service="scenergy.audit.v1.AuditService")
        generation_channel = make_channel(generation_addr, retry_service="scenergy.generation.v1.GenerationService")
        payments_channel = make_channel(payments_addr, retry_service="scenergy.payments.v1.PaymentsService")
        return cls(
            credits=credits_pb2_grpc.CreditsServiceStub(credits_channel),
            audit=audit_pb2_grpc.AuditServiceStub(audit_channel),
            generation=generation_pb2_grpc.GenerationServiceStub(generation_channel),
            payments=payments_pb2_grpc.PaymentsServiceStub(payments_channel),
            metadata=CallMetadata(ServiceCredential(credential_key), SERVICE_NAME),
            deadline_s=deadline_s,
            channels=(credits_channel, audit_channel, generation_channel, payments_channel),
        )

    def call(self, service: str, method: Callable[..., R], request: Any, *, timeout: float | None = None) -> R:
        """Call with the acting admin's identity; errors become the gateway's HTTP errors."""
        try:
            return method(request, metadata=self.metadata(), timeout=timeout or self.deadline_s)
        except grpc.RpcError as exc:
            raise as_api_error(exc, service) from None

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
