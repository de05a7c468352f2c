"""The payments gRPC surface: reads for every admin, refunds, retries, packs and reconciliation for a super_admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from payments.adapters.tables import credit_pack, refund_record
from payments.bootstrap import Container
from payments.entrypoints.webhooks import create_app
from scenergy.common.testing.actors import ADMIN, SUPER_ADMIN, VIEWER
from scenergy.payments.v1 import payments_pb2 as pb
from scenergy_dev.wire.stripe import sign_webhook, webhook_body

SECRET = "whsec_test_current_secret"


@pytest.fixture
def paid(
    api_container: Container, stripe_server: Any, new_client: Callable[[], str], pack: dict[str, Any]
) -> Callable[..., tuple[str, dict[str, Any]]]:
    """A client whose Checkout Session (in the Stripe wire server) was paid and delivered; (client id, session)."""
    client = create_app(api_container).test_client()

    def make(amount: int = 2000) -> tuple[str, dict[str, Any]]:
        client_id = new_client()
        customer = stripe_server.add_customer(f"{client_id}@example.com")
        session = stripe_server.add_checkout_session(client_id, pack["id"], amount, customer=customer["id"])
        body = webhook_body(stripe_server.event("checkout.session.completed", session))
        response = client.post("/webhooks/stripe", data=body, headers={"Stripe-Signature": sign_webhook(body, SECRET)})
        assert response.status_code == 200
        while api_container.processor.process_due():
            pass
        return client_id, session

    return make


def payment_of(stub: Any, call_metadata: Any, client_id: str) -> Any:
    page = stub.ListPayments(pb.ListPaymentsRequest(client_id=client_id), metadata=call_metadata(VIEWER))
    (item,) = page.items
    return item


def test_a_paid_session_is_listed_with_its_purchase_and_its_customer(
    stub: Any, call_metadata: Any, paid: Callable[..., Any], ledger: Callable[[str], Any]
) -> None:
    client_id, session = paid()
    item = payment_of(stub, call_metadata, client_id)
    assert item.status == "paid" and item.credits == 100 and item.amount.amount == 2000 and item.purchase_transaction_id
    assert item.checkout_session_id == session["id"] and item.payment_intent_id == session["payment_intent"]
    detail = stub.GetPayment(pb.GetPaymentRequest(payment_id=item.id), metadata=call_metadata(VIEWER))
    assert [e.type for e in detail.events] == ["checkout.session.completed"]
    customers = stub.ListCustomers(pb.ListCustomersRequest(search=client_id), metadata=call_metadata(VIEWER))
    assert customers.items[0].client_id == client_id and customers.items[0].payments == 1
    overview = stub.GetOverview(pb.GetOverviewRequest(), metadata=call_metadata(VIEWER))
    assert overview.payments_30d >= 1 and any(m.currency == "usd" and m.amount >= 2000 for m in overview.revenue_today)
    assert ledger(client_id) == (100, [("purchase", 100)])


def test_a_super_admin_refunds_through_stripe_once_and_the_ledger_follows(
    stub: Any,
    call_metadata: Any,
    paid: Callable[..., Any],
    ledger: Callable[[str], Any],
    stripe_server: Any,
    api_container: Container,
) -> None:
    client_id, _session = paid()
    payment_id = payment_of(stub, call_metadata, client_id).id
    request = pb.RefundPaymentRequest(payment_id=payment_id, amount=500, reason="customer asked", idempotency_key="r-1")
    for actor in (ADMIN, VIEWER):
        with pytest.raises(grpc.RpcError) as denied:
            stub.RefundPayment(request, metadata=call_metadata(actor))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    detail = stub.RefundPayment(request, metadata=call_metadata(SUPER_ADMIN))
    assert detail.payment.amount_refunded == 500 and detail.payment.credits_refunded == 25
    again = stub.RefundPayment(request, metadata=call_metadata(SUPER_ADMIN))  # a retried request: no second refund
    assert again.payment.amount_refunded == 500
    refunds = [r for r in stripe_server.requests if r.method == "POST" and r.path == "/v1/refunds"]
    assert len({r.idempotency_key for r in refunds if payment_id in (r.idempotency_key or "")}) == 1
    with pytest.raises(grpc.RpcError) as too_much:
        stub.RefundPayment(
            pb.RefundPaymentRequest(payment_id=payment_id, amount=1600, reason="more"),
            metadata=call_metadata(SUPER_ADMIN),
        )
    assert too_much.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    rest = stub.RefundPayment(
        pb.RefundPaymentRequest(payment_id=payment_id, reason="the rest", idempotency_key="r-2"),
        metadata=call_metadata(SUPER_ADMIN),
    )
    assert rest.payment.status == "refunded" and rest.payment.credits_refunded == 100
    assert ledger(client_id) == (0, [("purchase", 100), ("refund", -75), ("refund", -25)])
    with api_container.engine.connect() as conn:
        statuses = (
            conn.execute(sa.select(refund_record.c.status).where(refund_record.c.payment_id == payment_id))
            .scalars()
            .all()
        )
    assert sorted(statuses) == ["succeeded", "succeeded"]


def test_reconciliation_heals_a_payment_and_a_refund_whose_webhooks_never_came(
    stub: Any,
    call_metadata: Any,
    paid: Callable[..., Any],
    ledger: Callable[[str], Any],
    stripe_server: Any,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    refunded_client, session = paid()
    charge_id = stripe_server.get(session["payment_intent"])["latest_charge"]
    stripe_server.add_refund(charge_id, 1000)  # made in Stripe's dashboard; its webhook was lost
    silent_client = new_client()
    stripe_server.add_checkout_session(silent_client, pack["id"], 2000)  # paid; webhook lost
    with pytest.raises(grpc.RpcError) as denied:
        stub.RunReconciliation(pb.RunReconciliationRequest(days=1, heal=True), metadata=call_metadata(ADMIN))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    dry = stub.RunReconciliation(pb.RunReconciliationRequest(days=1), metadata=call_metadata(SUPER_ADMIN))
    assert dry.status == "drift" and {d.kind for d in dry.drift} >= {"missing_purchase", "missing_refund"}
    assert ledger(silent_client) == (0, [])
    report = stub.RunReconciliation(pb.RunReconciliationRequest(days=1, heal=True), metadata=call_metadata(SUPER_ADMIN))
    assert report.healed >= 2 and report.status in ("ok", "drift")
    assert ledger(silent_client) == (100, [("purchase", 100)])
    assert ledger(refunded_client) == (50, [("purchase", 100), ("refund", -50)])
    again = stub.RunReconciliation(pb.RunReconciliationRequest(days=1, heal=True), metadata=call_metadata(SUPER_ADMIN))
    assert not [d for d in again.drift if d.stripe_id in (session["id"],)]
    last = stub.GetReconciliationReport(pb.GetReconciliationReportRequest(), metadata=call_metadata(VIEWER))
    assert last.id == again.id


def test_a_failed_event_is_retried_by_a_super_admin_once_its_cause_is_fixed(
    stub: Any,
    call_metadata: Any,
    api_container: Container,
    stripe_server: Any,
    new_client: Callable[[], str],
    ledger: Callable[[str], Any],
) -> None:
    client_id = new_client()
    session = stripe_server.add_checkout_session(client_id, "pack_later_50", 1000)
    event = stripe_server.event("checkout.session.completed", session)
    body = webhook_body(event)
    create_app(api_container).test_client().post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign_webhook(body, SECRET)}
    )
    while api_container.processor.process_due():
        pass
    failed = stub.ListWebhookEvents(pb.ListWebhookEventsRequest(status="failed"), metadata=call_metadata(VIEWER))
    assert event["id"] in {e.id for e in failed.items}
    created = stub.CreateCreditPack(
        pb.CreateCreditPackRequest(
            id="pack_later_50", name="50 credits", credits=50, price=pb.Money(amount=1000, currency="usd"), active=True
        ),
        metadata=call_metadata(SUPER_ADMIN),
    )
    assert created.credits == 50
    with pytest.raises(grpc.RpcError) as denied:
        stub.RetryWebhookEvent(pb.RetryWebhookEventRequest(event_id=event["id"]), metadata=call_metadata(ADMIN))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    retried = stub.RetryWebhookEvent(
        pb.RetryWebhookEventRequest(event_id=event["id"], reason="pack created"), metadata=call_metadata(SUPER_ADMIN)
    )
    assert retried.status == "processed" and '"client_reference_id"' in retried.payload_json
    assert ledger(client_id) == (50, [("purchase", 50)])


def test_packs_are_listed_for_everyone_and_changed_by_a_super_admin_only(
    stub: Any, call_metadata: Any, api_container: Container
) -> None:
    bad = [
        pb.CreateCreditPackRequest(id="Bad Id", name="x", credits=1, price=pb.Money(amount=1, currency="usd")),
        pb.CreateCreditPackRequest(id="pack_ok_1", name="", credits=1, price=pb.Money(amount=1, currency="usd")),
        pb.CreateCreditPackRequest(id="pack_ok_2", name="x", credits=0, price=pb.Money(amount=1, currency="usd")),
        pb.CreateCreditPackRequest(id="pack_ok_3", name="x", credits=1, price=pb.Money(amount=1, currency="dollars")),
    ]
    for request in bad:
        with pytest.raises(grpc.RpcError) as refused:
            stub.CreateCreditPack(request, metadata=call_metadata(SUPER_ADMIN))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    request = pb.CreateCreditPackRequest(
        id="pack_grpc_250", name="250 credits", credits=250, price=pb.Money(amount=4500, currency="EUR"), active=True
    )
    with pytest.raises(grpc.RpcError) as denied:
        stub.CreateCreditPack(request, metadata=call_metadata(ADMIN))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert stub.CreateCreditPack(request, metadata=call_metadata(SUPER_ADMIN)).price.currency == "eur"
    with pytest.raises(grpc.RpcError) as exists:
        stub.CreateCreditPack(request, metadata=call_metadata(SUPER_ADMIN))
    assert exists.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    off = stub.UpdateCreditPack(
        pb.UpdateCreditPackRequest(id="pack_grpc_250", active=False), metadata=call_metadata(SUPER_ADMIN)
    )
    assert not off.active and off.name == "250 credits"
    listed = stub.ListCreditPacks(pb.ListCreditPacksRequest(), metadata=call_metadata(VIEWER))
    assert "pack_grpc_250" not in {p.id for p in listed.items}
    everything = stub.ListCreditPacks(pb.ListCreditPacksRequest(include_inactive=True), metadata=call_metadata(VIEWER))
    assert "pack_grpc_250" in {p.id for p in everything.items}
    with api_container.engine.connect() as conn:
        assert (
            conn.execute(sa.select(credit_pack.c.active).where(credit_pack.c.id == "pack_grpc_250")).scalar_one()
            is False
        )


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("ListPayments", pb.ListPaymentsRequest(limit=101)),
        ("ListPayments", pb.ListPaymentsRequest(client_id="nope")),
        ("ListPayments", pb.ListPaymentsRequest(status="lost")),
        ("ListPayments", pb.ListPaymentsRequest(cursor="###")),
        ("GetPayment", pb.GetPaymentRequest(payment_id="x")),
        ("ListWebhookEvents", pb.ListWebhookEventsRequest(status="weird")),
        ("RunReconciliation", pb.RunReconciliationRequest(days=91)),
    ],
)
def test_bad_requests_are_invalid_arguments(stub: Any, call_metadata: Any, method: str, message: Any) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        getattr(stub, method)(message, metadata=call_metadata(SUPER_ADMIN))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_refund_whose_answer_was_lost_is_asked_again_with_the_same_key_and_applies_once(
    stub: Any, call_metadata: Any, paid: Callable[..., Any], ledger: Callable[[str], Any], stripe_server: Any
) -> None:
    client_id, _session = paid()
    payment_id = payment_of(stub, call_metadata, client_id).id
    request = pb.RefundPaymentRequest(payment_id=payment_id, amount=1000, reason="half", idempotency_key="lost-1")
    stripe_server.fail_next(500)  # Stripe's answer is lost: it may or may not have refunded
    with pytest.raises(grpc.RpcError) as unknown:
        stub.RefundPayment(request, metadata=call_metadata(SUPER_ADMIN))
    assert unknown.value.code() == grpc.StatusCode.UNAVAILABLE
    pending = stub.GetPayment(pb.GetPaymentRequest(payment_id=payment_id), metadata=call_metadata(VIEWER))
    assert [(r.status, r.stripe_refund_id) for r in pending.refunds] == [("requested", "")] and pending.refunds[0].error
    detail = stub.RefundPayment(request, metadata=call_metadata(SUPER_ADMIN))  # the same request again
    assert detail.payment.amount_refunded == 1000 and [r.status for r in detail.refunds] == ["succeeded"]
    assert [(c.credits_level, c.credits) for c in detail.credit_refunds] == [(50, 50)]
    posts = [r for r in stripe_server.requests if r.method == "POST" and r.path == "/v1/refunds"]
    keys = {r.idempotency_key for r in posts if payment_id in (r.idempotency_key or "")}
    assert len(keys) == 1  # the server is shared by the session's tests: only this payment's requests count
    assert ledger(client_id) == (50, [("purchase", 100), ("refund", -50)])
