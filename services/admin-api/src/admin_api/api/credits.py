"""Credits through the gateway: balances and summary, transactions, grants and adjustments.

The ledger lives in the credits service; the gateway checks the client exists in the directory,
passes the admin's identity and an idempotency key, and maps the service's answers to HTTP.
The credits service writes the audit event of every grant and adjustment itself.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from flask import Blueprint, request
from pydantic import AwareDatetime, Field
from spectree import Response as Responses

from admin_api.adapters.tables import client
from admin_api.api.convert import idempotency_key_for, iso, loads, stamp
from admin_api.api.spec import ErrorEnvelope, Model, Out, spec
from admin_api.web import container, current_actor
from scenergy.common.http import ApiError
from scenergy.common.ids import is_id
from scenergy.credits.v1 import credits_pb2 as pb

bp = Blueprint("credits", __name__, url_prefix="/api/admin")

TransactionType = Literal["purchase", "grant", "usage", "refund", "adjustment"]
READ_ERRORS = {
    "HTTP_400": ErrorEnvelope,
    "HTTP_401": ErrorEnvelope,
    "HTTP_404": ErrorEnvelope,
    "HTTP_503": ErrorEnvelope,
}
WRITE_ERRORS = {**READ_ERRORS, "HTTP_403": ErrorEnvelope, "HTTP_409": ErrorEnvelope}


class BalanceOut(Out):
    client_id: str
    client_name: str | None = None
    balance: int
    held: int
    available: int
    credit_limit: int
    version: int
    last_activity_at: str | None
    created_at: str | None
    updated_at: str | None


class TransactionOut(Out):
    id: str
    client_id: str
    amount: int
    balance_after: int
    version: int
    type: str
    description: str | None
    generated_asset_id: str | None
    payment_transaction_id: str | None
    admin_user_id: str | None
    refund_of_id: str | None
    metadata: dict[str, object] | None
    created_at: str | None


class SummaryOut(Out):
    in_circulation: int
    used_today: int
    granted_today: int
    purchased_today: int
    active_holds: int
    held: int
    accounts: int


class BalancesOut(Out):
    items: list[BalanceOut]
    next_cursor: str | None
    summary: SummaryOut


class TransactionsOut(Out):
    items: list[TransactionOut]
    next_cursor: str | None


class MutationOut(Out):
    transaction: TransactionOut
    balance: BalanceOut
    replayed: bool


class BalancesQuery(Model):
    sort: Literal["balance", "-balance", "last_activity", "-last_activity"] = "-last_activity"
    limit: int = Field(50, ge=1, le=100)
    cursor: str = Field("", max_length=500)


class TransactionsQuery(Model):
    client_id: str = Field("", max_length=100)
    type: list[TransactionType] = Field(default_factory=list)
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    admin_user_id: str = Field("", max_length=100)
    limit: int = Field(50, ge=1, le=100)
    cursor: str = Field("", max_length=500)


class ClientTransactionsQuery(Model):
    type: list[TransactionType] = Field(default_factory=list)
    created_from: AwareDatetime | None = None
    created_to: AwareDatetime | None = None
    limit: int = Field(50, ge=1, le=100)
    cursor: str = Field("", max_length=500)


class GrantIn(Model):
    amount: int = Field(gt=0, le=10_000_000)
    reason: str = Field(min_length=3, max_length=500)


class AdjustIn(Model):
    amount: int = Field(ge=-10_000_000, le=10_000_000)
    reason: str = Field(min_length=3, max_length=500)
    expected_version: int | None = Field(None, ge=1)


def balance_out(b: pb.Balance, name: str | None = None) -> BalanceOut:
    return BalanceOut(
        client_id=b.client_id,
        client_name=name,
        balance=b.balance,
        held=b.held,
        available=b.available,
        credit_limit=b.credit_limit,
        version=b.version,
        last_activity_at=iso(b.last_activity_at),
        created_at=iso(b.created_at),
        updated_at=iso(b.updated_at),
    )


def transaction_out(t: pb.Transaction) -> TransactionOut:
    return TransactionOut(
        id=t.id,
        client_id=t.client_id,
        amount=t.amount,
        balance_after=t.balance_after,
        version=t.version,
        type=t.type,
        description=t.description or None,
        generated_asset_id=t.generated_asset_id or None,
        payment_transaction_id=t.payment_transaction_id or None,
        admin_user_id=t.admin_user_id or None,
        refund_of_id=t.refund_of_id or None,
        metadata=loads(t.metadata_json),
        created_at=iso(t.created_at),
    )


# One array parameter: an IN list of bound values is compiled anew for every length it comes in.
_NAMES_BY_ID = sa.select(client.c.id, client.c.name).where(
    client.c.id == sa.func.any(sa.bindparam("ids", type_=sa.ARRAY(sa.Text)))
)


def client_names(ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    with container().engine.connect() as conn:
        rows = conn.execute(_NAMES_BY_ID, {"ids": ids}).all()
    return {row.id: row.name for row in rows}


def require_client(client_id: str) -> str:
    """The client must be in the directory, and not deleted: no credits move for a deleted client."""
    if is_id(client_id, "cli"):
        with container().engine.connect() as conn:
            name = conn.execute(
                sa.select(client.c.name).where(client.c.id == client_id, client.c.deleted_at.is_(None))
            ).scalar()
        if name is not None:
            return str(name)
    raise ApiError(404, "client_not_found", f"No client {client_id}.")


def _transactions(query: TransactionsQuery | ClientTransactionsQuery, client_id: str) -> TransactionsOut:
    if query.created_from and query.created_to and query.created_from >= query.created_to:
        raise ApiError(400, "invalid_request", "created_from must be before created_to.")
    p = container().platform
    response = p.call(
        "credits",
        p.credits.ListTransactions,
        pb.ListTransactionsRequest(
            client_id=client_id,
            types=list(query.type),
            created_from=stamp(query.created_from),
            created_to=stamp(query.created_to),
            admin_user_id=getattr(query, "admin_user_id", ""),
            limit=query.limit,
            cursor=query.cursor,
        ),
    )
    return TransactionsOut(items=[transaction_out(t) for t in response.items], next_cursor=response.next_cursor or None)


def _query(model: type[Model]) -> Model:
    args: dict[str, object] = {k: v for k, v in request.args.items() if k != "type"}
    if "type" in request.args:
        args["type"] = request.args.getlist("type")
    return model.model_validate(args)


@bp.get("/credits")
@spec.validate(query=BalancesQuery, resp=Responses(HTTP_200=BalancesOut, **READ_ERRORS))
def list_balances() -> BalancesOut:
    """Every client's balance (sorted, paged) and the platform's credit summary."""
    query = BalancesQuery.model_validate(request.args.to_dict())
    p = container().platform
    page = p.call(
        "credits",
        p.credits.ListBalances,
        pb.ListBalancesRequest(sort=query.sort, limit=query.limit, cursor=query.cursor),
    )
    summary = p.call("credits", p.credits.GetSummary, pb.GetSummaryRequest())
    names = client_names([b.client_id for b in page.items])
    return BalancesOut(
        items=[balance_out(b, names.get(b.client_id)) for b in page.items],
        next_cursor=page.next_cursor or None,
        summary=SummaryOut(
            in_circulation=summary.in_circulation,
            used_today=summary.used_today,
            granted_today=summary.granted_today,
            purchased_today=summary.purchased_today,
            active_holds=summary.active_holds,
            held=summary.held,
            accounts=summary.accounts,
        ),
    )


@bp.get("/credits/transactions")
@spec.validate(query=TransactionsQuery, resp=Responses(HTTP_200=TransactionsOut, **READ_ERRORS))
def list_transactions() -> TransactionsOut:
    """All credit transactions, newest first; filters: client, type (repeatable), dates, admin."""
    query = _query(TransactionsQuery)
    assert isinstance(query, TransactionsQuery)
    return _transactions(query, query.client_id)


@bp.get("/clients/<client_id>/credits")
@spec.validate(resp=Responses(HTTP_200=BalanceOut, **READ_ERRORS))
def client_balance(client_id: str) -> BalanceOut:
    name = require_client(client_id)
    p = container().platform
    return balance_out(p.call("credits", p.credits.GetBalance, pb.GetBalanceRequest(client_id=client_id)), name)


@bp.get("/clients/<client_id>/credits/transactions")
@spec.validate(query=ClientTransactionsQuery, resp=Responses(HTTP_200=TransactionsOut, **READ_ERRORS))
def client_transactions(client_id: str) -> TransactionsOut:
    require_client(client_id)
    query = _query(ClientTransactionsQuery)
    assert isinstance(query, ClientTransactionsQuery)
    return _transactions(query, client_id)


def _mutation(response: pb.MutationResponse, name: str) -> MutationOut:
    return MutationOut(
        transaction=transaction_out(response.transaction),
        balance=balance_out(response.balance, name),
        replayed=response.replayed,
    )


@bp.post("/clients/<client_id>/credits/grant")
@spec.validate(json=GrantIn, resp=Responses(HTTP_200=MutationOut, **WRITE_ERRORS))
def grant(client_id: str) -> MutationOut:
    """Grant credits (a reward, a goodwill gesture), with a reason; audited by the ledger."""
    name = require_client(client_id)
    body = GrantIn.model_validate(request.get_json())
    p = container().platform
    key = idempotency_key_for(current_actor().id)
    request_ = pb.GrantRequest(client_id=client_id, amount=body.amount, reason=body.reason, idempotency_key=key)
    return _mutation(p.call("credits", p.credits.Grant, request_), name)


@bp.patch("/clients/<client_id>/credits")
@spec.validate(json=AdjustIn, resp=Responses(HTTP_200=MutationOut, **WRITE_ERRORS))
def adjust(client_id: str) -> MutationOut:
    """Correct the balance by a signed amount; `expected_version` guards against a concurrent change (409)."""
    name = require_client(client_id)
    body = AdjustIn.model_validate(request.get_json())
    if body.amount == 0:
        raise ApiError(
            400,
            "invalid_request",
            "amount must not be zero.",
            {"fields": [{"field": "amount", "message": "must not be zero"}]},
        )
    p = container().platform
    request_ = pb.AdjustRequest(
        client_id=client_id,
        amount=body.amount,
        reason=body.reason,
        idempotency_key=idempotency_key_for(current_actor().id),
        expected_version=body.expected_version or 0,
    )
    return _mutation(p.call("credits", p.credits.Adjust, request_), name)
