"""The payments gRPC server (and its /healthz, /readyz, /metrics on GRPC_OPS_PORT): `payments-grpc`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from flask import Flask

from payments.adapters.stripe_api import StripeRefused
from payments.bootstrap import SERVICE_NAME, Container, bootstrap
from payments.config import Settings
from payments.domain import errors
from payments.service_layer.admin import PackChange
from payments.views import payment_status
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.common.grpc_server import GrpcServer, abort_on
from scenergy.common.http import init_app
from scenergy.common.logging import configure_logging
from scenergy.common.ops_server import serve_grpc
from scenergy.common.pagination import InvalidPage
from scenergy.common.protobuf import InvalidTimestamp, from_timestamp, to_timestamp
from scenergy.payments.v1 import payments_pb2 as pb
from scenergy.payments.v1 import payments_pb2_grpc as pb_grpc

ERRORS: dict[type[Exception], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidTimestamp: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidPage: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
    StripeRefused: grpc.StatusCode.FAILED_PRECONDITION,
    errors.StripeUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.DependencyUnavailable: grpc.StatusCode.UNAVAILABLE,
}

R = TypeVar("R")


def money(pairs: list[tuple[str, int]]) -> list[pb.Money]:
    return [pb.Money(amount=amount, currency=currency) for currency, amount in pairs]


def payment_pb(row: Any) -> pb.Payment:
    return pb.Payment(
        id=row.id,
        client_id=row.client_id,
        credit_pack_id=row.credit_pack_id,
        credits=row.credits,
        amount=pb.Money(amount=row.amount_total, currency=row.currency),
        amount_refunded=row.amount_refunded,
        credits_refunded=row.credits_refunded,
        status=payment_status(row),
        disputed=row.disputed,
        dispute_status=row.dispute_status or "",
        checkout_session_id=row.checkout_session_id,
        payment_intent_id=row.payment_intent_id or "",
        charge_id=row.charge_id or "",
        customer_id=row.customer_id or "",
        purchase_transaction_id=row.purchase_transaction_id or "",
        paid_at=to_timestamp(row.paid_at),
        updated_at=to_timestamp(row.updated_at),
    )


def event_pb(row: Any, *, with_payload: bool = False) -> pb.WebhookEvent:
    return pb.WebhookEvent(
        id=row.id,
        type=row.type,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error or "",
        object_id=row.object_id or "",
        payment_id=row.payment_id or "",
        livemode=row.livemode,
        created=to_timestamp(row.created),
        received_at=to_timestamp(row.received_at),
        processed_at=to_timestamp(row.processed_at),
        next_attempt_at=to_timestamp(row.next_attempt_at) if row.status == "failed" else None,
        payload_json=json.dumps(row.payload, sort_keys=True) if with_payload else "",
        deliveries=row.deliveries,
        outcome=row.outcome or "",
    )


def pack_pb(row: Any) -> pb.CreditPack:
    return pb.CreditPack(
        id=row.id,
        name=row.name,
        credits=row.credits,
        price=pb.Money(amount=row.price_amount, currency=row.currency),
        stripe_price_id=row.stripe_price_id or "",
        active=row.active,
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
    )


def report_pb(row: Any) -> pb.ReconciliationReport:
    return pb.ReconciliationReport(
        id=row.id,
        started_at=to_timestamp(row.started_at),
        finished_at=to_timestamp(row.finished_at),
        days=row.days,
        sessions_checked=row.sessions_checked,
        refunds_checked=row.refunds_checked,
        drift=[pb.Drift(**d) for d in row.drift],
        healed=row.healed,
        status=row.status,
        error=row.error or "",
    )


class PaymentsServicer(pb_grpc.PaymentsServiceServicer):
    """Translates protobuf to calls and domain errors to status codes; no logic of its own."""

    def __init__(self, container: Container) -> None:
        self._views = container.views
        self._admin = container.admin

    def _run(self, ctx: grpc.ServicerContext, fn: Callable[[], R]) -> R:
        with abort_on(ctx, ERRORS):
            return fn()

    def _detail(self, payment_id: str) -> pb.PaymentDetail:
        row, refunds, events, levels = self._views.payment(payment_id)
        return pb.PaymentDetail(
            payment=payment_pb(row),
            refunds=[
                pb.RefundRecord(
                    stripe_refund_id=r.stripe_refund_id or "",
                    amount=r.amount,
                    status=r.status,
                    requested_by=r.requested_by,
                    reason=r.reason or "",
                    created_at=to_timestamp(r.created_at),
                    error=r.error or "",
                )
                for r in refunds
            ],
            events=[event_pb(e) for e in events],
            credit_refunds=[
                pb.CreditRefund(
                    credits_level=c.credits_level,
                    credits=c.credits,
                    credit_transaction_id=c.credit_transaction_id or "",
                    created_at=to_timestamp(c.created_at),
                )
                for c in levels
            ],
        )

    def GetOverview(self, request: pb.GetOverviewRequest, ctx: grpc.ServicerContext) -> pb.Overview:
        def run() -> pb.Overview:
            o = self._views.overview()
            return pb.Overview(
                revenue_today=money(o["revenue_today"]),
                revenue_7d=money(o["revenue_7d"]),
                revenue_30d=money(o["revenue_30d"]),
                refunds_30d=money(o["refunds_30d"]),
                payments_30d=o["payments_30d"],
                failed_webhooks=o["failed_webhooks"],
                disputed_payments=o["disputed_payments"],
                last_event_at=to_timestamp(o["last_event_at"]),
                last_reconciled_at=to_timestamp(o["last_reconciled_at"]),
                open_drift=o["open_drift"],
            )

        return self._run(ctx, run)

    def ListPayments(self, request: pb.ListPaymentsRequest, ctx: grpc.ServicerContext) -> pb.ListPaymentsResponse:
        def run() -> pb.ListPaymentsResponse:
            page = self._views.payments(
                client_id=request.client_id,
                status=request.status,
                paid_from=from_timestamp(request.paid_from, "paid_from"),
                paid_to=from_timestamp(request.paid_to, "paid_to"),
                limit=request.limit,
                cursor=request.cursor,
                include_total=request.include_total,
            )
            return pb.ListPaymentsResponse(
                items=[payment_pb(p) for p in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=page.total is not None,
            )

        return self._run(ctx, run)

    def GetPayment(self, request: pb.GetPaymentRequest, ctx: grpc.ServicerContext) -> pb.PaymentDetail:
        return self._run(ctx, lambda: self._detail(request.payment_id))

    def RefundPayment(self, request: pb.RefundPaymentRequest, ctx: grpc.ServicerContext) -> pb.PaymentDetail:
        def run() -> pb.PaymentDetail:
            actor = context.current_actor()
            payment_id = self._admin.refund(
                request.payment_id, request.amount, request.reason, request.idempotency_key, actor
            )
            return self._detail(payment_id)

        return self._run(ctx, run)

    def ListWebhookEvents(
        self, request: pb.ListWebhookEventsRequest, ctx: grpc.ServicerContext
    ) -> pb.ListWebhookEventsResponse:
        def run() -> pb.ListWebhookEventsResponse:
            page = self._views.events(
                type_=request.type,
                status=request.status,
                limit=request.limit,
                cursor=request.cursor,
                include_total=request.include_total,
            )
            return pb.ListWebhookEventsResponse(
                items=[event_pb(e) for e in page.items],
                next_cursor=page.next_cursor,
                total=page.total or 0,
                has_total=page.total is not None,
            )

        return self._run(ctx, run)

    def GetWebhookEvent(self, request: pb.GetWebhookEventRequest, ctx: grpc.ServicerContext) -> pb.WebhookEvent:
        return self._run(ctx, lambda: event_pb(self._views.event(request.event_id), with_payload=True))

    def RetryWebhookEvent(self, request: pb.RetryWebhookEventRequest, ctx: grpc.ServicerContext) -> pb.WebhookEvent:
        def run() -> pb.WebhookEvent:
            self._admin.retry_event(request.event_id, request.reason, context.current_actor())
            return event_pb(self._views.event(request.event_id), with_payload=True)

        return self._run(ctx, run)

    def ListCreditPacks(
        self, request: pb.ListCreditPacksRequest, ctx: grpc.ServicerContext
    ) -> pb.ListCreditPacksResponse:
        return self._run(
            ctx,
            lambda: pb.ListCreditPacksResponse(items=[pack_pb(p) for p in self._views.packs(request.include_inactive)]),
        )

    def CreateCreditPack(self, request: pb.CreateCreditPackRequest, ctx: grpc.ServicerContext) -> pb.CreditPack:
        def run() -> pb.CreditPack:
            pack_id = self._admin.create_pack(
                request.id,
                request.name,
                request.credits,
                request.price.amount,
                request.price.currency,
                request.stripe_price_id,
                request.active,
                context.current_actor(),
            )
            return pack_pb(self._views.pack(pack_id))

        return self._run(ctx, run)

    def UpdateCreditPack(self, request: pb.UpdateCreditPackRequest, ctx: grpc.ServicerContext) -> pb.CreditPack:
        def run() -> pb.CreditPack:
            change = PackChange(
                name=request.name if request.HasField("name") else None,
                active=request.active if request.HasField("active") else None,
                stripe_price_id=request.stripe_price_id if request.HasField("stripe_price_id") else None,
            )
            return pack_pb(self._views.pack(self._admin.update_pack(request.id, change, context.current_actor())))

        return self._run(ctx, run)

    def ListCustomers(self, request: pb.ListCustomersRequest, ctx: grpc.ServicerContext) -> pb.ListCustomersResponse:
        def run() -> pb.ListCustomersResponse:
            items, cursor = self._views.customers(request.search, limit=request.limit, cursor=request.cursor)
            return pb.ListCustomersResponse(
                items=[
                    pb.Customer(
                        stripe_customer_id=row.stripe_customer_id,
                        client_id=row.client_id,
                        email=row.email or "",
                        payments=row.payments,
                        total_paid=money(totals),
                        created_at=to_timestamp(row.created_at),
                    )
                    for row, totals in items
                ],
                next_cursor=cursor,
            )

        return self._run(ctx, run)

    def RunReconciliation(
        self, request: pb.RunReconciliationRequest, ctx: grpc.ServicerContext
    ) -> pb.ReconciliationReport:
        def run() -> pb.ReconciliationReport:
            run_id = self._admin.reconcile(request.days, request.heal, context.current_actor())
            return report_pb(self._views.reconciliation(run_id))

        return self._run(ctx, run)

    def GetReconciliationReport(
        self, request: pb.GetReconciliationReportRequest, ctx: grpc.ServicerContext
    ) -> pb.ReconciliationReport:
        return self._run(ctx, lambda: report_pb(self._views.last_reconciliation()))


def build_server(container: Container, *, host: str | None = None, port: int | None = None) -> GrpcServer:
    settings = container.settings
    return GrpcServer.for_service(
        PaymentsServicer(container),
        pb_grpc.add_PaymentsServiceServicer_to_server,
        pb.DESCRIPTOR,
        "PaymentsService",
        credential=container.credential,
        host=host or settings.bind_host,
        port=settings.grpc_port if port is None else port,
        max_workers=settings.grpc_max_workers,
    )


def create_ops_app(container: Container) -> Flask:
    app = Flask("payments-grpc")
    return init_app(app, service=SERVICE_NAME, readiness={"database": lambda: ping(container.engine)})


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    container = bootstrap(settings, process="grpc")
    server, ops_app = build_server(container), create_ops_app(container)
    serve_grpc(server, ops_app, name=SERVICE_NAME, host=settings.bind_host, http_port=settings.grpc_ops_port)
    container.close()


if __name__ == "__main__":
    main()
