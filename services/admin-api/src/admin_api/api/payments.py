"""Payments through the gateway: the overview, payments with their refunds and Stripe events, admin
refunds, webhook events and their retry, credit packs, Stripe customers and the reconciliation.

Everything lives in the payments service, which re-checks the role of every change (super_admin
only) and writes the audit events itself. The gateway checks input, adds client names from its
directory (one query per page), looks up a payment's purchase in the credits ledger, passes the
admin's identity and a key derived from `Idempotency-Key`, and maps the service's answers to HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal, TypeVar

import grpc
from flask import Blueprint
from pydantic import AwareDatetime, Field
from spectree import Response as Responses

from admin_api.api.convert import idempotency_key_for, iso, loads, stamp
from admin_api.api.credits import TransactionOut, transaction_out
from admin_api.api.jobs import CLIENT_ID, READ_ERRORS, WRITE_ERRORS, check_range, names_of, opt, require_id
from admin_api.api.spec import Model, NoNulls, Out, Page, body_of, query_of, spec
from admin_api.clients.platform import Platform, as_api_error
from admin_api.service_layer import directory
from admin_api.web import container, current_actor
from scenergy.common.http import ApiError
from scenergy.credits.v1 import credits_pb2
from scenergy.payments.v1 import payments_pb2 as pb

bp = Blueprint("payments", __name__, url_prefix="/api/admin/payments")

SERVICE = "payments"
# Refunds and reconciliation wait for Stripe (and the ledger) inside the service; a retry waits for
# the ledger. Longer than a read's deadline, still bounded.
STRIPE_DEADLINE_S = 30.0
# The purchase is written when the payment is processed, after Stripe created the session and before
# the payment row last changed; the margin absorbs clock differences between the two databases.
PURCHASE_WINDOW_MARGIN = timedelta(minutes=5)

PaymentStatus = Literal["paid", "partially_refunded", "refunded", "disputed"]
EventStatus = Literal["pending", "processed", "failed", "ignored"]
EVENT_ID = r"^evt_[A-Za-z0-9_]{1,251}$"
EVENT_TYPE = r"^([a-z_]+(\.[a-z_]+){0,5})?$"  # e.g. checkout.session.completed; empty: any
PACK_ID = r"^[a-z][a-z0-9_]{2,63}$"
STRIPE_PRICE_ID = r"^[A-Za-z0-9_]{0,255}$"  # empty: none
CURRENCY = r"^[A-Za-z]{3}$"

R = TypeVar("R")


# --- shapes ----------------------------------------------------------------------------------


class MoneyOut(Out):
    amount: int  # in the currency's smallest unit (cents)
    currency: str  # ISO 4217, lower case as Stripe writes it


class OverviewOut(Out):
    revenue_today: list[MoneyOut]  # one per currency; UTC day
    revenue_7d: list[MoneyOut]
    revenue_30d: list[MoneyOut]
    refunds_30d: list[MoneyOut]
    payments_30d: int
    failed_webhooks: int
    disputed_payments: int
    mrr: list[MoneyOut]  # from active subscriptions: empty, there are none yet
    last_event_at: str | None
    last_reconciled_at: str | None
    open_drift: int  # drift the last reconciliation found and could not heal


class PaymentOut(Out):
    id: str
    client_id: str
    client_name: str | None  # from the directory; null for a client not in it
    credit_pack_id: str
    credits: int
    amount: MoneyOut
    amount_refunded: int
    credits_refunded: int
    status: str  # paid | partially_refunded | refunded
    disputed: bool
    dispute_status: str | None
    checkout_session_id: str
    payment_intent_id: str | None
    charge_id: str | None
    customer_id: str | None
    purchase_transaction_id: str | None  # the credits ledger's purchase
    paid_at: str | None
    updated_at: str | None


class PaymentsOut(Out):
    items: list[PaymentOut]
    next_cursor: str | None
    total: int | None = None


class RefundOut(Out):
    stripe_refund_id: str | None  # null until Stripe answered
    amount: int
    status: str  # requested | pending | succeeded | failed | canceled
    requested_by: str  # an admin id, or "system:stripe" for a refund made in Stripe
    reason: str | None
    error: str | None  # why a request failed, or why its answer is not known yet
    created_at: str | None


class CreditRefundOut(Out):
    credits_level: int  # credits taken back in all once this one applied
    credits: int
    credit_transaction_id: str | None
    created_at: str | None


class EventOut(Out):
    id: str  # Stripe's event id
    type: str
    status: str  # pending | processed | failed | ignored
    attempts: int
    last_error: str | None
    object_id: str | None
    payment_id: str | None
    livemode: bool
    created: str | None  # when Stripe created it
    received_at: str | None
    processed_at: str | None
    next_attempt_at: str | None  # a failed event's next automatic attempt; null: an admin must retry it
    deliveries: int  # how often Stripe delivered it
    outcome: str | None  # what processing did, in words


class EventDetailOut(EventOut):
    payload: dict[str, Any] | None  # the event as Stripe sent it


class EventsOut(Out):
    items: list[EventOut]
    next_cursor: str | None
    total: int | None = None


class PaymentDetailOut(Out):
    payment: PaymentOut
    credit_transaction: TransactionOut | None  # the ledger's purchase; null when not found (see degraded)
    refunds: list[RefundOut]
    credit_refunds: list[CreditRefundOut]  # the ledger's refunds, one per level the refunded money reached
    events: list[EventOut]  # the webhook events about this payment, oldest first
    degraded: list[str] = []  # ["credits"] when the ledger did not answer


class PackOut(Out):
    id: str
    name: str
    credits: int
    price: MoneyOut
    stripe_price_id: str | None
    active: bool
    created_at: str | None
    updated_at: str | None


class PacksOut(Out):
    items: list[PackOut]
    next_cursor: str | None = None  # every pack on one page


class CustomerOut(Out):
    stripe_customer_id: str
    client_id: str
    client_name: str | None
    email: str | None
    payments: int
    total_paid: list[MoneyOut]
    created_at: str | None


class CustomersOut(Out):
    items: list[CustomerOut]
    next_cursor: str | None


class DriftOut(Out):
    kind: str  # missing_purchase | missing_refund | amount_mismatch | unknown_payment
    stripe_id: str
    payment_id: str | None
    detail: str
    healed: bool


class ReportOut(Out):
    id: str
    status: str  # running | ok | drift | failed
    days: int
    sessions_checked: int
    refunds_checked: int
    drift: list[DriftOut]
    healed: int
    error: str | None
    started_at: str | None
    finished_at: str | None


class TransactionsQuery(Page):
    client_id: str = Field("", max_length=80, pattern=CLIENT_ID)
    status: PaymentStatus | None = None
    paid_from: AwareDatetime | None = None
    paid_to: AwareDatetime | None = None
    include_total: bool = False


class EventsQuery(Page):
    type: str = Field("", max_length=100, pattern=EVENT_TYPE, examples=["checkout.session.completed"])
    status: EventStatus | None = None
    include_total: bool = False


class PacksQuery(Model):
    include_inactive: bool = False


class CustomersQuery(Page):
    search: str = Field("", max_length=200, description="an email prefix, a Stripe customer id or a client id")


class RefundIn(Model):
    amount: int | None = Field(None, ge=1, le=100_000_000, description="smallest unit; left out: all that remains")
    reason: str = Field(min_length=3, max_length=500)


class RetryIn(Model):
    reason: str = Field("", max_length=500)


class PriceIn(Model):
    amount: int = Field(ge=0, le=100_000_000, description="smallest unit (cents)")
    currency: str = Field(pattern=CURRENCY, examples=["usd"])


class PackIn(Model):
    id: str = Field("", max_length=64, pattern=rf"^$|{PACK_ID}", description="e.g. pack_500; generated when empty")
    name: str = Field(min_length=1, max_length=120)
    credits: int = Field(ge=1, le=10_000_000)
    price: PriceIn
    stripe_price_id: str = Field("", max_length=255, pattern=STRIPE_PRICE_ID)
    active: bool = True


class PackPatch(NoNulls):
    name: str | None = Field(None, min_length=1, max_length=120)
    active: bool | None = None
    stripe_price_id: str | None = Field(None, max_length=255, pattern=STRIPE_PRICE_ID, description='"": none')


class ReconcileIn(Model):
    days: int = Field(7, ge=1, le=90, description="how far back to compare with Stripe")
    heal: bool = Field(False, description="apply to the ledger what is missing from it")


# --- calls and conversions --------------------------------------------------------------------


def platform() -> Platform:
    return container().platform


def _call(method: Callable[..., R], request: Any, *, timeout: float | None = None) -> R:
    """Like Platform.call, and a Stripe that isn't configured or didn't answer is said as such."""
    p = platform()
    try:
        return method(request, metadata=p.metadata(), timeout=timeout or p.deadline_s)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        details = (exc.details() if hasattr(exc, "details") else "") or ""
        if code == grpc.StatusCode.UNAVAILABLE and details.startswith("Stripe"):
            raise ApiError(503, "stripe_unavailable", details) from None
        raise as_api_error(exc, SERVICE) from None


def money(items: Any) -> list[MoneyOut]:
    return [MoneyOut(amount=m.amount, currency=m.currency) for m in items]


def payment_out(p: pb.Payment, names: dict[str, str]) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        client_id=p.client_id,
        client_name=names.get(p.client_id),
        credit_pack_id=p.credit_pack_id,
        credits=p.credits,
        amount=MoneyOut(amount=p.amount.amount, currency=p.amount.currency),
        amount_refunded=p.amount_refunded,
        credits_refunded=p.credits_refunded,
        status=p.status,
        disputed=p.disputed,
        dispute_status=opt(p.dispute_status),
        checkout_session_id=p.checkout_session_id,
        payment_intent_id=opt(p.payment_intent_id),
        charge_id=opt(p.charge_id),
        customer_id=opt(p.customer_id),
        purchase_transaction_id=opt(p.purchase_transaction_id),
        paid_at=iso(p.paid_at),
        updated_at=iso(p.updated_at),
    )


def event_out(e: pb.WebhookEvent) -> EventOut:
    return EventOut(**_event_fields(e))


def event_detail_out(e: pb.WebhookEvent) -> EventDetailOut:
    return EventDetailOut(**_event_fields(e), payload=loads(e.payload_json))


def _event_fields(e: pb.WebhookEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "type": e.type,
        "status": e.status,
        "attempts": e.attempts,
        "last_error": opt(e.last_error),
        "object_id": opt(e.object_id),
        "payment_id": opt(e.payment_id),
        "livemode": e.livemode,
        "created": iso(e.created),
        "received_at": iso(e.received_at),
        "processed_at": iso(e.processed_at),
        "next_attempt_at": iso(e.next_attempt_at),
        "deliveries": e.deliveries,
        "outcome": opt(e.outcome),
    }


def refund_out(r: pb.RefundRecord) -> RefundOut:
    return RefundOut(
        stripe_refund_id=opt(r.stripe_refund_id),
        amount=r.amount,
        status=r.status,
        requested_by=r.requested_by,
        reason=opt(r.reason),
        error=opt(r.error),
        created_at=iso(r.created_at),
    )


def credit_refund_out(c: pb.CreditRefund) -> CreditRefundOut:
    return CreditRefundOut(
        credits_level=c.credits_level,
        credits=c.credits,
        credit_transaction_id=opt(c.credit_transaction_id),
        created_at=iso(c.created_at),
    )


def pack_out(p: pb.CreditPack) -> PackOut:
    return PackOut(
        id=p.id,
        name=p.name,
        credits=p.credits,
        price=MoneyOut(amount=p.price.amount, currency=p.price.currency),
        stripe_price_id=opt(p.stripe_price_id),
        active=p.active,
        created_at=iso(p.created_at),
        updated_at=iso(p.updated_at),
    )


def report_out(r: pb.ReconciliationReport) -> ReportOut:
    return ReportOut(
        id=r.id,
        status=r.status,
        days=r.days,
        sessions_checked=r.sessions_checked,
        refunds_checked=r.refunds_checked,
        drift=[
            DriftOut(kind=d.kind, stripe_id=d.stripe_id, payment_id=opt(d.payment_id), detail=d.detail, healed=d.healed)
            for d in r.drift
        ],
        healed=r.healed,
        error=opt(r.error),
        started_at=iso(r.started_at),
        finished_at=iso(r.finished_at),
    )


def _purchase(p: pb.Payment, degraded: list[str]) -> TransactionOut | None:
    """The ledger's purchase of the payment: one bounded page of the client's purchases around it (the
    credits contract reads transactions by listing only)."""
    if not p.purchase_transaction_id:
        return None
    paid_at = p.paid_at.ToDatetime()
    last_change = max(p.updated_at.ToDatetime(), paid_at)
    c = platform()
    try:
        page = c.call(
            "credits",
            c.credits.ListTransactions,
            credits_pb2.ListTransactionsRequest(
                client_id=p.client_id,
                types=["purchase"],
                created_from=stamp(paid_at - PURCHASE_WINDOW_MARGIN),
                created_to=stamp(last_change + PURCHASE_WINDOW_MARGIN),
                limit=100,
            ),
            timeout=directory.ENRICH_DEADLINE_S,
        )
    except ApiError:
        degraded.append("credits")
        return None
    found = [t for t in page.items if t.id == p.purchase_transaction_id]
    return transaction_out(found[0]) if found else None


def detail_out(d: pb.PaymentDetail) -> PaymentDetailOut:
    degraded: list[str] = []
    return PaymentDetailOut(
        payment=payment_out(d.payment, names_of(d.payment.client_id)),
        credit_transaction=_purchase(d.payment, degraded),
        refunds=[refund_out(r) for r in d.refunds],
        credit_refunds=[credit_refund_out(c) for c in d.credit_refunds],
        events=[event_out(e) for e in d.events],
        degraded=degraded,
    )


# --- the overview and payments ---------------------------------------------------------------


@bp.get("")
@spec.validate(resp=Responses(HTTP_200=OverviewOut, **READ_ERRORS))
def overview() -> OverviewOut:
    """Revenue today, in 7 and 30 days (per currency), refunds and payments of 30 days, failed
    webhooks, disputed payments, MRR (empty: no subscriptions yet), the last event, the last
    reconciliation and the drift it could not heal."""
    o = _call(platform().payments.GetOverview, pb.GetOverviewRequest())
    return OverviewOut(
        revenue_today=money(o.revenue_today),
        revenue_7d=money(o.revenue_7d),
        revenue_30d=money(o.revenue_30d),
        refunds_30d=money(o.refunds_30d),
        payments_30d=o.payments_30d,
        failed_webhooks=o.failed_webhooks,
        disputed_payments=o.disputed_payments,
        mrr=money(o.mrr),
        last_event_at=iso(o.last_event_at),
        last_reconciled_at=iso(o.last_reconciled_at),
        open_drift=o.open_drift,
    )


@bp.get("/transactions")
@spec.validate(query=TransactionsQuery, resp=Responses(HTTP_200=PaymentsOut, **READ_ERRORS))
def list_payments() -> PaymentsOut:
    """Payments, newest first, with each client's name; filters: client, status (`disputed`: a
    dispute was opened, whatever the refunds), paid from (inclusive) / to (exclusive)."""
    query = query_of(TransactionsQuery)
    check_range(query.paid_from, query.paid_to)
    response = _call(
        platform().payments.ListPayments,
        pb.ListPaymentsRequest(
            client_id=query.client_id,
            status=query.status or "",
            paid_from=stamp(query.paid_from),
            paid_to=stamp(query.paid_to),
            limit=query.limit,
            cursor=query.cursor,
            include_total=query.include_total,
        ),
    )
    names = names_of(*(p.client_id for p in response.items))
    return PaymentsOut(
        items=[payment_out(p, names) for p in response.items],
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


@bp.get("/transactions/<payment_id>")
@spec.validate(resp=Responses(HTTP_200=PaymentDetailOut, **READ_ERRORS))
def get_payment(payment_id: str) -> PaymentDetailOut:
    """The payment with its Stripe ids, its purchase in the credits ledger, its refunds and the
    webhook events about it."""
    require_id(payment_id, "pay", "payment_id")
    return detail_out(_call(platform().payments.GetPayment, pb.GetPaymentRequest(payment_id=payment_id)))


@bp.post("/transactions/<payment_id>/refund")
@spec.validate(json=RefundIn, resp=Responses(HTTP_200=PaymentDetailOut, **WRITE_ERRORS))
def refund(payment_id: str) -> PaymentDetailOut:
    """Refund through Stripe (super_admin): `amount` in the smallest unit, or everything not yet
    refunded; the credits follow in proportion. More than remains is a 409; without Stripe
    configured, a 503. `Idempotency-Key` reaches Stripe, so a retried request refunds once."""
    require_id(payment_id, "pay", "payment_id")
    body = body_of(RefundIn)
    request_ = pb.RefundPaymentRequest(
        payment_id=payment_id,
        amount=body.amount or 0,
        reason=body.reason,
        idempotency_key=idempotency_key_for(current_actor().id),
    )
    return detail_out(_call(platform().payments.RefundPayment, request_, timeout=STRIPE_DEADLINE_S))


# --- webhook events --------------------------------------------------------------------------


@bp.get("/events")
@spec.validate(query=EventsQuery, resp=Responses(HTTP_200=EventsOut, **READ_ERRORS))
def list_events() -> EventsOut:
    """Stripe webhook events as received, newest first; filters: type, status."""
    query = query_of(EventsQuery)
    response = _call(
        platform().payments.ListWebhookEvents,
        pb.ListWebhookEventsRequest(
            type=query.type,
            status=query.status or "",
            limit=query.limit,
            cursor=query.cursor,
            include_total=query.include_total,
        ),
    )
    return EventsOut(
        items=[event_out(e) for e in response.items],
        next_cursor=response.next_cursor or None,
        total=response.total if response.has_total else None,
    )


def _event_id(event_id: str) -> str:
    if len(event_id) > 255 or not re.fullmatch(EVENT_ID, event_id):
        raise ApiError(
            400,
            "invalid_request",
            "event_id is not a Stripe event id.",
            {"fields": [{"field": "event_id", "message": "expected an evt_ id"}]},
        )
    return event_id


@bp.get("/events/<event_id>")
@spec.validate(resp=Responses(HTTP_200=EventDetailOut, **READ_ERRORS))
def get_event(event_id: str) -> EventDetailOut:
    """The event with its payload, its processing attempts and outcome."""
    _event_id(event_id)
    return event_detail_out(_call(platform().payments.GetWebhookEvent, pb.GetWebhookEventRequest(event_id=event_id)))


@bp.post("/events/<event_id>/retry")
@spec.validate(json=RetryIn, resp=Responses(HTTP_200=EventDetailOut, **WRITE_ERRORS))
def retry_event(event_id: str) -> EventDetailOut:
    """Process a failed event again now (super_admin), e.g. once the pack it names exists; 409 for an
    event that is not failed. Answers the event as it is after the attempt."""
    _event_id(event_id)
    body = body_of(RetryIn)
    event = _call(
        platform().payments.RetryWebhookEvent,
        pb.RetryWebhookEventRequest(event_id=event_id, reason=body.reason),
        timeout=STRIPE_DEADLINE_S,
    )
    return event_detail_out(event)


# --- credit packs ------------------------------------------------------------------------------


@bp.get("/packs")
@spec.validate(query=PacksQuery, resp=Responses(HTTP_200=PacksOut, **READ_ERRORS))
def list_packs() -> PacksOut:
    """The credit packs on sale (`include_inactive` for all), by size."""
    query = query_of(PacksQuery)
    response = _call(
        platform().payments.ListCreditPacks, pb.ListCreditPacksRequest(include_inactive=query.include_inactive)
    )
    return PacksOut(items=[pack_out(p) for p in response.items])


@bp.post("/packs")
@spec.validate(json=PackIn, resp=Responses(HTTP_201=PackOut, **WRITE_ERRORS))
def create_pack() -> tuple[PackOut, int]:
    """A credit pack (super_admin); an id taken already is a 409."""
    body = body_of(PackIn)
    pack = _call(
        platform().payments.CreateCreditPack,
        pb.CreateCreditPackRequest(
            id=body.id,
            name=body.name,
            credits=body.credits,
            price=pb.Money(amount=body.price.amount, currency=body.price.currency.lower()),
            stripe_price_id=body.stripe_price_id,
            active=body.active,
        ),
    )
    return pack_out(pack), 201


def _pack_id(pack_id: str) -> str:
    if not re.fullmatch(PACK_ID, pack_id):
        raise ApiError(
            400,
            "invalid_request",
            "pack_id is not a credit pack id.",
            {"fields": [{"field": "pack_id", "message": "3-64 lower-case letters, digits or _"}]},
        )
    return pack_id


@bp.patch("/packs/<pack_id>")
@spec.validate(json=PackPatch, resp=Responses(HTTP_200=PackOut, **WRITE_ERRORS))
def update_pack(pack_id: str) -> PackOut:
    """Rename, (de)activate or link a pack to a Stripe price (super_admin); `stripe_price_id: ""`
    unlinks it. Payments already made keep their credits and amount."""
    _pack_id(pack_id)
    body = body_of(PackPatch)
    if not body.model_fields_set:
        raise ApiError(
            400,
            "invalid_request",
            "Nothing to change: give name, active or stripe_price_id.",
            {"fields": [{"field": "", "message": "give name, active or stripe_price_id"}]},
        )
    request_ = pb.UpdateCreditPackRequest(id=pack_id)
    if body.name is not None:
        request_.name = body.name
    if body.active is not None:
        request_.active = body.active
    if body.stripe_price_id is not None:
        request_.stripe_price_id = body.stripe_price_id
    return pack_out(_call(platform().payments.UpdateCreditPack, request_))


# --- customers and reconciliation --------------------------------------------------------------


@bp.get("/customers")
@spec.validate(query=CustomersQuery, resp=Responses(HTTP_200=CustomersOut, **READ_ERRORS))
def list_customers() -> CustomersOut:
    """Stripe customers and their clients (with names), their payments and totals; `search` matches
    an email prefix, a Stripe customer id or a client id."""
    query = query_of(CustomersQuery)
    response = _call(
        platform().payments.ListCustomers,
        pb.ListCustomersRequest(search=query.search, limit=query.limit, cursor=query.cursor),
    )
    names = names_of(*(c.client_id for c in response.items))
    return CustomersOut(
        items=[
            CustomerOut(
                stripe_customer_id=c.stripe_customer_id,
                client_id=c.client_id,
                client_name=names.get(c.client_id),
                email=opt(c.email),
                payments=c.payments,
                total_paid=money(c.total_paid),
                created_at=iso(c.created_at),
            )
            for c in response.items
        ],
        next_cursor=response.next_cursor or None,
    )


@bp.get("/reconciliation")
@spec.validate(resp=Responses(HTTP_200=ReportOut, **READ_ERRORS))
def last_reconciliation() -> ReportOut:
    """The last comparison with Stripe (the worker's hourly one or an admin's); 404 before the first."""
    return report_out(_call(platform().payments.GetReconciliationReport, pb.GetReconciliationReportRequest()))


@bp.post("/reconciliation")
@spec.validate(json=ReconcileIn, resp=Responses(HTTP_200=ReportOut, **WRITE_ERRORS))
def reconcile() -> ReportOut:
    """Compare Stripe's paid sessions and refunds of the last `days` (7) with the ledger now
    (super_admin); with `heal`, apply what is missing. 503 when Stripe isn't configured."""
    body = body_of(ReconcileIn)
    report = _call(
        platform().payments.RunReconciliation,
        pb.RunReconciliationRequest(days=body.days, heal=body.heal),
        timeout=STRIPE_DEADLINE_S,
    )
    return report_out(report)
