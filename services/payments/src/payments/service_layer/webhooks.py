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
from sqlalchemy.dialects.postgresql import insert as pg_insert

from payments.adapters.tables import stripe_event
from payments.domain.errors import BadSignature

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


def store(engine: Engine, event: dict[str, Any]) -> Received:
    """Insert-or-ignore by the Stripe event id, and wake the processor at commit."""
    created = event.get("created")
    created_at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else datetime.now(UTC)
    event_type = str(event.get("type") or "unknown")[:200]
    with engine.begin() as conn:
        inserted = conn.execute(
            pg_insert(stripe_event)
            .values(
                id=event["id"][:255],
                type=event_type,
                livemode=bool(event.get("livemode")),
                created=created_at,
                payload=event,
                object_id=object_id(event),
            )
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(stripe_event.c.id)
        ).first()
        if inserted is None:
            conn.execute(
                stripe_event.update()
                .where(stripe_event.c.id == event["id"])
                .values(deliveries=stripe_event.c.deliveries + 1)
            )
        else:
            conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": EVENTS_CHANNEL})
    return Received(event["id"], event_type, duplicate=inserted is None)
