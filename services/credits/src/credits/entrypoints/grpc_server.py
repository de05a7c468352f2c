"""The credits gRPC server (and its /healthz, /readyz, /metrics on HTTP_PORT): `credits-grpc`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from flask import Flask
from prometheus_client import Gauge

from credits.bootstrap import SERVICE_NAME, Container, bootstrap
from credits.config import Settings
from credits.domain import commands, errors
from credits.domain.model import Balance, Hold, Mutation, Transaction
from credits.service_layer.ledger_check import check_ledger
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.common.grpc_server import GrpcServer, abort_on
from scenergy.common.http import init_app
from scenergy.common.logging import configure_logging
from scenergy.common.ops_server import serve_grpc
from scenergy.common.protobuf import InvalidTimestamp, from_timestamp, to_timestamp
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

ERRORS: dict[type[Exception], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    InvalidTimestamp: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.AccountNotFound: grpc.StatusCode.NOT_FOUND,
    errors.TransactionNotFound: grpc.StatusCode.NOT_FOUND,
    errors.HoldNotFound: grpc.StatusCode.NOT_FOUND,
    errors.InsufficientCredits: grpc.StatusCode.FAILED_PRECONDITION,
    errors.HoldNotActive: grpc.StatusCode.FAILED_PRECONDITION,
    errors.RefundExceedsOriginal: grpc.StatusCode.FAILED_PRECONDITION,
    errors.AmountOutOfRange: grpc.StatusCode.FAILED_PRECONDITION,
    errors.VersionConflict: grpc.StatusCode.ABORTED,
    errors.IdempotencyConflict: grpc.StatusCode.ALREADY_EXISTS,
    errors.LedgerBusy: grpc.StatusCode.UNAVAILABLE,
    errors.LedgerUnavailable: grpc.StatusCode.UNAVAILABLE,
}

R = TypeVar("R")


def balance_pb(b: Balance) -> pb.Balance:
    return pb.Balance(
        client_id=b.client_id,
        balance=b.balance,
        held=b.held,
        available=b.available,
        credit_limit=b.credit_limit,
        version=b.version,
        last_activity_at=to_timestamp(b.last_activity_at),
        created_at=to_timestamp(b.created_at),
        updated_at=to_timestamp(b.updated_at),
    )


def transaction_pb(t: Transaction) -> pb.Transaction:
    return pb.Transaction(
        id=t.id,
        client_id=t.client_id,
        amount=t.amount,
        balance_after=t.balance_after,
        version=t.version,
        type=t.type.value,
        description=t.description or "",
        generated_asset_id=t.generated_asset_id or "",
        payment_transaction_id=t.payment_transaction_id or "",
        admin_user_id=t.admin_user_id or "",
        refund_of_id=t.refund_of_id or "",
        hold_id=t.hold_id or "",
        idempotency_key=t.idempotency_key or "",
        metadata_json=json.dumps(t.metadata, sort_keys=True),
        created_at=to_timestamp(t.created_at),
    )


def hold_pb(h: Hold) -> pb.Hold:
    return pb.Hold(
        id=h.id,
        client_id=h.client_id,
        amount=h.amount,
        status=h.status.value,
        captured_amount=h.captured_amount or 0,
        transaction_id=h.transaction_id or "",
        job_id=h.job_id or "",
        expires_at=to_timestamp(h.expires_at),
        created_at=to_timestamp(h.created_at),
        settled_at=to_timestamp(h.settled_at),
    )


def mutation_pb(m: Mutation) -> pb.MutationResponse:
    return pb.MutationResponse(
        transaction=transaction_pb(m.transaction) if m.transaction else None,
        balance=balance_pb(m.balance),
        replayed=m.replayed,
    )


def hold_response_pb(m: Mutation) -> pb.HoldResponse:
    assert m.hold is not None
    return pb.HoldResponse(hold=hold_pb(m.hold), balance=balance_pb(m.balance), replayed=m.replayed)


def parse_metadata(raw: str) -> tuple[tuple[str, Any], ...]:
    if not raw:
        return ()
    if len(raw) > 4096:
        raise errors.InvalidArgument("metadata_json must be at most 4096 characters")
    try:
        # As PostgreSQL's jsonb will store it: no NaN or Infinity (1e400 parses as one), no NUL.
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
        has_nul = _has_nul(value)
    except (ValueError, RecursionError):
        raise errors.InvalidArgument("metadata_json is not valid JSON") from None
    if not isinstance(value, dict):
        raise errors.InvalidArgument("metadata_json must be a JSON object")
    if has_nul:
        raise errors.InvalidArgument("metadata_json must not contain NUL characters")
    return tuple(sorted(value.items()))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is out of range")
    return number


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class CreditsServicer(pb_grpc.CreditsServiceServicer):
    """Translates protobuf to commands and domain errors to status codes; no logic of its own."""

    def __init__(self, container: Container) -> None:
        self._service = container.service
        self._views = container.views
        self._engine = container.engine

    def _run(self, ctx: grpc.ServicerContext, fn: Callable[[], R]) -> R:
        with abort_on(ctx, ERRORS):
            return fn()

    @staticmethod
    def _actor() -> Any:
        return context.current_actor()

    def OpenAccount(self, request: pb.OpenAccountRequest, ctx: grpc.ServicerContext) -> pb.Balance:
        def run() -> pb.Balance:
            balance, _created = self._service.open_account(
                commands.OpenAccount(request.client_id, request.credit_limit), self._actor()
            )
            return balance_pb(balance)

        return self._run(ctx, run)

    def GetBalance(self, request: pb.GetBalanceRequest, ctx: grpc.ServicerContext) -> pb.Balance:
        def run() -> pb.Balance:
            commands.check_id(request.client_id, "client_id")
            return balance_pb(self._service.ledger.get_balance(request.client_id))

        return self._run(ctx, run)

    def ListBalances(self, request: pb.ListBalancesRequest, ctx: grpc.ServicerContext) -> pb.ListBalancesResponse:
        def run() -> pb.ListBalancesResponse:
            page = self._views.list_balances(
                client_id_prefix=request.client_id_prefix,
                sort=request.sort,
                limit=request.limit,
                cursor=request.cursor,
                with_total=request.include_total,
            )
            return pb.ListBalancesResponse(
                items=[balance_pb(b) for b in page.items], next_cursor=page.next_cursor, total=page.total or 0
            )

        return self._run(ctx, run)

    def GetBalances(self, request: pb.GetBalancesRequest, ctx: grpc.ServicerContext) -> pb.GetBalancesResponse:
        def run() -> pb.GetBalancesResponse:
            ids = list(dict.fromkeys(request.client_ids))
            for client_id in ids:
                commands.check_id(client_id, "client_ids")
            return pb.GetBalancesResponse(items=[balance_pb(b) for b in self._views.get_balances(ids)])

        return self._run(ctx, run)

    def GetSummary(self, request: pb.GetSummaryRequest, ctx: grpc.ServicerContext) -> pb.Summary:
        s = self._run(ctx, self._views.summary)
        return pb.Summary(
            in_circulation=s.in_circulation,
            used_today=s.used_today,
            granted_today=s.granted_today,
            purchased_today=s.purchased_today,
            active_holds=s.active_holds,
            held=s.held,
            accounts=s.accounts,
        )

    def ListTransactions(
        self, request: pb.ListTransactionsRequest, ctx: grpc.ServicerContext
    ) -> pb.ListTransactionsResponse:
        def run() -> pb.ListTransactionsResponse:
            if request.client_id:
                commands.check_id(request.client_id, "client_id")
            if request.admin_user_id:
                commands.check_id(request.admin_user_id, "admin_user_id")
            page = self._views.list_transactions(
                client_id=request.client_id,
                types=tuple(request.types),
                created_from=from_timestamp(request.created_from, "created_from"),
                created_to=from_timestamp(request.created_to, "created_to"),
                admin_user_id=request.admin_user_id,
                limit=request.limit,
                cursor=request.cursor,
            )
            return pb.ListTransactionsResponse(
                items=[transaction_pb(t) for t in page.items], next_cursor=page.next_cursor
            )

        return self._run(ctx, run)

    def GetBalanceAt(self, request: pb.GetBalanceAtRequest, ctx: grpc.ServicerContext) -> pb.BalanceAt:
        def run() -> pb.BalanceAt:
            commands.check_id(request.client_id, "client_id")
            at = from_timestamp(request.at, "at")
            if at is None:
                raise errors.InvalidArgument("at is required")
            balance, version = self._views.balance_at(request.client_id, at)
            return pb.BalanceAt(client_id=request.client_id, balance=balance, version=version, at=request.at)

        return self._run(ctx, run)

    def Grant(self, request: pb.GrantRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.grant(
                    commands.Grant(request.client_id, request.amount, request.reason, request.idempotency_key),
                    self._actor(),
                )
            ),
        )

    def Adjust(self, request: pb.AdjustRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.adjust(
                    commands.Adjust(
                        request.client_id,
                        request.amount,
                        request.reason,
                        request.idempotency_key,
                        expected_version=request.expected_version or None,
                        allow_negative=request.allow_negative,
                    ),
                    self._actor(),
                )
            ),
        )

    def Purchase(self, request: pb.PurchaseRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.purchase(
                    commands.Purchase(
                        request.client_id,
                        request.amount,
                        request.payment_reference,
                        request.idempotency_key,
                        description=request.description,
                        metadata=parse_metadata(request.metadata_json),
                    ),
                    self._actor(),
                )
            ),
        )

    def Refund(self, request: pb.RefundRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.refund(
                    commands.Refund(
                        request.transaction_id,
                        request.amount,
                        request.reason,
                        request.idempotency_key,
                        payment_reference=request.payment_reference,
                    ),
                    self._actor(),
                )
            ),
        )

    def Debit(self, request: pb.DebitRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.debit(
                    commands.Debit(
                        request.client_id,
                        request.amount,
                        request.idempotency_key,
                        description=request.description,
                        generated_asset_id=request.generated_asset_id,
                    ),
                    self._actor(),
                )
            ),
        )

    def ReserveHold(self, request: pb.ReserveHoldRequest, ctx: grpc.ServicerContext) -> pb.HoldResponse:
        return self._run(
            ctx,
            lambda: hold_response_pb(
                self._service.reserve_hold(
                    commands.ReserveHold(
                        request.client_id,
                        request.amount,
                        request.ttl_seconds,
                        request.idempotency_key,
                        job_id=request.job_id,
                    ),
                    self._actor(),
                )
            ),
        )

    def CaptureHold(self, request: pb.CaptureHoldRequest, ctx: grpc.ServicerContext) -> pb.MutationResponse:
        return self._run(
            ctx,
            lambda: mutation_pb(
                self._service.capture_hold(
                    commands.CaptureHold(
                        request.hold_id,
                        request.amount,
                        request.idempotency_key,
                        description=request.description,
                        generated_asset_id=request.generated_asset_id,
                    ),
                    self._actor(),
                )
            ),
        )

    def ReleaseHold(self, request: pb.ReleaseHoldRequest, ctx: grpc.ServicerContext) -> pb.HoldResponse:
        return self._run(
            ctx,
            lambda: hold_response_pb(
                self._service.release_hold(
                    commands.ReleaseHold(request.hold_id, request.idempotency_key), self._actor()
                )
            ),
        )

    def GetHold(self, request: pb.GetHoldRequest, ctx: grpc.ServicerContext) -> pb.Hold:
        def run() -> pb.Hold:
            commands.check_id(request.hold_id, "hold_id", "hld")
            return hold_pb(self._service.ledger.get_hold(request.hold_id))

        return self._run(ctx, run)

    def CheckLedger(self, request: pb.CheckLedgerRequest, ctx: grpc.ServicerContext) -> pb.CheckLedgerResponse:
        def run() -> pb.CheckLedgerResponse:
            if request.client_id:
                commands.check_id(request.client_id, "client_id")
            report = check_ledger(self._engine, request.client_id or None)
            return pb.CheckLedgerResponse(
                ok=report.ok,
                accounts_checked=report.accounts_checked,
                transactions_checked=report.transactions_checked,
                violations=[
                    pb.LedgerViolation(client_id=v.client_id, rule=v.rule, detail=v.detail) for v in report.violations
                ],
            )

        return self._run(ctx, run)


def build_server(container: Container, *, host: str | None = None, port: int | None = None) -> GrpcServer:
    settings = container.settings
    return GrpcServer.for_service(
        CreditsServicer(container),
        pb_grpc.add_CreditsServiceServicer_to_server,
        pb.DESCRIPTOR,
        "CreditsService",
        credential=container.credential,
        host=host or settings.bind_host,
        port=settings.grpc_port if port is None else port,
        max_workers=settings.grpc_max_workers,
    )


ACTIVE_HOLDS = Gauge("credits_active_holds", "Holds reserved and not yet settled (read at scrape time)")


def create_ops_app(container: Container) -> Flask:
    """The HTTP side: health, readiness (database) and metrics."""
    ACTIVE_HOLDS.set_function(container.views.active_holds)
    app = Flask("credits")
    return init_app(app, service=SERVICE_NAME, readiness={"database": lambda: ping(container.engine)})


def main() -> None:
    settings = Settings.from_env()
    configure_logging(SERVICE_NAME, settings.log_level)
    container = bootstrap(settings, process="grpc")
    server, ops_app = build_server(container), create_ops_app(container)
    serve_grpc(server, ops_app, name=SERVICE_NAME, host=settings.bind_host, http_port=settings.http_port)
    container.close()


if __name__ == "__main__":
    main()
