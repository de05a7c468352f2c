"""The public webhook endpoint, `POST /webhooks/stripe`, with /healthz, /readyz and /metrics: `payments-webhooks`.

It verifies, stores once and answers; nothing else happens on the request path, so Stripe gets its
2xx in milliseconds and a slow ledger never makes it retry. Runs under gunicorn.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from payments.bootstrap import SERVICE_NAME, Container, bootstrap
from payments.config import Settings
from payments.domain.errors import BadSignature, UnstorableEvent
from payments.service_layer.webhooks import WEBHOOKS, store, verify
from scenergy.common.db import ping
from scenergy.common.gunicorn_hooks import serve
from scenergy.common.http import ApiError, init_app
from scenergy.common.logging import configure_logging


def create_app(container: Container) -> Flask:
    settings = container.settings
    app = Flask("payments-webhooks")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    @app.post("/webhooks/stripe")
    def stripe_webhook() -> tuple[Response, int]:
        body = request.get_data(cache=False)
        try:
            event = verify(
                body,
                request.headers.get("Stripe-Signature"),
                settings.webhook_secrets,
                tolerance_s=settings.webhook_tolerance_s,
                livemode=settings.livemode,
            )
        except BadSignature as exc:
            WEBHOOKS.labels("bad_signature").inc()  # counted, never stored: the body can't be trusted
            raise ApiError(400, "bad_signature", str(exc)) from None
        try:
            received = store(container.engine, event, body.decode())
        except UnstorableEvent as exc:
            WEBHOOKS.labels("unstorable").inc()
            raise ApiError(400, "unstorable_event", str(exc)) from None
        WEBHOOKS.labels("duplicate" if received.duplicate else "stored").inc()
        return jsonify({"received": True, "id": received.event_id, "duplicate": received.duplicate}), 200

    return init_app(app, service=SERVICE_NAME, readiness={"database": lambda: ping(container.engine)})


def app_from_env() -> Flask:
    settings = Settings.from_env()
    configure_logging(f"{SERVICE_NAME}-webhooks", settings.log_level)
    return create_app(bootstrap(settings, process="webhooks"))


def main() -> None:
    settings = Settings.from_env()
    serve(app_from_env, name=f"{SERVICE_NAME}-webhooks", bind=f"{settings.bind_host}:{settings.http_port}")


if __name__ == "__main__":
    main()
