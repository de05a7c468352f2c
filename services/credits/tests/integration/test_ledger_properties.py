"""Stateful property test: the credits ledger on the real PostgreSQL against an in-memory model.

A Hypothesis state machine drives grants, purchases, debits, adjustments (with and without an
expected version or allow_negative), refunds, holds (reserve, capture, release, expiry) and
duplicate requests (the same key with the same or with other content) on three accounts, some
with a credit limit. Before every call the model predicts the outcome — the new balance, held and
version, or the exact domain error — and the service must agree. After every step the stored
balances must equal the model's; at the end of every example the ledger check runs on each account,
and the stored transactions, holds, idempotency records and outbox events must be exactly those
the model expects, so failed and replayed requests provably left no trace.

`CREDITS_PROPERTY_EXAMPLES` raises the example count for a soak run.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from credits.domain import commands, errors
from credits.domain.model import HoldStatus, Mutation, TransactionType
from credits.service_layer.ledger_check import check_ledger
from scenergy.common.identity import Actor
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN, GENERATION, PAYMENTS

MAX_EXAMPLES = int(os.environ.get("CREDITS_PROPERTY_EXAMPLES", "60"))
STEPS_PER_EXAMPLE = 50

# Which service method, called by whom, each command goes to.
CALLS: dict[type[commands.Command], tuple[str, Actor]] = {
    commands.Grant: ("grant", ADMIN),
    commands.Adjust: ("adjust", ADMIN),
    commands.Refund: ("refund", ADMIN),
    commands.Purchase: ("purchase", PAYMENTS),
    commands.Debit: ("debit", GENERATION),
    commands.ReserveHold: ("reserve_hold", GENERATION),
    commands.CaptureHold: ("capture_hold", GENERATION),
    commands.ReleaseHold: ("release_hold", GENERATION),
}
HOLD_COMMANDS = (commands.ReserveHold, commands.CaptureHold, commands.ReleaseHold)
POSTED_TYPES = {
    commands.Grant: TransactionType.GRANT,
    commands.Purchase: TransactionType.PURCHASE,
    commands.Debit: TransactionType.USAGE,
    commands.Adjust: TransactionType.ADJUSTMENT,
    commands.Refund: TransactionType.REFUND,
}

# Amounts stay small so that balances hover around zero and the floor is hit often.
amounts = st.integers(min_value=1, max_value=300)
# At least a minute: a hold must never run out by itself within an example; expiry is forced.
ttls = st.sampled_from([60, 600, 86_400])
# Several rules size an amount relative to the state; n is the random part.
spread = st.integers(min_value=0, max_value=1000)


# -- the model ----------------------------------------------------------------------------------


@dataclass
class Account:
    client_id: str
    credit_limit: int
    balance: int = 0
    held: int = 0
    version: int = 0
    events: int = 1  # credits.account.open

    @property
    def headroom(self) -> int:
        """How much a floor-enforcing debit, refund or reserve may still take."""
        return self.balance - self.held + self.credit_limit


@dataclass
class HoldModel:
    id: str
    client_id: str
    amount: int
    status: HoldStatus = HoldStatus.ACTIVE
    overdue: bool = False  # expires_at moved into the past, not reaped yet
    captured: int | None = None
    transaction_id: str | None = None


@dataclass
class TxModel:
    id: str
    client_id: str
    type: TransactionType
    amount: int
    refund_of_id: str | None = None
    hold_id: str | None = None
    refunded: int = 0


@dataclass
class Record:
    """What an idempotency key was first successfully used for (a failed request records nothing)."""

    command: commands.Command
    client_id: str
    result_id: str


@dataclass
class Stats:
    examples: int = 0
    steps: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Prediction:
    error: type[errors.CreditsError] | None = None
    replay_of: Record | None = None

    def __str__(self) -> str:
        if self.replay_of is not None:
            return f"a replay of {self.replay_of.result_id}"
        return self.error.__name__ if self.error else "success"


def same_request(a: commands.Command, b: commands.Command) -> bool:
    """Same operation and content but for the key; deliberately not via Command.fingerprint."""
    if type(a) is not type(b):
        return False
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(a) if f.name != "idempotency_key")


def sized(how: str, n: int, room: int) -> int:
    """An amount relative to `room`: within it, at its edge (one less, equal, one more) or anything."""
    if how == "within":
        return 1 + n % max(room, 1)
    if how == "edge":
        return max(1, room + n % 3 - 1)
    return 1 + n % 300


class LedgerMachine(RuleBasedStateMachine):
    # Holds and transactions are drawn from the model instead: some rules want only the live ones.
    # Draws always pick from lists in insertion order, never sorted by id: ids minted within one
    # millisecond sort differently from run to run, and Hypothesis must replay an example exactly.
    accounts = Bundle("accounts")

    def __init__(self, service: Any, engine: Engine, stats: Stats) -> None:
        super().__init__()
        self.service = service
        self.engine = engine
        # The test's own single statements need no transaction: one round trip instead of three.
        self.auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.stats = stats
        self.stats.examples += 1
        self.model: dict[str, Account] = {}
        self.hold_model: dict[str, HoldModel] = {}
        self.tx_model: dict[str, TxModel] = {}
        self.records: dict[str, Record] = {}
        self.issued: list[commands.Command] = []

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, cmd: commands.Command) -> Prediction:
        if isinstance(cmd, commands.Refund) and cmd.transaction_id not in self.tx_model:
            return Prediction(errors.TransactionNotFound)  # a refund looks its original up before the key
        record = self.records.get(cmd.idempotency_key)  # type: ignore[attr-defined]
        if record is not None:
            return (
                Prediction(replay_of=record)
                if same_request(record.command, cmd)
                else Prediction(errors.IdempotencyConflict)
            )
        return Prediction(self._first_time_error(cmd))

    def _first_time_error(self, cmd: commands.Command) -> type[errors.CreditsError] | None:
        """The error a request with an unused key raises, or None when it succeeds."""
        if isinstance(cmd, commands.CaptureHold | commands.ReleaseHold):
            hold = self.hold_model.get(cmd.hold_id)
            if hold is None:
                return errors.HoldNotFound
            if hold.status != HoldStatus.ACTIVE:
                return errors.HoldNotActive
            if isinstance(cmd, commands.CaptureHold):
                if cmd.amount > hold.amount:
                    return errors.InvalidArgument
                if hold.overdue:  # past its ttl, though the reaper hasn't voided it yet
                    return errors.HoldNotActive
            return None  # releasing an overdue hold is allowed: it frees what expiry would
        if isinstance(cmd, commands.Refund):
            original = self.tx_model[cmd.transaction_id]
            if original.type not in (TransactionType.PURCHASE, TransactionType.GRANT):
                return errors.InvalidArgument
            if cmd.amount > original.amount - original.refunded:
                return errors.RefundExceedsOriginal
            return errors.InsufficientCredits if cmd.amount > self.model[original.client_id].headroom else None
        account = self.model.get(cmd.client_id)  # type: ignore[attr-defined]
        if account is None:
            return errors.AccountNotFound
        if isinstance(cmd, commands.Debit | commands.ReserveHold):
            return errors.InsufficientCredits if cmd.amount > account.headroom else None
        if isinstance(cmd, commands.Adjust):
            if cmd.expected_version is not None and cmd.expected_version != account.version:
                return errors.VersionConflict
            if cmd.amount < 0 and not cmd.allow_negative and -cmd.amount > account.headroom:
                return errors.InsufficientCredits
        return None  # grants, purchases and positive adjustments have no floor

    # -- execution ----------------------------------------------------------------------------

    def execute(self, cmd: commands.Command, *, remember: bool = True) -> Mutation | None:
        """Send one command; assert that the service did what the model predicted; update the model."""
        if remember:  # as a candidate for duplicate_request
            self.issued.append(cmd)
        predicted = self.predict(cmd)
        method, actor = CALLS[type(cmd)]
        try:
            result = getattr(self.service, method)(cmd, actor)
        except errors.CreditsError as exc:
            assert predicted.error is type(exc), f"{cmd!r}: expected {predicted}, got {exc!r}"
            self._count(cmd, type(exc).__name__)
            return None
        assert predicted.error is None, f"{cmd!r}: expected {predicted}, got success {result!r}"
        if predicted.replay_of is not None:
            self._check_replay(cmd, predicted.replay_of, result)
            self._count(cmd, "replayed")
            return None
        assert not result.replayed, f"{cmd!r}: a first request was answered as a replay"
        self._apply(cmd, result)
        self._check_balance(result, self.model[result.balance.client_id])
        self._count(cmd, "ok")
        return result

    def _count(self, cmd: commands.Command, outcome: str) -> None:
        self.stats.outcomes[outcome] += 1
        self.stats.outcomes[f"{cmd.operation}: {outcome}"] += 1

    def _check_replay(self, cmd: commands.Command, record: Record, result: Mutation) -> None:
        assert result.replayed, f"{cmd!r}: a repeated request was applied again: {result!r}"
        if isinstance(cmd, HOLD_COMMANDS):
            hold = self.hold_model[record.result_id]
            assert result.hold is not None and result.hold.id == hold.id, f"{cmd!r}: {result!r}"
            assert result.hold.status == hold.status, f"{cmd!r}: {result.hold!r} vs {hold!r}"
            tx_id = result.transaction.id if result.transaction else None
            assert tx_id == hold.transaction_id, f"{cmd!r}: {result!r}"
        else:
            assert result.transaction is not None and result.transaction.id == record.result_id, f"{result!r}"
        self._check_balance(result, self.model[record.client_id])

    @staticmethod
    def _check_balance(result: Mutation, account: Account) -> None:
        got = result.balance
        assert (got.client_id, got.balance, got.held, got.version, got.available) == (
            account.client_id,
            account.balance,
            account.held,
            account.version,
            account.balance - account.held,
        ), f"mutation reported {got!r}, model has {account!r}"

    def _apply(self, cmd: commands.Command, result: Mutation) -> None:
        if isinstance(cmd, commands.ReserveHold):
            self._apply_reserve(cmd, result)
        elif isinstance(cmd, commands.CaptureHold | commands.ReleaseHold):
            self._apply_settle(cmd, result)
        else:
            self._apply_post(cmd, result)

    def _apply_post(self, cmd: Any, result: Mutation) -> None:
        if isinstance(cmd, commands.Refund):
            original = self.tx_model[cmd.transaction_id]
            client_id, delta = original.client_id, -cmd.amount
            original.refunded += cmd.amount
        else:
            client_id, delta = cmd.client_id, -cmd.amount if isinstance(cmd, commands.Debit) else cmd.amount
        tx_type = POSTED_TYPES[type(cmd)]
        account = self.model[client_id]
        account.balance += delta
        account.version += 1
        account.events += 1
        tx = result.transaction
        assert tx is not None, f"{cmd!r}: no transaction in {result!r}"
        refund_of = cmd.transaction_id if isinstance(cmd, commands.Refund) else None
        expected = (client_id, delta, tx_type, account.balance, account.version, refund_of)
        got = (tx.client_id, tx.amount, tx.type, tx.balance_after, tx.version, tx.refund_of_id)
        assert got == expected, f"{cmd!r}: transaction {got}, expected {expected}"
        self.tx_model[tx.id] = TxModel(tx.id, client_id, tx_type, delta, refund_of_id=refund_of)
        self.records[cmd.idempotency_key] = Record(cmd, client_id, tx.id)

    def _apply_reserve(self, cmd: commands.ReserveHold, result: Mutation) -> None:
        hold = result.hold
        assert hold is not None and result.transaction is None, f"{cmd!r}: {result!r}"
        got = (hold.client_id, hold.amount, hold.status, (hold.expires_at - hold.created_at).total_seconds())
        assert got == (cmd.client_id, cmd.amount, HoldStatus.ACTIVE, cmd.ttl_seconds), f"{cmd!r}: {hold!r}"
        account = self.model[cmd.client_id]
        account.held += cmd.amount
        account.events += 1
        self.hold_model[hold.id] = HoldModel(hold.id, cmd.client_id, cmd.amount)
        self.records[cmd.idempotency_key] = Record(cmd, cmd.client_id, hold.id)

    def _apply_settle(self, cmd: commands.CaptureHold | commands.ReleaseHold, result: Mutation) -> None:
        model = self.hold_model[cmd.hold_id]
        captured = cmd.amount if isinstance(cmd, commands.CaptureHold) else 0
        status = HoldStatus.CAPTURED if isinstance(cmd, commands.CaptureHold) else HoldStatus.RELEASED
        hold = result.hold
        assert hold is not None and hold.id == cmd.hold_id, f"{cmd!r}: {result!r}"
        assert (hold.status, hold.captured_amount) == (status, captured), f"{cmd!r}: {hold!r}"
        account = self.model[model.client_id]
        account.held -= model.amount
        account.balance -= captured
        account.events += 1
        model.status, model.captured = status, captured
        if captured:
            account.version += 1
            tx = result.transaction
            assert tx is not None and hold.transaction_id == tx.id, f"{cmd!r}: {result!r}"
            got = (tx.client_id, tx.amount, tx.type, tx.balance_after, tx.version, tx.hold_id)
            expected = (account.client_id, -captured, TransactionType.USAGE, account.balance, account.version, hold.id)
            assert got == expected, f"{cmd!r}: transaction {got}, expected {expected}"
            model.transaction_id = tx.id
            self.tx_model[tx.id] = TxModel(tx.id, account.client_id, TransactionType.USAGE, -captured, hold_id=hold.id)
        else:
            assert result.transaction is None and hold.transaction_id is None, f"{cmd!r}: {result!r}"
        self.records[cmd.idempotency_key] = Record(cmd, model.client_id, hold.id)

    def make_overdue(self, hold_id: str) -> None:
        # Holds are not append-only: moving expires_at into the past is how a test skips the wait.
        with self.auto.connect() as conn:
            conn.execute(
                text("UPDATE credit_hold SET expires_at = now() - interval '1 second' WHERE id = :id"), {"id": hold_id}
            )
        hold = self.hold_model[hold_id]
        if hold.status == HoldStatus.ACTIVE:
            hold.overdue = True

    def reap(self) -> None:
        """Run the reaper until it finds nothing left; every overdue active hold must then be expired."""
        overdue = [h for h in self.hold_model.values() if h.status == HoldStatus.ACTIVE and h.overdue]
        expired = 0
        while n := self.service.expire_holds():
            expired += n
        # Overdue holds of other tests or of a failed example may be reaped too: at least ours, not exactly.
        assert expired >= len(overdue), f"the reaper expired {expired} holds, the model has {len(overdue)} overdue"
        for hold in overdue:
            account = self.model[hold.client_id]
            account.held -= hold.amount
            account.events += 1
            hold.status, hold.captured = HoldStatus.EXPIRED, 0
            stored = self.service.ledger.get_hold(hold.id)
            got = (stored.status, stored.captured_amount, stored.transaction_id)
            assert got == (HoldStatus.EXPIRED, 0, None), f"{stored!r}"
            self.stats.outcomes["expired"] += 1

    # -- set-up -------------------------------------------------------------------------------

    @initialize(
        target=accounts,
        limits=st.tuples(st.just(0), st.sampled_from([25, 300]), st.sampled_from([0, 100])),
        funds=st.tuples(*[st.sampled_from([0, 50, 400, 1000])] * 3),
    )
    def open_accounts(self, limits: tuple[int, ...], funds: tuple[int, ...]) -> Any:
        for limit, initial in zip(limits, funds, strict=True):
            client_id = new_id("cli")
            balance, created = self.service.open_account(commands.OpenAccount(client_id, limit), ADMIN)
            assert created, f"{client_id} already existed"
            assert (balance.balance, balance.held, balance.version, balance.credit_limit) == (0, 0, 0, limit)
            self.model[client_id] = Account(client_id, limit)
            if initial:  # most examples start with credits to spend, reserve and refund
                self.execute(commands.Grant(client_id, initial, "welcome", new_id("key")))
        # Opening an account again is a no-op that keeps its credit limit.
        first = next(iter(self.model.values()))
        balance, created = self.service.open_account(commands.OpenAccount(first.client_id, 500), ADMIN)
        assert not created and balance.credit_limit == first.credit_limit, f"reopening changed {balance!r}"
        return multiple(*self.model)

    @initialize(
        account_op=st.sampled_from(["grant", "purchase", "debit", "adjust", "reserve"]),
        hold_op=st.sampled_from(["capture", "release"]),
        amount=amounts,
    )
    def requests_for_unknown_targets(self, account_op: str, hold_op: str, amount: int) -> None:
        # Once per example rather than as a rule: always covered, and no steps spent on it.
        client_id, key = new_id("cli"), new_id("key")
        unknown_account = {
            "grant": lambda: commands.Grant(client_id, amount, "nobody", key),
            "purchase": lambda: commands.Purchase(client_id, amount, "pi_nobody", key),
            "debit": lambda: commands.Debit(client_id, amount, key),
            "adjust": lambda: commands.Adjust(client_id, -amount, "nobody", key),
            "reserve": lambda: commands.ReserveHold(client_id, amount, 60, key),
        }[account_op]()
        hold_id, hold_key = new_id("hld"), new_id("key")
        unknown_hold = (
            commands.CaptureHold(hold_id, amount, hold_key)
            if hold_op == "capture"
            else commands.ReleaseHold(hold_id, hold_key)
        )
        unknown_original = commands.Refund(new_id("ctx"), amount, "ghost", new_id("key"))
        for cmd in (unknown_account, unknown_hold, unknown_original):
            self.execute(cmd, remember=False)  # repeating them would only waste steps

    # -- rules: money in and out --------------------------------------------------------------

    @rule(client_id=accounts, amount=amounts)
    def grant(self, client_id: str, amount: int) -> None:
        self.execute(commands.Grant(client_id, amount, "promotion", new_id("key")))

    @rule(client_id=accounts, amount=amounts, description=st.sampled_from(["", "pack"]))
    def purchase(self, client_id: str, amount: int, description: str) -> None:
        cmd = commands.Purchase(client_id, amount, new_id("pi"), new_id("key"), description, (("pack", amount),))
        self.execute(cmd)

    @rule(client_id=accounts, how=st.sampled_from(["any", "edge"]), n=spread)
    def debit(self, client_id: str, how: str, n: int) -> None:
        amount = sized(how, n, self.model[client_id].headroom)
        self.execute(commands.Debit(client_id, amount, new_id("key"), "image", new_id("ast")))

    @rule(
        client_id=accounts,
        size=st.integers(1, 400),
        negative=st.booleans(),
        allow_negative=st.booleans(),
        version=st.sampled_from(["none", "none", "current", "stale", "ahead"]),
    )
    def adjust(self, client_id: str, size: int, negative: bool, allow_negative: bool, version: str) -> None:
        amount = -size if negative else size
        current = self.model[client_id].version
        expected_version = {
            "none": None,
            "current": current,
            "stale": current - 1 if current else current + 2,
            "ahead": current + 1,
        }[version]
        cmd = commands.Adjust(client_id, amount, "correction", new_id("key"), expected_version, allow_negative)
        self.execute(cmd)

    def refundable(self) -> list[str]:
        return [t.id for t in self.tx_model.values() if t.type in (TransactionType.PURCHASE, TransactionType.GRANT)]

    def not_refundable(self) -> list[str]:
        return [t.id for t in self.tx_model.values() if t.type not in (TransactionType.PURCHASE, TransactionType.GRANT)]

    @precondition(lambda self: self.refundable())
    @rule(data=st.data(), how=st.sampled_from(["part", "rest", "over"]), n=spread)
    def refund(self, data: st.DataObject, how: str, n: int) -> None:
        tx = self.tx_model[data.draw(st.sampled_from(self.refundable()), label="original")]
        left = tx.amount - tx.refunded
        amount = {"part": 1 + n % max(left, 1), "rest": max(left, 1), "over": left + 1 + n % 50}[how]
        self.execute(commands.Refund(tx.id, amount, "customer request", new_id("key")))

    @precondition(lambda self: self.not_refundable())
    @rule(data=st.data(), amount=amounts)
    def refund_other_types(self, data: st.DataObject, amount: int) -> None:
        # Usage, adjustments and refunds are not refundable.
        original = data.draw(st.sampled_from(self.not_refundable()), label="original")
        self.execute(commands.Refund(original, amount, "not refundable", new_id("key")))

    # -- rules: holds -------------------------------------------------------------------------

    @rule(client_id=accounts, how=st.sampled_from(["within", "edge", "any"]), n=spread, ttl=ttls)
    def reserve(self, client_id: str, how: str, n: int, ttl: int) -> None:
        amount = sized(how, n, self.model[client_id].headroom)
        self.execute(commands.ReserveHold(client_id, amount, ttl, new_id("key"), job_id=new_id("job")))

    def pick_hold(self, data: st.DataObject, which: str) -> HoldModel:
        # Mostly an active hold (settled ones pile up and would crowd the live ones out), else any.
        active = [h for h in self.hold_model.values() if h.status == HoldStatus.ACTIVE]
        candidates = active if which == "active" and active else list(self.hold_model.values())
        return self.hold_model[data.draw(st.sampled_from([h.id for h in candidates]), label="hold")]

    @precondition(lambda self: self.hold_model)
    @rule(
        data=st.data(),
        which=st.sampled_from(["active", "active", "any"]),
        how=st.sampled_from(["zero", "part", "all", "all", "over"]),
        n=spread,
    )
    def capture(self, data: st.DataObject, which: str, how: str, n: int) -> None:
        hold = self.pick_hold(data, which)
        amount = {"zero": 0, "part": n % hold.amount, "all": hold.amount, "over": hold.amount + 1 + n % 10}[how]
        self.execute(commands.CaptureHold(hold.id, amount, new_id("key"), generated_asset_id=new_id("ast")))

    @precondition(lambda self: self.hold_model)
    @rule(data=st.data(), which=st.sampled_from(["active", "active", "any"]))
    def release(self, data: st.DataObject, which: str) -> None:
        self.execute(commands.ReleaseHold(self.pick_hold(data, which).id, new_id("key")))

    @precondition(lambda self: self.hold_model)
    @rule(data=st.data(), which=st.sampled_from(["active", "active", "any"]), reap_now=st.booleans())
    def expire(self, data: st.DataObject, which: str, reap_now: bool) -> None:
        # Left unreaped, an overdue hold must refuse a capture but may still be released.
        self.make_overdue(self.pick_hold(data, which).id)
        if reap_now:
            self.reap()

    # -- rules: duplicate requests ------------------------------------------------------------

    # One rule for both kinds, so that duplicates don't crowd out the other operations. Newest
    # first: Hypothesis favours the first element, and a client mostly retries its latest request.
    @precondition(lambda self: self.issued)
    @rule(data=st.data(), how=st.sampled_from(["same", "same", "amount", "text", "other operation"]))
    def duplicate_request(self, data: st.DataObject, how: str) -> None:
        if how == "same" or not self.records:
            # The same key and content: a replay if it first succeeded, a fresh attempt if it failed.
            self.execute(data.draw(st.sampled_from(self.issued[::-1]), label="repeated"))
            return
        # The key of a request that succeeded, with other content: refused, and nothing changes.
        key = data.draw(st.sampled_from(list(self.records)[::-1]), label="key")
        original: Any = self.records[key].command
        names = {f.name for f in dataclasses.fields(original)}
        if how == "amount" and "amount" in names:
            cmd = dataclasses.replace(original, amount=original.amount + 1 or 2)
        elif how == "text" and names & {"reason", "description"}:
            name = "reason" if "reason" in names else "description"
            cmd = dataclasses.replace(original, **{name: getattr(original, name) + " (edited)"})
        else:
            client_id = data.draw(st.sampled_from(list(self.model)), label="client_id")
            if isinstance(original, commands.Grant):
                cmd = commands.Debit(client_id, 1, key)
            else:
                cmd = commands.Grant(client_id, 1, "same key, other operation", key)
        self.execute(cmd)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self) -> None:
        # One round trip for every account, so a write that strays onto another account shows at once.
        self.stats.steps += 1  # invariants run after each step once the initialize rules are done
        with self.auto.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT client_id, balance, held, version, credit_limit FROM credit_balance WHERE client_id = ANY(:c)"
                ),
                {"c": list(self.model)},
            ).all()
        stored = {r.client_id: (r.balance, r.held, r.version, r.credit_limit) for r in rows}
        expected = {a.client_id: (a.balance, a.held, a.version, a.credit_limit) for a in self.model.values()}
        assert stored == expected, f"stored {stored}, model {expected}"
        for account in self.model.values():
            active = sum(
                h.amount
                for h in self.hold_model.values()
                if h.client_id == account.client_id and h.status == HoldStatus.ACTIVE
            )
            assert account.held == active, f"the model is inconsistent: held {account.held}, active holds {active}"

    def teardown(self) -> None:
        # Hypothesis calls teardown from a `finally`: when a step already failed, don't mask its error.
        if sys.exc_info()[0] is not None or not self.model:
            return
        self.reap()  # and so leave no overdue hold behind
        for account in self.model.values():
            stored = self.service.ledger.get_balance(account.client_id)
            got = (stored.balance, stored.held, stored.version, stored.credit_limit, stored.available)
            expected = (
                account.balance,
                account.held,
                account.version,
                account.credit_limit,
                account.balance - account.held,
            )
            assert got == expected, f"{account.client_id}: stored {got}, model {expected}"
            report = check_ledger(self.engine, account.client_id)
            assert report.ok, f"ledger check of {account.client_id}: {report.violations}"
        self._compare_stored_rows(sorted(self.model))

    def _compare_stored_rows(self, clients: list[str]) -> None:
        """Exactly what the model expects was written: failures and replays left no trace."""
        with self.auto.connect() as conn:
            txs = conn.execute(
                text(
                    "SELECT id, client_id, type, amount, refund_of_id, hold_id FROM credit_transaction "
                    "WHERE client_id = ANY(:c)"
                ),
                {"c": clients},
            ).all()
            holds = conn.execute(
                text(
                    "SELECT id, client_id, amount, status, captured_amount, transaction_id FROM credit_hold "
                    "WHERE client_id = ANY(:c)"
                ),
                {"c": clients},
            ).all()
            keys = conn.execute(
                text("SELECT key, client_id, result_id FROM idempotency_record WHERE client_id = ANY(:c)"),
                {"c": clients},
            ).all()
            # Account and credit events name the client as their entity, hold events the hold.
            events = conn.execute(
                text("SELECT COUNT(*) FROM outbox WHERE payload->'entity'->>'id' = ANY(:ids)"),
                {"ids": clients + list(self.hold_model)},
            ).scalar_one()
        assert {r.id: (r.client_id, r.type, r.amount, r.refund_of_id, r.hold_id) for r in txs} == {
            t.id: (t.client_id, t.type.value, t.amount, t.refund_of_id, t.hold_id) for t in self.tx_model.values()
        }
        assert {r.id: (r.client_id, r.amount, r.status, r.captured_amount, r.transaction_id) for r in holds} == {
            h.id: (h.client_id, h.amount, h.status.value, h.captured, h.transaction_id)
            for h in self.hold_model.values()
        }
        assert {r.key: (r.client_id, r.result_id) for r in keys} == {
            key: (r.client_id, r.result_id) for key, r in self.records.items()
        }
        assert events == sum(a.events for a in self.model.values()), "one outbox event per change, none otherwise"


@pytest.mark.slow
def test_the_ledger_agrees_with_its_model_over_thousands_of_steps(service, container):
    stats = Stats()
    run_state_machine_as_test(
        lambda: LedgerMachine(service, container.engine, stats),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS_PER_EXAMPLE,
            deadline=None,
            database=None,  # no .hypothesis/ directory: a failure prints its own minimal reproduction
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow],  # each step is a few database round trips
        ),
    )
    # Guard against a machine that silently stopped exercising the ledger. Hypothesis cuts some
    # examples short on purpose, hence the margin. Only outcomes that every run reaches many times
    # are required: Hypothesis' swarm testing makes the counts of the rarer ones vary a lot.
    assert stats.steps >= MAX_EXAMPLES * STEPS_PER_EXAMPLE // 2, stats
    for outcome in (
        "ok",
        "replayed",
        "IdempotencyConflict",
        "InsufficientCredits",
        "AccountNotFound",
        "TransactionNotFound",
        "HoldNotFound",
    ):
        assert stats.outcomes[outcome] > 0, f"never saw {outcome}: {stats.outcomes}"
