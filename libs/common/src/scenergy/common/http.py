"""Flask helpers every service's HTTP side uses: JSON errors, request ids, security headers,
/healthz, /readyz, /metrics and request metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from scenergy.common import context
from scenergy.common.metrics import HTTP_LATENCY, HTTP_REQUESTS, render_latest

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], None]  # raises when the dependency does not answer

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "Content-Security-Policy": "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ApiError(Exception):
    """An error with an HTTP status and a snake_case code, rendered as the JSON error envelope."""

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = dict(details or {})


def error_response(status: int, code: str, message: str, details: Mapping[str, Any] | None = None) -> Response:
    body = {
        "error": {"code": code, "message": message, "details": dict(details or {})},
        "request_id": context.current_request_id() or getattr(g, "request_id", None),
    }
    response = jsonify(body)
    response.status_code = status
    return response


def init_app(app: Flask, *, service: str, readiness: Mapping[str, ReadinessCheck] | None = None) -> Flask:
    """Install the shared behaviour on a service's Flask app."""
    checks = dict(readiness or {})

    @app.before_request
    def _bind_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 8 <= len(incoming) <= 128 and incoming.isprintable() else context.new_request_id()
        g.started = time.perf_counter()
        g.context = context.bound(request_id=g.request_id)
        g.context.__enter__()

    @app.teardown_request
    def _unbind_request(_exc: BaseException | None) -> None:
        ctx = g.pop("context", None)
        if ctx is not None:
            ctx.__exit__(None, None, None)

    @app.after_request
    def _finish(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith("/api/") or response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Request-ID"] = g.get("request_id", "")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, route).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "An unexpected error occurred.")

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "service": service})

    @app.get("/readyz")
    def readyz() -> Response:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it never raises
                results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        ready = all(value == "ok" for value in results.values())
        response = jsonify({"status": "ready" if ready else "not_ready", "service": service, "checks": results})
        response.status_code = 200 if ready else 503
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, content_type=content_type)

    return app
