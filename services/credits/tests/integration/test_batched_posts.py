"""Posts that share one statement (group commit), through the service and the real PostgreSQL.

Each test makes its posts queue behind a held first one, so that they form one batch in a known
order, and checks that the batch answers exactly as the same posts made one after another would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from credits.adapters.ledger import BATCH_FALLBACKS, PostgresLedger
from credits.domain import commands
from credits.domain.errors import AccountNotFound, IdempotencyConflict, InsufficientCredits, LedgerBusy
from credits.service_layer.ledger_check import check_ledger
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN, GENERATION


class Together:
    """Runs posts so that all but a first, held one share one batch, in the order given."""

    def __init__(self, ledger: PostgresLedger) -> None:
        assert ledger._combiner is not None, "the test settings must leave group commit on"
        self._combiner = ledger._combiner
        self._run_batch = self._combiner._run_batch
        self.sizes: list[int] = []
        self._gate = threading.Event()

    def _gated(self, items: Sequence[Any]) -> Any:
        if not self.sizes:
            self._gate.wait(10)
        self.sizes.append(len(items))
        return self._run_batch(items)

    def __call__(self, blocker: Callable[[], Any], posts: Sequence[Callable[[], Any]]) -> list[Future]:
        self._combiner._run_batch = self._gated
        try:
            with ThreadPoolExecutor(len(posts) + 1) as pool:
                first = pool.submit(blocker)
                _wait_for(lambda: self._combiner._busy)
                futures = []
                for n, post in enumerate(posts, start=1):
                    futures.append(pool.submit(post))
                    _wait_for(lambda n=n: len(self._combiner._waiting) == n)
                self._gate.set()
                first.result(10)
                for future in futures:
                    future.exception(10)
            return futures
        finally:
            self._combiner._run_batch = self._run_batch


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the posts did not queue up"
        time.sleep(0.001)


@pytest.fixture
def together(service) -> Iterator[Together]:
    # The gate holds the combiner of the whole test process: these tests must not run beside other
    # tests of the same process, which pytest-xdist never does (one test at a time per worker).
    yield Together(service.ledger)


def debit(service, client_id: str, amount: int, key: str | None = None) -> Callable[[], Any]:
    return lambda: service.debit(commands.Debit(client_id, amount, key or new_id("key")), GENERATION)


def grant(service, client_id: str, amount: int) -> Callable[[], Any]:
    return lambda: service.grant(commands.Grant(client_id, amount, "batch test", new_id("key")), ADMIN)


def outbox_events(container, transaction_ids: list[str]) -> dict[str, dict]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT payload FROM outbox WHERE payload->'data'->>'transaction_id' = ANY(:ids)"),
            {"ids": transaction_ids},
        ).all()
    return {row.payload["data"]["transaction_id"]: row.payload for row in rows}


def test_posts_sharing_a_statement_apply_in_order_as_if_one_after_another(service, container, open_client, together):
    a, b, other = open_client(funds=10), open_client(), open_client()
    fallbacks = BATCH_FALLBACKS._value.get()

    futures = together(
        grant(service, other, 1),
        [debit(service, a, 3), grant(service, b, 5), debit(service, a, 4), debit(service, b, 2)],
    )

    assert together.sizes == [1, 4]
    assert BATCH_FALLBACKS._value.get() == fallbacks
    results = [future.result() for future in futures]
    assert [(r.transaction.client_id, r.transaction.amount) for r in results] == [(a, -3), (b, 5), (a, -4), (b, -2)]
    assert [(r.transaction.balance_after, r.transaction.version) for r in results] == [(7, 2), (5, 1), (3, 3), (3, 2)]
    assert [(r.balance.balance, r.balance.version) for r in results] == [(7, 2), (5, 1), (3, 3), (3, 2)]
    assert not any(r.replayed for r in results)
    assert [r.transaction.type.value for r in results] == ["usage", "grant", "usage", "usage"]
    assert results[1].transaction.admin_user_id == ADMIN.id

    for client_id, (balance, version) in {a: (3, 3), b: (3, 2)}.items():
        stored = service.ledger.get_balance(client_id)
        assert (stored.balance, stored.version) == (balance, version)
        assert check_ledger(container.engine, client_id).ok
    # Each stored transaction is the one its caller got back.
    for result in results:
        assert service.ledger.get_transaction(result.transaction.id) == result.transaction

    events = outbox_events(container, [r.transaction.id for r in results])
    first_debit = events[results[0].transaction.id]
    assert first_debit["type"] == "credits.credit.usage"
    assert first_debit["data"]["previous"] == {"balance": 10, "held": 0, "version": 1}
    assert first_debit["data"]["new"]["balance"] == 7 and first_debit["data"]["new"]["version"] == 2
    second_debit = events[results[2].transaction.id]
    assert second_debit["data"]["previous"] == {"balance": 7, "held": 0, "version": 2}
    assert second_debit["data"]["new"]["balance_after"] == 3


def test_when_one_post_fails_each_runs_alone_and_gets_its_own_answer(service, container, open_client, together):
    a, b, other = open_client(funds=5), open_client(funds=1), open_client()
    unknown = new_id("cli")
    fallbacks = BATCH_FALLBACKS._value.get()

    futures = together(
        grant(service, other, 1),
        [debit(service, a, 3), debit(service, a, 3), debit(service, b, 1), debit(service, unknown, 1)],
    )

    assert together.sizes == [1, 4]
    assert BATCH_FALLBACKS._value.get() == fallbacks + 1
    first, second, on_b, on_unknown = futures
    assert first.result().transaction.balance_after == 2
    assert isinstance(second.exception(), InsufficientCredits)
    assert on_b.result().transaction.balance_after == 0
    assert isinstance(on_unknown.exception(), AccountNotFound)
    assert (service.ledger.get_balance(a).balance, service.ledger.get_balance(a).version) == (2, 2)
    assert service.ledger.get_balance(b).balance == 0
    assert check_ledger(container.engine, a).ok and check_ledger(container.engine, b).ok


def test_a_key_already_used_is_answered_as_a_replay_and_the_rest_still_applies(
    service, container, open_client, together
):
    a, other = open_client(funds=10), open_client()
    used = new_id("key")
    original = service.debit(commands.Debit(a, 2, used), GENERATION)
    repeated = new_id("key")

    futures = together(
        grant(service, other, 1),
        [
            debit(service, a, 2, key=used),  # a replay of the first debit
            debit(service, a, 1, key=repeated),  # the same new request twice in one batch
            debit(service, a, 1, key=repeated),
            debit(service, a, 5, key=used),  # the used key with other content
            debit(service, a, 1),
        ],
    )

    replay, once, twice, conflict, fresh = futures
    assert replay.result().replayed and replay.result().transaction == original.transaction
    # Alone, in arrival order: the first of the two applies, the second is its replay.
    assert not once.result().replayed and twice.result().replayed
    assert once.result().transaction == twice.result().transaction
    assert isinstance(conflict.exception(), IdempotencyConflict)
    assert not fresh.result().replayed
    stored = service.ledger.get_balance(a)
    assert (stored.balance, stored.version) == (10 - 2 - 1 - 1, 1 + 3)
    assert check_ledger(container.engine, a).ok


def test_a_balance_locked_too_long_fails_only_its_own_posts(service, container, open_client, together):
    a, b, other = open_client(funds=10), open_client(funds=10), open_client()
    fallbacks = BATCH_FALLBACKS._value.get()
    # Another transaction holds a's row past the lock timeout (3 s): the batch times out as a whole.
    with container.engine.connect() as holder, holder.begin():
        holder.execute(sa.text("SELECT 1 FROM credit_balance WHERE client_id = :c FOR UPDATE"), {"c": a})
        futures = together(grant(service, other, 1), [debit(service, b, 1), debit(service, a, 1)])

    on_b, on_a = futures
    assert BATCH_FALLBACKS._value.get() == fallbacks + 1
    assert on_b.result().transaction.balance_after == 9  # alone, b's debit went through
    assert isinstance(on_a.exception(), LedgerBusy)  # a's waited for the lock again, and gave up
    assert (service.ledger.get_balance(a).balance, service.ledger.get_balance(a).version) == (10, 1)
    assert check_ledger(container.engine, a).ok and check_ledger(container.engine, b).ok
