"""Health probes of a started process: HTTP /healthz and /readyz, and the standard gRPC health service."""

from __future__ import annotations

import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# Local addresses only: a developer's HTTP(S)_PROXY must not capture the probes.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
    """(answered 200, what it answered) for a GET of `url`."""
    try:
        with _OPENER.open(url, timeout=timeout_s) as response:
            return response.status == 200, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        with exc:  # an HTTPError holds the response open
            body = exc.read(300).decode("utf-8", "replace")
        return False, f"HTTP {exc.code}: {body}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"no answer ({reason})"


def grpc_serving(address: str, *, timeout_s: float = 2.0) -> tuple[bool, str]:
    """(SERVING, the status or error) from the gRPC health service at `address` (host:port)."""
    with grpc.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)]) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout_s)
        except grpc.RpcError as exc:
            return False, f"no answer ({exc.code().name})"  # type: ignore[attr-defined]
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return response.status == health_pb2.HealthCheckResponse.SERVING, status
