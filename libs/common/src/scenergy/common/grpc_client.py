"""gRPC client channels: deadlines on every call, retries for idempotent ones, signed identity."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc

from scenergy.common import context
from scenergy.common.grpc_server import CREDENTIAL_HEADER, REQUEST_ID_HEADER
from scenergy.common.identity import Actor, ServiceCredential

DEFAULT_DEADLINE_S = 5.0


def retry_service_config(service: str, *, max_attempts: int = 4) -> str:
    """Retry UNAVAILABLE with backoff; every method of our services takes an idempotency key or reads."""
    return json.dumps(
        {
            "methodConfig": [
                {
                    "name": [{"service": service}],
                    "retryPolicy": {
                        "maxAttempts": max_attempts,
                        "initialBackoff": "0.05s",
                        "maxBackoff": "1s",
                        "backoffMultiplier": 2,
                        "retryableStatusCodes": ["UNAVAILABLE"],
                    },
                }
            ]
        }
    )


class _CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, base: grpc.ClientCallDetails, timeout: float) -> None:
        self.method = base.method
        self.timeout = timeout
        self.metadata = base.metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class DeadlineInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Gives every call a deadline: a call made without `timeout=` gets the default one."""

    def __init__(self, default_s: float) -> None:
        self._default_s = default_s

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return details if details.timeout is not None else _CallDetails(details, self._default_s)

    def intercept_unary_unary(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(details), request)


def make_channel(
    target: str, *, retry_service: str | None = None, default_deadline_s: float = DEFAULT_DEADLINE_S
) -> grpc.Channel:
    """An insecure channel (traffic stays inside the cluster network) whose calls always carry a deadline."""
    options: list[tuple[str, Any]] = [("grpc.keepalive_time_ms", 30_000), ("grpc.enable_retries", 1)]
    if retry_service:
        options.append(("grpc.service_config", retry_service_config(retry_service)))
    channel = grpc.insecure_channel(target, options=options)
    return grpc.intercept_channel(channel, DeadlineInterceptor(default_deadline_s))


class CallMetadata:
    """Builds the metadata of an outgoing call: the signed credential and the request id.

    A token is reused for the same actor for up to `reuse_s` seconds (it is valid for a minute),
    which saves signing on every call and lets the server's verification cache work.
    """

    def __init__(self, credential: ServiceCredential, service: str, *, reuse_s: float = 20.0) -> None:
        self._credential = credential
        self._service = service
        self._reuse_s = reuse_s
        self._tokens: dict[Actor | None, tuple[float, str]] = {}

    def _token(self, actor: Actor | None) -> str:
        now = time.monotonic()
        cached = self._tokens.get(actor)
        if cached is not None and now - cached[0] < self._reuse_s:
            return cached[1]
        if len(self._tokens) > 1000:
            self._tokens.clear()
        token = self._credential.sign(self._service, actor)
        self._tokens[actor] = (now, token)
        return token

    def __call__(self, actor: Actor | None = None, request_id: str | None = None) -> list[tuple[str, str]]:
        actor = actor or context.current_actor()
        request_id = request_id or context.current_request_id() or context.new_request_id()
        return [(CREDENTIAL_HEADER, self._token(actor)), (REQUEST_ID_HEADER, request_id)]
