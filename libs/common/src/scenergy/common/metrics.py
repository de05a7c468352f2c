"""Prometheus: one exposition for Flask (multiprocess under gunicorn) and for plain processes."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_HANDLED = Counter("grpc_server_handled_total", "gRPC calls handled, by method and status code", ["method", "code"])
GRPC_LATENCY = Histogram("grpc_server_handling_seconds", "gRPC handling time", ["method"], buckets=LATENCY_BUCKETS)
HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests, by route and status", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request time", ["method", "route"], buckets=LATENCY_BUCKETS
)


def render_latest() -> tuple[bytes, str]:
    """The exposition; aggregates every worker's files when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
