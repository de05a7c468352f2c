"""Applying stored Stripe events to payments and the credits ledger, in any order, each effect once.

Object state is applied monotonically: a paid session stays paid, a refunded amount only grows, a
dispute only gets flagged. Credits follow from the state, not from the event: a purchase keyed by
the Checkout Session id, and one refund per cumulative level of credits taken back (keyed by the
payment and that level). So duplicates, redeliveries and any order of events give the same ledger.

An event is claimed with `FOR UPDATE SKIP LOCKED` and processed in that transaction; the payment
row is locked while its credits are computed. A failure leaves the event `failed` with its error and
a next attempt (backoff); a refund that arrives before its payment waits for it the same way and is
woken when the payment is recorded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from payments.adapters.credits import STRIPE_ACTOR, Credits
from payments.adapters.tables import (
    WAITING_FOR_PAYMENT,
    credit_pack,
    credit_refund,
    outbox,
    payment,
    refund_record,
    stripe_customer,
    stripe_event,
    waiting_for_payment,
)
from payments.domain import errors
from payments.domain.model import credits_refunded_for
from scenergy.common.backoff import Backoff
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor
from scenergy.common.ids import is_id, new_id
from scenergy.common.outbox import outbox_row

log = logging.getLogger(__name__)

PROCESSED = Counter("payments_events_processed_total", "Stripe events processed, by outcome", ["status"])

SESSION_PAID = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
REFUND_STATE = ("charge.refunded", "charge.refund.updated", "refund.created", "refund.updated")
DISPUTES = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
WAITING = WAITING_FOR_PAYMENT


class WaitForPayment(Exception):
    """The event is about a payment not recorded yet; it is retried, and woken when the payment arrives."""


def _id(value: Any) -> str | None:
    """An id field that Stripe may have expanded into an object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _event(conn: Connection, type_: str, entity: str, entity_id: str, data: dict[str, Any], actor: Actor) -> None:
    envelope = make_envelope(
        type=type_, source="payments", entity_type=entity, entity_id=entity_id, data=data, actor=actor
    )
    conn.execute(outbox.insert().values(**outbox_row(envelope)))


def payment_state(row: Any) -> dict[str, Any]:
    return {
        "client_id": row.client_id,
        "amount_total": row.amount_total,
        "currency": row.currency,
        "amount_refunded": row.amount_refunded,
        "credits": row.credits,
        "credits_refunded": row.credits_refunded,
        "disputed": row.disputed,
    }


class EventProcessor:
    def __init__(self, engine: Engine, credits: Credits, backoff: Backoff, *, max_attempts: int) -> None:
        self._engine = engine
        self._credits = credits
        self._backoff = backoff
        self._max_attempts = max_attempts

    def process_due(self, limit: int = 50) -> int:
        """Process due events one at a time, each in its own transaction; returns how many were handled."""
        handled = 0
        while handled < limit and self.process_one():
            handled += 1
        return handled

    def process_one(self, event_id: str | None = None) -> bool:
        e = stripe_event.c
        with self._engine.begin() as conn:
            query = sa.select(stripe_event).with_for_update(skip_locked=True).limit(1)
            if event_id is not None:
                query = query.where(e.id == event_id)
            else:
                query = query.where(
                    e.status.in_(("pending", "failed")),
                    e.next_attempt_at <= sa.func.now(),
                    e.attempts < self._max_attempts,
                ).order_by(e.next_attempt_at)
            event = conn.execute(query).first()
            if event is None:
                return False
            savepoint = conn.begin_nested()
            try:
                status, outcome, payment_id = self._apply(conn, event)
                savepoint.commit()
            except (WaitForPayment, errors.PaymentsError) as exc:
                savepoint.rollback()
                permanent = isinstance(exc, errors.PermanentEventError)
                self._failed(conn, event, str(exc) if not isinstance(exc, WaitForPayment) else WAITING, permanent)
                return True
            except Exception as exc:  # a bug: keep the event, say what happened, retry later
                savepoint.rollback()
                log.exception("stripe event processing failed", extra={"event_id": event.id})
                self._failed(conn, event, f"{type(exc).__name__}: {exc}", permanent=False)
                return True
            conn.execute(
                stripe_event.update()
                .where(e.id == event.id)
                .values(
                    status=status,
                    outcome=outcome,
                    payment_id=payment_id,
                    attempts=e.attempts + 1,
                    last_error=None,
                    processed_at=sa.func.now(),
                    next_attempt_at=None,
                )
            )
        PROCESSED.labels(status).inc()
        return True

    def _failed(self, conn: Connection, event: Any, error: str, permanent: bool) -> None:
        attempts = event.attempts + 1
        retry = not permanent and attempts < self._max_attempts
        next_at = datetime.now(UTC) + timedelta(seconds=self._backoff.delay_s(attempts)) if retry else None
        conn.execute(
            stripe_event.update()
            .where(stripe_event.c.id == event.id)
            .values(
                status="failed",
                attempts=attempts,
                last_error=error[:2000],
                outcome=error[:500],
                next_attempt_at=next_at,
            )
        )
        PROCESSED.labels("failed").inc()
        if error != WAITING:
            log.warning("stripe event failed", extra={"event_id": event.id, "error": error, "retry": retry})

    # -- what each kind of event does --------------------------------------------------------------

    def apply_object(self, event_type: str, obj: dict[str, Any]) -> tuple[str, str, str | None]:
        """Apply an object as if its event had arrived (reconciliation, admin refunds); one transaction."""
        with self._engine.begin() as conn:
            return self._apply_type(conn, event_type, obj)

    def _apply(self, conn: Connection, event: Any) -> tuple[str, str, str | None]:
        return self._apply_type(conn, event.type, (event.payload.get("data") or {}).get("object") or {})

    def _apply_type(self, conn: Connection, event_type: str, obj: dict[str, Any]) -> tuple[str, str, str | None]:
        if event_type in SESSION_PAID:
            return self._session(conn, obj)
        if event_type in REFUND_STATE:
            return self._refund_state(conn, obj)
        if event_type in DISPUTES:
            return self._dispute(conn, obj)
        return "ignored", f"{event_type} is not used here", None

    def _session(self, conn: Connection, session: dict[str, Any]) -> tuple[str, str, str | None]:
        session_id = _id(session)
        if session_id is None:
            raise errors.PermanentEventError("the Checkout Session has no id")
        if session.get("payment_status") not in ("paid", "no_payment_required"):
            return "processed", "not paid yet; its async_payment_succeeded event will complete it", None
        client_id = session.get("client_reference_id")
        if not isinstance(client_id, str) or not is_id(client_id, "cli"):
            raise errors.PermanentEventError("client_reference_id does not name a client")
        pack_id = (session.get("metadata") or {}).get("credit_pack")
        pack = conn.execute(sa.select(credit_pack).where(credit_pack.c.id == str(pack_id))).first() if pack_id else None
        if pack is None:
            raise errors.PermanentEventError(f"metadata.credit_pack {pack_id!r} is not a credit pack")
        amount_total = session.get("amount_total")
        if not isinstance(amount_total, int) or amount_total < 0:
            raise errors.PermanentEventError("amount_total is missing")
        customer_id = _id(session.get("customer"))
        if customer_id:
            conn.execute(
                pg_insert(stripe_customer)
                .values(
                    stripe_customer_id=customer_id,
                    client_id=client_id,
                    email=(session.get("customer_details") or {}).get("email"),
                )
                .on_conflict_do_nothing()
            )
        created = session.get("created")
        paid_at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else datetime.now(UTC)
        inserted = conn.execute(
            pg_insert(payment)
            .values(
                id=new_id("pay"),
                checkout_session_id=session_id,
                payment_intent_id=_id(session.get("payment_intent")),
                customer_id=customer_id,
                client_id=client_id,
                credit_pack_id=pack.id,
                credits=pack.credits,
                amount_total=amount_total,
                currency=str(session.get("currency") or pack.currency).lower(),
                livemode=bool(session.get("livemode")),
                paid_at=paid_at,
            )
            .on_conflict_do_nothing(index_elements=["checkout_session_id"])
            .returning(payment.c.id)
        ).first()
        row = self._lock_payment(conn, payment.c.checkout_session_id == session_id)
        assert row is not None
        if row.purchase_transaction_id is None:
            transaction_id = self._credits.purchase(
                client_id=row.client_id,
                credits=row.credits,
                payment_reference=session_id,
                description=f"{pack.name} ({pack.credits} credits)",
                key=f"purchase-{session_id}",
                metadata={"credit_pack": pack.id, "amount_total": amount_total, "currency": row.currency},
            )
            conn.execute(
                payment.update()
                .where(payment.c.id == row.id)
                .values(purchase_transaction_id=transaction_id, updated_at=sa.func.now())
            )
            row = self._lock_payment(conn, payment.c.id == row.id)
            assert row is not None
        if inserted is not None:
            _event(
                conn,
                "payments.payment.paid",
                "payment",
                row.id,
                {"previous": None, "new": payment_state(row)},
                STRIPE_ACTOR,
            )
        self._settle_refunds(conn, row)
        # Refunds or disputes that arrived first were waiting for this payment: due now.
        conn.execute(stripe_event.update().where(waiting_for_payment).values(next_attempt_at=sa.func.now()))
        return "processed", f"purchase of {row.credits} credits for {row.client_id}", row.id

    def _lock_payment(self, conn: Connection, condition: Any) -> Any:
        return conn.execute(sa.select(payment).where(condition).with_for_update()).first()

    def _payment_for(self, conn: Connection, charge_id: str | None, intent_id: str | None) -> Any:
        conditions = []
        if intent_id:
            conditions.append(payment.c.payment_intent_id == intent_id)
        if charge_id:
            conditions.append(payment.c.charge_id == charge_id)
        if not conditions:
            raise errors.PermanentEventError("the object names neither a charge nor a payment intent")
        row = self._lock_payment(conn, sa.or_(*conditions))
        if row is None:
            raise WaitForPayment()
        if charge_id and row.charge_id is None:
            conn.execute(payment.update().where(payment.c.id == row.id).values(charge_id=charge_id))
        return row

    def _refund_state(self, conn: Connection, obj: dict[str, Any]) -> tuple[str, str, str | None]:
        if obj.get("object") == "charge":
            row = self._payment_for(conn, _id(obj), _id(obj.get("payment_intent")))
            reported = obj.get("amount_refunded")
            refunded = reported if isinstance(reported, int) else 0
            for refund in (obj.get("refunds") or {}).get("data") or []:
                self._record_refund(conn, row, refund)
        else:  # a refund object
            row = self._payment_for(conn, _id(obj.get("charge")), _id(obj.get("payment_intent")))
            self._record_refund(conn, row, obj)
            refunded = 0
        succeeded = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(refund_record.c.amount), 0)).where(
                refund_record.c.payment_id == row.id, refund_record.c.status == "succeeded"
            )
        ).scalar_one()
        # Monotonic: what Stripe reports and what we know of refunds only ever raise it.
        amount_refunded = min(row.amount_total, max(row.amount_refunded, refunded, int(succeeded)))
        if amount_refunded != row.amount_refunded:
            conn.execute(
                payment.update()
                .where(payment.c.id == row.id)
                .values(amount_refunded=amount_refunded, refunded_at=sa.func.now(), updated_at=sa.func.now())
            )
            row = self._lock_payment(conn, payment.c.id == row.id)
        applied = self._settle_refunds(conn, row)
        outcome = f"refunded {row.amount_refunded} of {row.amount_total} {row.currency}"
        return "processed", outcome + (f"; {applied} credits taken back" if applied else ""), row.id

    def _record_refund(self, conn: Connection, row: Any, refund: dict[str, Any]) -> None:
        refund_id, amount, status = _id(refund), refund.get("amount"), refund.get("status")
        if refund_id is None or not isinstance(amount, int) or not isinstance(status, str):
            return
        r = refund_record.c
        existing = conn.execute(
            sa.select(refund_record).where(r.stripe_refund_id == refund_id).with_for_update()
        ).first()
        if existing is None:
            conn.execute(
                pg_insert(refund_record)
                .values(
                    id=new_id("rfd"),
                    payment_id=row.id,
                    stripe_refund_id=refund_id,
                    amount=amount,
                    status=status,
                    requested_by="system:stripe",
                    reason=refund.get("reason"),
                )
                .on_conflict_do_nothing()
            )
        elif existing.status != "succeeded":  # a succeeded refund stays succeeded for the ledger
            conn.execute(
                refund_record.update().where(r.id == existing.id).values(status=status, updated_at=sa.func.now())
            )

    def _settle_refunds(self, conn: Connection, row: Any) -> int:
        """Take back the credits the refunded amount calls for, once per level; returns how many now."""
        if row.purchase_transaction_id is None:
            return 0
        target = credits_refunded_for(row.credits, row.amount_total, row.amount_refunded)
        if target <= row.credits_refunded:
            return 0
        delta = target - row.credits_refunded
        transaction_id = self._credits.refund(
            transaction_id=row.purchase_transaction_id,
            credits=delta,
            reason=f"Stripe refund: {row.amount_refunded} of {row.amount_total} {row.currency}",
            key=f"refund-{row.id}-{target}",
            payment_reference=row.charge_id or row.checkout_session_id,
        )
        conn.execute(
            pg_insert(credit_refund)
            .values(payment_id=row.id, credits_level=target, credits=delta, credit_transaction_id=transaction_id)
            .on_conflict_do_nothing()
        )
        conn.execute(
            payment.update().where(payment.c.id == row.id).values(credits_refunded=target, updated_at=sa.func.now())
        )
        after = {**payment_state(row), "credits_refunded": target}
        _event(
            conn,
            "payments.payment.refund",
            "payment",
            row.id,
            {"previous": payment_state(row), "new": after},
            STRIPE_ACTOR,
        )
        return delta

    def _dispute(self, conn: Connection, dispute: dict[str, Any]) -> tuple[str, str, str | None]:
        row = self._payment_for(conn, _id(dispute.get("charge")), _id(dispute.get("payment_intent")))
        status = str(dispute.get("status") or "open")
        if not row.disputed or row.dispute_status != status:
            conn.execute(
                payment.update()
                .where(payment.c.id == row.id)
                .values(disputed=True, dispute_status=status, updated_at=sa.func.now())
            )
            after = {**payment_state(row), "disputed": True, "dispute_status": status}
            data = {"previous": payment_state(row), "new": after, "reason": dispute.get("reason")}
            _event(conn, "payments.payment.dispute", "payment", row.id, data, STRIPE_ACTOR)
        return "processed", f"dispute {status}", row.id
