"""Receiving Stripe webhooks: verify, store once, answer at once. Processing happens later, from the store.

Verification is the stripe library's (`WebhookSignature.verify_header`, HMAC-SHA256 over
`<timestamp>.<raw body>`), with three rules of ours on top: a timestamp too far in the future is
refused like one too old, every configured secret is tried (a rotation keeps the old one for a
while), and the event's `livemode` must match this environment.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import stripe
from prometheus_client import Counter
from sqlalchemy import Engine

from payments.domain.errors import BadSignature, UnstorableEvent

EVENTS_CHANNEL = "payments_stripe_event"  # NOTIFY channel the processor listens on

WEBHOOKS = Counter("payments_webhooks_total", "Webhook deliveries by outcome", ["outcome"])


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    duplicate: bool


def verify(
    body: bytes, header: str | None, secrets: tuple[str, ...], *, tolerance_s: int, livemode: bool
) -> dict[str, Any]:
    """The event, if the body is signed by one of `secrets` within the tolerance; else BadSignature."""
    if not header:
        raise BadSignature("the Stripe-Signature header is missing")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSignature("the body is not UTF-8") from None
    timestamp = _timestamp(header)
    if timestamp > time.time() + tolerance_s:
        raise BadSignature("the signature's timestamp is in the future")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance_s)
        except stripe.SignatureVerificationError as exc:
            if "tolerance" in str(exc):
                raise BadSignature("the signature's timestamp is too old") from None
            continue
        break
    else:
        raise BadSignature("no signature matches a configured secret")
    try:
        event = json.loads(text)
    except ValueError:
        raise BadSignature("the signed body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event" or not isinstance(event.get("id"), str):
        raise BadSignature("the signed body is not a Stripe event")
    if bool(event.get("livemode")) != livemode:
        raise BadSignature(f"a {'live' if event.get('livemode') else 'test'}-mode event reached this environment")
    return event


def _timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise BadSignature("the Stripe-Signature header is malformed")


def object_id(event: dict[str, Any]) -> str | None:
    obj = (event.get("data") or {}).get("object") or {}
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


# One statement, its own transaction: store the event unless its id is known (then count the
# delivery), and wake the processor at commit if it is new. Data-modifying CTEs share one snapshot,
# so the UPDATE only ever finds a row that existed before this statement. The payload is the signed
# body itself, parsed by PostgreSQL, rather than the decoded dict serialised again. Naming the result
# columns lets SQLAlchemy build the result's metadata once, not at every delivery.
_STORE = sa.text(
    """
    WITH new AS (
        INSERT INTO stripe_event (id, type, livemode, created, payload, object_id)
        VALUES (:id, :type, :livemode, :created, CAST(:payload AS jsonb), :object_id)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ), again AS (
        UPDATE stripe_event SET deliveries = deliveries + 1 WHERE id = :id RETURNING id
    )
    SELECT EXISTS (SELECT FROM new) AS inserted, EXISTS (SELECT FROM again) AS counted,
           (SELECT count(pg_notify(:channel, '')) FROM new) AS woken
    """
).columns(sa.column("inserted", sa.Boolean), sa.column("counted", sa.Boolean), sa.column("woken", sa.BigInteger))
# Two first deliveries at once: the loser's INSERT waits for the winner's commit and does nothing,
# while its UPDATE's snapshot predates that row. A second statement sees it and counts the delivery.
_COUNT_DELIVERY = sa.text("UPDATE stripe_event SET deliveries = deliveries + 1 WHERE id = :id")


def store(engine: Engine, event: dict[str, Any], body: str) -> Received:
    """Insert-or-ignore by the Stripe event id (`body` is the verified text of `event`)."""
    created = event.get("created")
    created_at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else datetime.now(UTC)
    event_type = str(event.get("type") or "unknown")[:200]
    params = {
        "id": event["id"][:255],
        "type": event_type,
        "livemode": bool(event.get("livemode")),
        "created": created_at,
        "payload": body,
        "object_id": object_id(event),
        "channel": EVENTS_CHANNEL,
    }
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            row = conn.execute(_STORE, params).one()
        except sa.exc.DataError as exc:  # valid JSON PostgreSQL can't hold, such as a \u0000 escape
            raise UnstorableEvent(f"the event can't be stored: {exc.orig}") from None
        if not row.inserted and not row.counted:
            conn.execute(_COUNT_DELIVERY, {"id": params["id"]})
    return Received(event["id"], event_type, duplicate=not row.inserted)
