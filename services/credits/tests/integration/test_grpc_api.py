"""The credits gRPC API on the real PostgreSQL: credential, roles, validation, and what bad input leaves behind."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import text

from credits.domain import commands
from scenergy.common.grpc_server import CREDENTIAL_HEADER
from scenergy.common.identity import Actor, ActorType, ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.pagination import encode_cursor
from scenergy.common.testing.actors import ADMIN, GENERATION, PAYMENTS, SUPER_ADMIN, VIEWER
from scenergy.credits.v1 import credits_pb2 as pb

USER = Actor(ActorType.USER, "usr_01testuser00000000000000000")


def row_counts(engine):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM credit_transaction), (SELECT COUNT(*) FROM outbox),"
                " (SELECT COUNT(*) FROM idempotency_record), (SELECT COUNT(*) FROM credit_hold),"
                " (SELECT COALESCE(SUM(balance), 0) FROM credit_balance)"
            )
        ).one()


def code_of(call, *args, **kwargs):
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value.code(), caught.value.details()


def test_grant_through_grpc_returns_the_transaction_and_new_balance(stub, call_metadata, open_client):
    client_id = open_client(funds=10)
    response = stub.Grant(
        pb.GrantRequest(client_id=client_id, amount=100, reason="Beta tester reward", idempotency_key=new_id("key")),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    assert response.transaction.type == "grant"
    assert response.transaction.amount == 100
    assert response.transaction.admin_user_id == ADMIN.id
    assert response.balance.balance == 110
    assert response.balance.available == 110
    assert response.balance.version == 2
    assert not response.replayed


def test_a_call_without_the_service_credential_is_unauthenticated(stub, open_client):
    client_id = open_client()
    code, details = code_of(stub.GetBalance, pb.GetBalanceRequest(client_id=client_id), timeout=5)
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "missing" in details


def test_a_forged_or_foreign_credential_is_unauthenticated(stub, open_client):
    client_id = open_client()
    forged = ServiceCredential("another-key-that-is-long-enough").sign("admin-api", ADMIN)
    code, _ = code_of(
        stub.GetBalance, pb.GetBalanceRequest(client_id=client_id), metadata=[(CREDENTIAL_HEADER, forged)], timeout=5
    )
    assert code == grpc.StatusCode.UNAUTHENTICATED


def test_the_health_service_needs_no_credential(grpc_target):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(grpc_target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        ("Grant", pb.GrantRequest(amount=5, reason="r", idempotency_key="k")),
        ("Adjust", pb.AdjustRequest(amount=5, reason="r", idempotency_key="k")),
        ("Debit", pb.DebitRequest(amount=5, idempotency_key="k")),
        ("Purchase", pb.PurchaseRequest(amount=5, payment_reference="pi_1", idempotency_key="k")),
        ("ReserveHold", pb.ReserveHoldRequest(amount=5, ttl_seconds=60, idempotency_key="k")),
    ],
)
def test_a_viewer_is_denied_every_mutation_and_nothing_changes(
    stub, call_metadata, container, open_client, method, request_
):
    client_id = open_client(funds=50)
    request_.client_id = client_id
    before = row_counts(container.engine)
    code, _ = code_of(getattr(stub, method), request_, metadata=call_metadata(VIEWER), timeout=5)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert row_counts(container.engine) == before


def test_a_viewer_may_read(stub, call_metadata, open_client):
    client_id = open_client(funds=7)
    assert (
        stub.GetBalance(pb.GetBalanceRequest(client_id=client_id), metadata=call_metadata(VIEWER), timeout=5).balance
        == 7
    )


def test_grant_is_refused_to_a_platform_service(stub, call_metadata, open_client):
    client_id = open_client()
    code, details = code_of(
        stub.Grant,
        pb.GrantRequest(client_id=client_id, amount=5, reason="r", idempotency_key=new_id("key")),
        metadata=call_metadata(GENERATION),
        timeout=5,
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "admin" in details


BAD_GRANTS = [
    (pb.GrantRequest(amount=-5, reason="r", idempotency_key="k"), "amount must be positive"),
    (pb.GrantRequest(amount=0, reason="r", idempotency_key="k"), "amount must not be zero"),
    (pb.GrantRequest(amount=5, reason="", idempotency_key="k"), "reason is required"),
    (pb.GrantRequest(amount=5, reason="r", idempotency_key=""), "idempotency_key is required"),
    (pb.GrantRequest(amount=2**63 - 1, reason="r", idempotency_key="k"), "at most"),
    (pb.GrantRequest(amount=-(2**63), reason="r", idempotency_key="k"), "amount must be positive"),
    # `$` in a pattern also matches before a final newline: the same key with one was a new key.
    (pb.GrantRequest(amount=5, reason="r", idempotency_key="k-1\n"), "idempotency_key must be"),
    (pb.GrantRequest(amount=5, reason="a\x00b", idempotency_key="k"), "must not contain NUL"),
]


@pytest.mark.parametrize(("request_", "message"), BAD_GRANTS)
def test_bad_grants_are_invalid_argument_and_write_nothing(
    stub, call_metadata, container, open_client, request_, message
):
    request_.client_id = open_client(funds=5)
    before = row_counts(container.engine)
    code, details = code_of(stub.Grant, request_, metadata=call_metadata(ADMIN), timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in details
    assert row_counts(container.engine) == before


@pytest.mark.parametrize(
    "client_id",
    ["", "nope", "cli_", "cli_abc def", "x" * 300, "'; DROP TABLE credit_balance; --", "cli_abcdef12\n"],
)
def test_malformed_client_ids_are_invalid_argument(stub, call_metadata, container, client_id):
    before = row_counts(container.engine)
    code, details = code_of(
        stub.Grant,
        pb.GrantRequest(client_id=client_id, amount=5, reason="r", idempotency_key=new_id("key")),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "client_id" in details
    assert row_counts(container.engine) == before


def test_an_unknown_client_is_not_found_and_nothing_is_written(stub, call_metadata, container):
    before = row_counts(container.engine)
    for call, request_ in [
        (stub.Grant, pb.GrantRequest(client_id=new_id("cli"), amount=5, reason="r", idempotency_key=new_id("key"))),
        (stub.Debit, pb.DebitRequest(client_id=new_id("cli"), amount=5, idempotency_key=new_id("key"))),
        (stub.GetBalance, pb.GetBalanceRequest(client_id=new_id("cli"))),
    ]:
        code, details = code_of(call, request_, metadata=call_metadata(ADMIN), timeout=5)
        assert code == grpc.StatusCode.NOT_FOUND
        assert "no credit account" in details
    assert row_counts(container.engine) == before


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def test_an_amount_beyond_64_bits_on_the_wire_is_invalid_argument(grpc_target, call_metadata, container, open_client):
    """Protobuf clients can't even encode it, so hand-craft the bytes: field 2 (amount) as an 11-byte varint."""
    client_id = open_client()
    body = (
        b"\x0a"
        + _varint(len(client_id))
        + client_id.encode()
        + b"\x10"
        + b"\xff" * 10
        + b"\x01"  # a varint longer than 64 bits
        + b"\x1a\x01r"
        + b"\x22\x01k"
    )
    before = row_counts(container.engine)
    with grpc.insecure_channel(grpc_target) as channel:
        raw_grant = channel.unary_unary("/scenergy.credits.v1.CreditsService/Grant")
        with pytest.raises(grpc.RpcError) as caught:
            raw_grant(body, metadata=call_metadata(ADMIN), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "could not be decoded" in caught.value.details()
    assert row_counts(container.engine) == before


def test_insufficient_credits_is_failed_precondition_and_names_the_shortfall(stub, call_metadata, open_client):
    client_id = open_client(funds=3)
    code, details = code_of(
        stub.Debit,
        pb.DebitRequest(client_id=client_id, amount=5, idempotency_key=new_id("key")),
        metadata=call_metadata(GENERATION),
        timeout=5,
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "requested 5, available 3" in details


def test_adjust_with_a_stale_expected_version_is_aborted(stub, call_metadata, open_client):
    client_id = open_client(funds=10)
    code, details = code_of(
        stub.Adjust,
        pb.AdjustRequest(
            client_id=client_id, amount=-1, reason="fix", idempotency_key=new_id("key"), expected_version=7
        ),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    assert code == grpc.StatusCode.ABORTED
    assert "not the expected 7" in details


def test_reusing_a_key_with_other_content_is_already_exists(stub, call_metadata, open_client):
    client_id = open_client()
    key = new_id("key")
    stub.Grant(
        pb.GrantRequest(client_id=client_id, amount=5, reason="r", idempotency_key=key),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    code, _ = code_of(
        stub.Grant,
        pb.GrantRequest(client_id=client_id, amount=6, reason="r", idempotency_key=key),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert (
        stub.GetBalance(pb.GetBalanceRequest(client_id=client_id), metadata=call_metadata(ADMIN), timeout=5).balance
        == 5
    )


def test_hold_lifecycle_over_grpc(stub, call_metadata, open_client):
    client_id = open_client(funds=100)
    meta = call_metadata(GENERATION)
    held = stub.ReserveHold(
        pb.ReserveHoldRequest(
            client_id=client_id, amount=40, ttl_seconds=60, job_id=new_id("job"), idempotency_key=new_id("key")
        ),
        metadata=meta,
        timeout=5,
    )
    assert held.hold.status == "active"
    assert held.balance.available == 60
    captured = stub.CaptureHold(
        pb.CaptureHoldRequest(hold_id=held.hold.id, amount=25, idempotency_key=new_id("key")), metadata=meta, timeout=5
    )
    assert captured.transaction.type == "usage"
    assert captured.transaction.amount == -25
    assert captured.transaction.hold_id == held.hold.id
    assert captured.balance.balance == 75
    assert captured.balance.held == 0
    code, details = code_of(
        stub.ReleaseHold,
        pb.ReleaseHoldRequest(hold_id=held.hold.id, idempotency_key=new_id("key")),
        metadata=meta,
        timeout=5,
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "captured" in details


def test_refund_over_grpc_never_exceeds_the_original(stub, call_metadata, open_client):
    client_id = open_client()
    purchase = stub.Purchase(
        pb.PurchaseRequest(
            client_id=client_id, amount=100, payment_reference="cs_test_1", idempotency_key=new_id("key")
        ),
        metadata=call_metadata(ADMIN),
        timeout=5,
    )
    tx_id = purchase.transaction.id
    first = stub.Refund(
        pb.RefundRequest(transaction_id=tx_id, amount=60, reason="partial", idempotency_key=new_id("key")),
        metadata=call_metadata(SUPER_ADMIN),
        timeout=5,
    )
    assert first.transaction.refund_of_id == tx_id
    assert first.balance.balance == 40
    code, details = code_of(
        stub.Refund,
        pb.RefundRequest(transaction_id=tx_id, amount=41, reason="too much", idempotency_key=new_id("key")),
        metadata=call_metadata(SUPER_ADMIN),
        timeout=5,
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "(40)" in details


def test_transactions_list_filters_and_pages_without_gaps(stub, call_metadata, service, open_client):
    client_id = open_client()
    for i in range(7):
        service.grant(commands.Grant(client_id, i + 1, "r", new_id("key")), ADMIN)
    service.debit(commands.Debit(client_id, 2, new_id("key")), GENERATION)
    seen, cursor = [], ""
    while True:
        page = stub.ListTransactions(
            pb.ListTransactionsRequest(client_id=client_id, limit=3, cursor=cursor),
            metadata=call_metadata(VIEWER),
            timeout=5,
        )
        seen += [t.version for t in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == list(range(8, 0, -1))
    usage = stub.ListTransactions(
        pb.ListTransactionsRequest(client_id=client_id, types=["usage"]), metadata=call_metadata(VIEWER), timeout=5
    )
    assert [t.amount for t in usage.items] == [-2]
    code, _ = code_of(
        stub.ListTransactions, pb.ListTransactionsRequest(types=["bogus"]), metadata=call_metadata(VIEWER), timeout=5
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = code_of(
        stub.ListTransactions, pb.ListTransactionsRequest(limit=1000), metadata=call_metadata(VIEWER), timeout=5
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = code_of(
        stub.ListTransactions, pb.ListTransactionsRequest(cursor="garbage!"), metadata=call_metadata(VIEWER), timeout=5
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_balance_at_a_point_in_time(stub, call_metadata, service, open_client):
    client_id = open_client()
    first = service.grant(commands.Grant(client_id, 10, "r", new_id("key")), ADMIN)
    service.grant(commands.Grant(client_id, 5, "r", new_id("key")), ADMIN)
    at = Timestamp()
    at.FromDatetime(first.transaction.created_at)
    reply = stub.GetBalanceAt(
        pb.GetBalanceAtRequest(client_id=client_id, at=at), metadata=call_metadata(VIEWER), timeout=5
    )
    assert (reply.balance, reply.version) == (10, 1)
    before = Timestamp(seconds=at.seconds - 3600)
    reply = stub.GetBalanceAt(
        pb.GetBalanceAtRequest(client_id=client_id, at=before), metadata=call_metadata(VIEWER), timeout=5
    )
    assert (reply.balance, reply.version) == (0, 0)


def test_list_balances_sorts_searches_and_pages(stub, call_metadata, service, open_client):
    prefix = new_id("cli")[:20]
    ids = []
    for i, funds in enumerate([30, 10, 20]):
        client_id = f"{prefix}{i}"
        service.open_account(commands.OpenAccount(client_id), ADMIN)
        service.grant(commands.Grant(client_id, funds, "r", new_id("key")), ADMIN)
        ids.append(client_id)
    meta = call_metadata(VIEWER)
    page = stub.ListBalances(
        pb.ListBalancesRequest(client_id_prefix=prefix, sort="balance", limit=2, include_total=True),
        metadata=meta,
        timeout=5,
    )
    assert [b.balance for b in page.items] == [10, 20]
    assert page.total == 3
    rest = stub.ListBalances(
        pb.ListBalancesRequest(client_id_prefix=prefix, sort="balance", limit=2, cursor=page.next_cursor),
        metadata=meta,
        timeout=5,
    )
    assert [b.balance for b in rest.items] == [30]
    assert not rest.next_cursor
    recent = stub.ListBalances(pb.ListBalancesRequest(client_id_prefix=prefix), metadata=meta, timeout=5)
    assert [b.client_id for b in recent.items] == list(reversed(ids))
    code, _ = code_of(stub.ListBalances, pb.ListBalancesRequest(sort="name"), metadata=meta, timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_summary_counts_today(stub, call_metadata):
    summary = stub.GetSummary(pb.GetSummaryRequest(), metadata=call_metadata(VIEWER), timeout=5)
    assert summary.accounts > 0
    assert summary.granted_today > 0


def test_check_ledger_over_grpc_is_clean(stub, call_metadata):
    report = stub.CheckLedger(pb.CheckLedgerRequest(), metadata=call_metadata(VIEWER), timeout=30)
    assert report.ok, list(report.violations)
    assert report.accounts_checked > 0


def test_get_balances_returns_the_named_accounts_and_skips_unknown_ones(stub, call_metadata, open_client):
    a, b = open_client(funds=10), open_client(funds=20)
    response = stub.GetBalances(
        pb.GetBalancesRequest(client_ids=[a, b, a, "cli_unknown00000"]), metadata=call_metadata(VIEWER), timeout=10
    )
    assert sorted((x.client_id, x.balance) for x in response.items) == sorted([(a, 10), (b, 20)])
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetBalances(pb.GetBalancesRequest(client_ids=["x" * 300]), metadata=call_metadata(VIEWER), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_id_with_a_trailing_newline_opens_no_second_account(stub, call_metadata, container, open_client):
    client_id = open_client()
    before = row_counts(container.engine)
    code, details = code_of(
        stub.OpenAccount, pb.OpenAccountRequest(client_id=client_id + "\n"), metadata=call_metadata(ADMIN), timeout=5
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "client_id" in details
    assert row_counts(container.engine) == before


def test_only_admins_and_platform_services_open_accounts_and_only_admins_give_credit(stub, call_metadata, container):
    before = row_counts(container.engine)
    for actor, limit in ((USER, 0), (GENERATION, 1_000)):
        code, _ = code_of(
            stub.OpenAccount,
            pb.OpenAccountRequest(client_id=new_id("cli"), credit_limit=limit),
            metadata=call_metadata(actor),
            timeout=5,
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED
    assert row_counts(container.engine) == before
    opened = stub.OpenAccount(
        pb.OpenAccountRequest(client_id=new_id("cli")), metadata=call_metadata(GENERATION), timeout=5
    )
    assert opened.credit_limit == 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (pb.ListBalancesRequest(sort="balance", cursor=encode_cursor(["abc", "cli_abcdef12"])), "cursor"),
        (pb.ListBalancesRequest(sort="last_activity", cursor=encode_cursor([5, "cli_abcdef12"])), "cursor"),
        (pb.ListBalancesRequest(sort="last_activity", cursor=encode_cursor(["2026-01-01", "cli_abcdef12"])), "cursor"),
        (pb.ListBalancesRequest(sort="balance", cursor=encode_cursor([5, 7])), "cursor"),
        (pb.ListBalancesRequest(client_id_prefix="cli\x00"), "NUL"),
    ],
)
def test_list_balances_refuses_cursors_and_prefixes_it_cannot_use(stub, call_metadata, request_, message):
    code, details = code_of(stub.ListBalances, request_, metadata=call_metadata(VIEWER), timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in details


def test_list_transactions_refuses_a_malformed_admin_id(stub, call_metadata):
    code, details = code_of(
        stub.ListTransactions,
        pb.ListTransactionsRequest(admin_user_id="adm\x00"),
        metadata=call_metadata(VIEWER),
        timeout=5,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "admin_user_id" in details


@pytest.mark.parametrize(
    ("metadata_json", "message"),
    [
        ('{"a": NaN}', "not valid JSON"),
        ('{"a": 1e400}', "not valid JSON"),  # parses as Infinity, which jsonb refuses
        ('{"a": "x\\u0000"}', "NUL"),
        ("[" * 1500 + "]" * 1500, "not valid JSON"),  # too deep for the parser, within the size limit
    ],
)
def test_purchase_metadata_jsonb_cannot_store_is_invalid_argument(
    stub, call_metadata, container, open_client, metadata_json, message
):
    request_ = pb.PurchaseRequest(
        client_id=open_client(),
        amount=5,
        payment_reference="pay_abcdef12",
        idempotency_key=new_id("key"),
        metadata_json=metadata_json,
    )
    before = row_counts(container.engine)
    code, details = code_of(stub.Purchase, request_, metadata=call_metadata(PAYMENTS), timeout=5)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in details
    assert row_counts(container.engine) == before


def test_purchase_metadata_keeps_a_literal_backslash_u0000(stub, call_metadata, open_client):
    """Only a real NUL is refused: the six characters \\u0000 written out in a string are fine."""
    result = stub.Purchase(
        pb.PurchaseRequest(
            client_id=open_client(),
            amount=5,
            payment_reference="pay_abcdef12",
            idempotency_key=new_id("key"),
            metadata_json='{"note": "a \\\\u0000 b"}',
        ),
        metadata=call_metadata(PAYMENTS),
        timeout=5,
    )
    assert json.loads(result.transaction.metadata_json) == {"note": "a \\u0000 b"}
