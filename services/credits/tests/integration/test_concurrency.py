"""Concurrency on one hot balance, through the gRPC API and the real PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from credits.bootstrap import Container
from credits.domain import commands
from credits.domain.errors import IdempotencyConflict, InsufficientCredits, LedgerBusy
from credits.service_layer.ledger_check import check_ledger
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN, GENERATION
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

WORKERS = 64
DEBITS = 20_000
FUNDS = 10_000

# Dozens of connections at once: beside the other test process they could exhaust the shared
# PostgreSQL's max_connections, so these run in the serial phase, alone.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module", autouse=True)
def release_connections(container: Container) -> Iterator[None]:
    """These tests open dozens of connections at once; give them back afterwards, since the test
    PostgreSQL is shared with the other test processes."""
    yield
    container.autocommit_engine.dispose()
    container.engine.dispose()


@pytest.mark.slow
def test_64_workers_overdrawing_one_balance_get_exactly_the_funds(service, container, open_client):
    """The database serialises the debits on the balance row; none is lost, none overdraws."""
    client_id = open_client(funds=FUNDS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(index: int) -> None:
        local: Counter[str] = Counter()
        for n in range(index, DEBITS, WORKERS):
            command = commands.Debit(client_id, 1, f"debit-{client_id}-{n}")
            while True:
                try:
                    service.debit(command, GENERATION)
                    local["ok"] += 1
                except InsufficientCredits:
                    local["insufficient"] += 1
                except LedgerBusy:
                    local["busy_retries"] += 1  # a timed-out wait changed nothing; retry the same key
                    continue
                break
        with lock:
            outcomes.update(local)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(worker, range(WORKERS)))

    assert (outcomes["ok"], outcomes["insufficient"]) == (FUNDS, DEBITS - FUNDS), outcomes
    balance = service.ledger.get_balance(client_id)
    assert (balance.balance, balance.version) == (0, FUNDS + 1)
    report = check_ledger(container.engine, client_id)
    assert report.ok, report.violations
    assert report.transactions_checked == FUNDS + 1


def test_16_concurrent_replays_of_one_key_make_one_transaction(service, container, open_client):
    client_id = open_client(funds=100)
    key = new_id("key")
    barrier = threading.Barrier(16)

    def replay(_: int):
        barrier.wait()
        return service.debit(commands.Debit(client_id, 7, key, description="same request"), GENERATION)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(replay, range(16)))

    assert len({r.transaction.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert {(r.transaction.amount, r.transaction.balance_after, r.transaction.version) for r in results} == {
        (-7, 93, 2)
    }
    assert service.ledger.get_balance(client_id).balance == 93

    with pytest.raises(IdempotencyConflict):
        service.debit(commands.Debit(client_id, 8, key, description="same request"), GENERATION)
    assert service.ledger.get_balance(client_id).version == 2
    assert check_ledger(container.engine, client_id).ok


def test_concurrent_replays_of_a_grant_through_grpc_answer_identically(
    grpc_target, call_metadata, open_client, container
):
    client_id = open_client()
    key = new_id("key")
    metadata = call_metadata(ADMIN)
    barrier = threading.Barrier(16)
    with grpc.insecure_channel(grpc_target) as channel:
        stub = pb_grpc.CreditsServiceStub(channel)

        def replay(_: int) -> pb.MutationResponse:
            barrier.wait()
            return stub.Grant(
                pb.GrantRequest(client_id=client_id, amount=50, reason="r", idempotency_key=key),
                metadata=metadata,
                timeout=10,
            )

        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(replay, range(16)))
    assert len({r.transaction.SerializeToString() for r in replies}) == 1
    assert sum(not r.replayed for r in replies) == 1
    assert container.service.ledger.get_balance(client_id).balance == 50


def test_concurrent_captures_and_releases_settle_each_hold_once(service, container, open_client):
    client_id = open_client(funds=1_000)
    holds = [
        service.reserve_hold(commands.ReserveHold(client_id, 10, 600, new_id("key")), GENERATION).hold
        for _ in range(40)
    ]

    def race(hold_id: str) -> list[str]:
        results = []

        def capture() -> None:
            try:
                service.capture_hold(commands.CaptureHold(hold_id, 10, new_id("key")), GENERATION)
                results.append("captured")
            except Exception as exc:
                results.append(type(exc).__name__)

        def release() -> None:
            try:
                service.release_hold(commands.ReleaseHold(hold_id, new_id("key")), GENERATION)
                results.append("released")
            except Exception as exc:
                results.append(type(exc).__name__)

        threads = [threading.Thread(target=capture), threading.Thread(target=release)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sorted(results)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(race, [h.id for h in holds]))
    for outcome in outcomes:
        assert outcome in (["HoldNotActive", "captured"], ["HoldNotActive", "released"])
    captured = sum("captured" in o for o in outcomes)
    balance = service.ledger.get_balance(client_id)
    assert balance.held == 0
    assert balance.balance == 1_000 - 10 * captured
    assert check_ledger(container.engine, client_id).ok
