"""What admins do to payments: refunds through Stripe, event retries, credit packs, reconciliation.

Every change is one transaction with its audit event in the outbox. A refund's idempotency key is
committed before Stripe is called, so a crash or a timeout retried with the same request can't
refund twice; the ledger follows from Stripe's answer the same way it follows from a webhook.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from payments.adapters.stripe_api import StripeApi, StripeRefused
from payments.adapters.tables import credit_pack, outbox, payment, reconciliation_run, refund_record, stripe_event
from payments.domain import errors
from payments.service_layer.processor import SESSION_PAID, EventProcessor, WaitForPayment
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor, ActorType, Role
from scenergy.common.ids import is_id, new_id
from scenergy.common.outbox import outbox_row

log = logging.getLogger(__name__)

_PACK_ID = re.compile(r"^[a-z][a-z0-9_]{2,63}$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


def require_super_admin(actor: Actor | None, action: str) -> Actor:
    """Payments changes are super_admin's, whoever forwards the call (defence in depth)."""
    if actor is None or actor.type != ActorType.ADMIN or actor.role != Role.SUPER_ADMIN:
        raise errors.PermissionDenied(f"{action} needs a super_admin")
    return actor


def check_text(value: str, field: str, *, required: bool = False, limit: int = 500) -> str:
    value = (value or "").strip()
    if required and not value:
        raise errors.InvalidArgument(f"{field} is required")
    if len(value) > limit:
        raise errors.InvalidArgument(f"{field} must be at most {limit} characters")
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise errors.InvalidArgument(f"{field} contains characters that can't be stored")
    return value


def _audit(conn: Connection, type_: str, entity: str, entity_id: str, data: dict[str, Any], actor: Actor) -> None:
    envelope = make_envelope(
        type=type_, source="payments", entity_type=entity, entity_id=entity_id, data=data, actor=actor
    )
    conn.execute(outbox.insert().values(**outbox_row(envelope)))


def pack_state(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "credits": row.credits,
        "price_amount": row.price_amount,
        "currency": row.currency,
        "stripe_price_id": row.stripe_price_id,
        "active": row.active,
    }


@dataclass(frozen=True)
class PackChange:
    name: str | None = None
    active: bool | None = None
    stripe_price_id: str | None = None


class PaymentsAdmin:
    def __init__(self, engine: Engine, processor: EventProcessor, stripe_api: StripeApi | None) -> None:
        self._engine = engine
        self._processor = processor
        self._stripe = stripe_api

    # -- refunds -----------------------------------------------------------------------------------

    def refund(self, payment_id: str, amount: int, reason: str, key: str, actor: Actor | None) -> str:
        admin = require_super_admin(actor, "refunding a payment")
        if not is_id(payment_id, "pay"):
            raise errors.InvalidArgument("payment_id is malformed: expected a pay_ id")
        reason = check_text(reason, "reason", required=True)
        if amount < 0:
            raise errors.InvalidArgument("amount must be positive, or 0 for everything not yet refunded")
        if key and (len(key) > 200 or not key.isascii() or not key.isprintable() or " " in key):
            raise errors.InvalidArgument("idempotency_key must be 1-200 printable characters without spaces")
        if self._stripe is None:
            raise errors.StripeUnavailable("Stripe is not configured here (STRIPE_API_KEY)")
        stripe_key = f"refund-{payment_id}-{key}" if key else f"refund-{payment_id}-{new_id('key')}"
        record_id, intent, amount = self._request_refund(payment_id, amount, reason, stripe_key, admin)
        if record_id is None:
            return payment_id  # the same request again, and Stripe answered it already
        try:
            refund = self._stripe.create_refund(
                payment_intent=intent,
                amount=amount,
                reason="requested_by_customer",
                idempotency_key=stripe_key,
                metadata={"payment_id": payment_id, "requested_by": admin.id},
            )
        except StripeRefused as exc:  # a definite no: the request failed, nothing was refunded
            self._note_refund(record_id, str(exc), failed=True)
            raise errors.Conflict(str(exc)) from None
        except errors.StripeUnavailable as exc:
            # Stripe may or may not have refunded: the request stays `requested`, and the same request
            # again asks Stripe again with the same idempotency key, which Stripe applies once.
            self._note_refund(record_id, str(exc), failed=False)
            raise
        with self._engine.begin() as conn:
            conn.execute(
                refund_record.update()
                .where(refund_record.c.id == record_id)
                .values(stripe_refund_id=refund["id"], status=refund.get("status", "pending"), updated_at=sa.func.now())
            )
        try:  # the ledger follows now; the refund's webhook later changes nothing more
            self._processor.apply_object("refund.created", refund)
        except (WaitForPayment, errors.PaymentsError) as exc:
            log.warning("refund recorded at Stripe; the ledger follows with its webhook", extra={"error": str(exc)})
        return payment_id

    def _note_refund(self, record_id: str, error: str, *, failed: bool) -> None:
        values: dict[str, Any] = {"error": error[:1000], "updated_at": sa.func.now()}
        if failed:
            values["status"] = "failed"
        with self._engine.begin() as conn:
            conn.execute(refund_record.update().where(refund_record.c.id == record_id).values(**values))

    def _request_refund(
        self, payment_id: str, amount: int, reason: str, stripe_key: str, admin: Actor
    ) -> tuple[str | None, str, int]:
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(payment).where(payment.c.id == payment_id).with_for_update()).first()
            if row is None:
                raise errors.NotFound("payment", payment_id)
            if row.payment_intent_id is None:
                raise errors.Conflict("the payment has no PaymentIntent to refund")
            existing = conn.execute(
                sa.select(refund_record).where(refund_record.c.idempotency_key == stripe_key)
            ).first()
            if existing is not None:
                if existing.status == "failed":
                    raise errors.Conflict(f"this refund request failed: {existing.error}")
                if existing.stripe_refund_id is None:  # asked before, answer unknown: ask again, same key
                    return existing.id, row.payment_intent_id, existing.amount
                return None, row.payment_intent_id, existing.amount
            requested = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(refund_record.c.amount), 0)).where(
                    refund_record.c.payment_id == payment_id, refund_record.c.status.in_(("requested", "pending"))
                )
            ).scalar_one()
            remaining = row.amount_total - row.amount_refunded - int(requested)
            amount = amount or remaining
            if amount <= 0 or amount > remaining:
                raise errors.Conflict(f"at most {max(remaining, 0)} {row.currency} remains to refund")
            record_id = new_id("rfd")
            try:
                conn.execute(
                    refund_record.insert().values(
                        id=record_id,
                        payment_id=payment_id,
                        amount=amount,
                        status="requested",
                        requested_by=admin.id,
                        reason=reason,
                        idempotency_key=stripe_key,
                    )
                )
            except IntegrityError:
                raise errors.Conflict("this refund is being requested already") from None
            data = {"previous": {"amount_refunded": row.amount_refunded}, "new": {"refund_requested": amount}}
            _audit(conn, "payments.payment.refund_request", "payment", payment_id, {**data, "reason": reason}, admin)
        return record_id, row.payment_intent_id, amount

    # -- webhook events ----------------------------------------------------------------------------

    def retry_event(self, event_id: str, reason: str, actor: Actor | None) -> None:
        admin = require_super_admin(actor, "retrying a webhook event")
        reason = check_text(reason, "reason")
        if not event_id or len(event_id) > 255:
            raise errors.InvalidArgument("event_id is required")
        e = stripe_event.c
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(stripe_event).where(e.id == event_id).with_for_update()).first()
            if row is None:
                raise errors.NotFound("webhook event", event_id)
            if row.status != "failed":
                raise errors.Conflict(f"event {event_id} is {row.status}; only failed events are retried")
            conn.execute(
                stripe_event.update().where(e.id == event_id).values(attempts=0, next_attempt_at=sa.func.now())
            )
            data = {"previous": {"status": row.status, "last_error": row.last_error}, "new": {"status": "retrying"}}
            _audit(conn, "payments.webhook_event.retry", "webhook_event", event_id, {**data, "reason": reason}, admin)
        self._processor.process_one(event_id)

    # -- credit packs ------------------------------------------------------------------------------

    def create_pack(
        self,
        pack_id: str,
        name: str,
        credits: int,
        amount: int,
        currency: str,
        price_id: str,
        active: bool,
        actor: Actor | None,
    ) -> str:
        admin = require_super_admin(actor, "changing credit packs")
        pack_id = pack_id or new_id("pack")
        if not _PACK_ID.fullmatch(pack_id):
            raise errors.InvalidArgument("id must be 3-64 lower-case letters, digits or _ and start with a letter")
        name = check_text(name, "name", required=True, limit=120)
        if not 0 < credits <= 10_000_000:
            raise errors.InvalidArgument("credits must be between 1 and 10,000,000")
        if not 0 <= amount <= 100_000_000:
            raise errors.InvalidArgument("price amount must be between 0 and 100,000,000 (smallest unit)")
        currency = (currency or "").lower()
        if not _CURRENCY.fullmatch(currency):
            raise errors.InvalidArgument("currency must be a three-letter ISO code")
        price_id = check_text(price_id, "stripe_price_id", limit=255)
        values = {"name": name, "credits": credits, "price_amount": amount, "currency": currency}
        values.update(stripe_price_id=price_id or None, active=active)
        try:
            with self._engine.begin() as conn:
                row = conn.execute(credit_pack.insert().values(id=pack_id, **values).returning(credit_pack)).one()
                _audit(
                    conn,
                    "payments.credit_pack.create",
                    "credit_pack",
                    pack_id,
                    {"previous": None, "new": pack_state(row)},
                    admin,
                )
        except IntegrityError:
            raise errors.Conflict(f"credit pack {pack_id} exists already") from None
        return pack_id

    def update_pack(self, pack_id: str, change: PackChange, actor: Actor | None) -> str:
        admin = require_super_admin(actor, "changing credit packs")
        values: dict[str, Any] = {}
        if change.name is not None:
            values["name"] = check_text(change.name, "name", required=True, limit=120)
        if change.active is not None:
            values["active"] = change.active
        if change.stripe_price_id is not None:
            values["stripe_price_id"] = check_text(change.stripe_price_id, "stripe_price_id", limit=255) or None
        if not values:
            raise errors.InvalidArgument("nothing to change: give name, active or stripe_price_id")
        with self._engine.begin() as conn:
            before = conn.execute(sa.select(credit_pack).where(credit_pack.c.id == pack_id).with_for_update()).first()
            if before is None:
                raise errors.NotFound("credit pack", pack_id)
            after = conn.execute(
                credit_pack.update()
                .where(credit_pack.c.id == pack_id)
                .values(**values, updated_at=sa.func.now())
                .returning(credit_pack)
            ).one()
            data = {"previous": pack_state(before), "new": pack_state(after)}
            _audit(conn, "payments.credit_pack.update", "credit_pack", pack_id, data, admin)
        return pack_id

    # -- reconciliation ----------------------------------------------------------------------------

    def reconcile(self, days: int, heal: bool, actor: Actor | None) -> str:
        """Compare Stripe's paid sessions and refunds of the last `days` with the ledger; heal what is missing."""
        if actor is not None and actor.type == ActorType.ADMIN:
            require_super_admin(actor, "running a reconciliation")
        days = days or 7
        if not 1 <= days <= 90:
            raise errors.InvalidArgument("days must be between 1 and 90")
        if self._stripe is None:
            raise errors.StripeUnavailable("Stripe is not configured here (STRIPE_API_KEY)")
        run_id = new_id("rec")
        with self._engine.begin() as conn:
            conn.execute(reconciliation_run.insert().values(id=run_id, days=days, status="running"))
        drift: list[dict[str, Any]] = []
        sessions = refunds = healed = 0
        since = int(time.time()) - days * 86400
        try:
            for session in self._stripe.checkout_sessions(created_from=since):
                if session.get("payment_status") != "paid" or not (session.get("metadata") or {}).get("credit_pack"):
                    continue
                sessions += 1
                healed += self._check_session(session, heal, drift)
            for refund in self._stripe.refunds(created_from=since):
                if refund.get("status") != "succeeded":
                    continue
                refunds += 1
                healed += self._check_refund(refund, heal, drift)
            status, error = ("drift" if any(not d["healed"] for d in drift) else "ok"), None
        except errors.StripeUnavailable as exc:
            status, error = "failed", str(exc)
        except Exception as exc:  # a bug: the run must not stay "running"; say what happened, then raise
            self._finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}", sessions, refunds, drift, healed)
            raise
        self._finish_run(run_id, status, error, sessions, refunds, drift, healed)
        with self._engine.begin() as conn:
            if healed:
                data = {"previous": None, "new": {"healed": healed, "drift": len(drift)}}
                _audit(
                    conn,
                    "payments.reconciliation.heal",
                    "reconciliation_run",
                    run_id,
                    data,
                    actor or Actor.system("payments"),
                )
        return run_id

    def _finish_run(
        self, run_id: str, status: str, error: str | None, sessions: int, refunds: int, drift: list[Any], healed: int
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                reconciliation_run.update()
                .where(reconciliation_run.c.id == run_id)
                .values(
                    status=status,
                    error=error,
                    sessions_checked=sessions,
                    refunds_checked=refunds,
                    drift=drift,
                    healed=healed,
                    finished_at=sa.func.now(),
                )
            )

    def _check_session(self, session: dict[str, Any], heal: bool, drift: list[dict[str, Any]]) -> int:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(payment).where(payment.c.checkout_session_id == session["id"])).first()
        if row is not None and row.purchase_transaction_id is not None:
            if row.amount_total != session.get("amount_total"):
                drift.append(_drift("amount_mismatch", session["id"], row.id, "the paid amount differs", False))
            return 0
        return self._heal(SESSION_PAID[0], session, "missing_purchase", heal, drift, row.id if row else "")

    def _check_refund(self, refund: dict[str, Any], heal: bool, drift: list[dict[str, Any]]) -> int:
        with self._engine.connect() as conn:
            known = conn.execute(
                sa.select(refund_record.c.status).where(refund_record.c.stripe_refund_id == refund["id"])
            ).first()
        if known is not None and known.status == "succeeded":
            return 0
        return self._heal("refund.updated", refund, "missing_refund", heal, drift, "")

    def _heal(
        self, kind_event: str, obj: dict[str, Any], kind: str, heal: bool, drift: list[dict[str, Any]], payment_id: str
    ) -> int:
        if not heal:
            drift.append(_drift(kind, obj["id"], payment_id, "not in the ledger", False))
            return 0
        try:
            _status, _outcome, applied_to = self._processor.apply_object(kind_event, obj)
        except WaitForPayment:
            drift.append(_drift("unknown_payment", obj["id"], payment_id, "its payment is not known here", False))
            return 0
        except errors.PaymentsError as exc:
            drift.append(_drift(kind, obj["id"], payment_id, str(exc), False))
            return 0
        drift.append(_drift(kind, obj["id"], applied_to or payment_id, "applied from Stripe's state", True))
        return 1


def _drift(kind: str, stripe_id: str, payment_id: str, detail: str, healed: bool) -> dict[str, Any]:
    return {"kind": kind, "stripe_id": stripe_id, "payment_id": payment_id, "detail": detail, "healed": healed}
