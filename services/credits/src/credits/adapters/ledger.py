"""The ledger on PostgreSQL.

Each write is a single statement: a conditional `UPDATE credit_balance … RETURNING` chained through
data-modifying CTEs into the idempotency record, the transaction row and the outbox event. Run in
autocommit, the statement is its own transaction: one round trip, one row lock, no retries. When
the condition fails the statement changes nothing, and `_diagnose` says why.

Replays: the idempotency record's primary key makes a second application of a key fail the
statement as a whole; the stored record then answers the replay (or refuses other content).

Group commit: posts that arrive while another is being written share one statement
(POST_BATCH_SQL, all or nothing); when it can't apply, each is posted alone, in arrival order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import psycopg
from prometheus_client import Counter, Histogram
from psycopg import errors as pg_errors
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from credits.adapters.combiner import Combiner
from credits.domain import errors
from credits.domain.model import Balance, Hold, HoldStatus, Mutation, Transaction, TransactionType
from scenergy.common.db import driver_sql, fetch_all, fetch_one
from scenergy.common.ids import new_id

_BALANCE_COLUMNS = "client_id, balance, held, credit_limit, version, created_at, updated_at, last_activity_at"

OPEN_ACCOUNT_SQL = text(
    f"""
WITH acct AS (
    INSERT INTO credit_balance (id, client_id, credit_limit)
    VALUES (:balance_id, :client_id, :credit_limit)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING {_BALANCE_COLUMNS}
), ev AS (
    INSERT INTO outbox (event_id, routing_key, payload)
    SELECT :event_id, :routing_key, CAST(:envelope AS jsonb) FROM acct
)
SELECT * FROM acct
"""
)

# Grant, adjust, purchase, refund and debit: one statement.
POST_SQL = text(
    """
WITH bal AS (
    UPDATE credit_balance
       SET balance = balance + :amount,
           version = version + 1,
           updated_at = now(),
           last_activity_at = now()
     WHERE client_id = :client_id
       AND (NOT :enforce_floor OR balance - held + :amount >= -credit_limit)
       AND (CAST(:expected_version AS bigint) IS NULL OR version = CAST(:expected_version AS bigint))
    RETURNING client_id, balance, held, credit_limit, version, created_at, updated_at, last_activity_at
), idem AS (
    INSERT INTO idempotency_record (key, operation, client_id, request_hash, result_id)
    SELECT :idempotency_key, :operation, :client_id, :request_hash, :transaction_id FROM bal
    RETURNING key
), tx AS (
    INSERT INTO credit_transaction (
        id, client_id, amount, balance_after, version, type, description, generated_asset_id,
        payment_transaction_id, admin_user_id, refund_of_id, idempotency_key, request_id, metadata, created_at)
    SELECT :transaction_id, bal.client_id, :amount, bal.balance, bal.version, :type, :description,
           :generated_asset_id, :payment_transaction_id, :admin_user_id, :refund_of_id, idem.key,
           :request_id, CAST(:metadata AS jsonb), bal.updated_at
      FROM bal, idem
    RETURNING *
), ev AS (
    INSERT INTO outbox (event_id, routing_key, payload)
    SELECT :event_id, :routing_key,
           jsonb_set(jsonb_set(CAST(:envelope AS jsonb),
               '{data,previous}', jsonb_build_object(
                   'balance', bal.balance - :amount, 'held', bal.held, 'version', bal.version - 1)),
               '{data,new}', jsonb_build_object(
                   'balance', bal.balance, 'held', bal.held, 'version', bal.version,
                   'balance_after', tx.balance_after, 'created_at', tx.created_at))
      FROM bal, tx
)
SELECT tx.*, bal.held AS bal_held, bal.credit_limit AS bal_credit_limit, bal.created_at AS bal_created_at,
       bal.updated_at AS bal_updated_at, bal.last_activity_at AS bal_last_activity_at
  FROM tx, bal
"""
)

# Several posts at once (the combiner's batch, see combiner.py): all of them, or none. The items
# come as one JSON array, in arrival order. Rows are locked in client order, so that two batches
# can't deadlock; every condition is checked on the locked rows, and only when every item passes
# does anything change. Items of one client apply in order: each gets its own running balance and
# version. When the statement changes nothing (a condition failed) or fails (a replayed key), each
# item is posted alone. `= ANY (ARRAY(...))` keeps the balance lookups on the key: the planner
# can't see how few items come.
POST_BATCH_SQL = text(
    """
WITH req AS MATERIALIZED (
    SELECT r.*,
           CAST(sum(r.amount) OVER w AS bigint) AS running,
           row_number() OVER w AS seq
      FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS r(
           i int, client_id text, amount bigint, type text, enforce_floor boolean,
           idempotency_key text, operation text, request_hash text, transaction_id text,
           description text, generated_asset_id text, payment_transaction_id text,
           admin_user_id text, request_id text, metadata jsonb, event_id text, routing_key text,
           envelope jsonb)
    WINDOW w AS (PARTITION BY r.client_id ORDER BY r.i)
), per_client AS MATERIALIZED (
    SELECT client_id, CAST(sum(amount) AS bigint) AS total, count(*) AS posts,
           min(running) FILTER (WHERE enforce_floor) AS lowest
      FROM req GROUP BY client_id
), locked AS MATERIALIZED (
    SELECT p.lowest IS NULL OR b.balance - b.held + p.lowest >= -b.credit_limit AS ok
      FROM per_client p JOIN credit_balance b ON b.client_id = p.client_id
     WHERE b.client_id = ANY (ARRAY(SELECT client_id FROM per_client))
     ORDER BY b.client_id
       FOR UPDATE OF b
), bal AS (
    UPDATE credit_balance b
       SET balance = b.balance + p.total,
           version = b.version + p.posts,
           updated_at = now(),
           last_activity_at = now()
      FROM per_client p
     WHERE b.client_id = p.client_id
       AND b.client_id = ANY (ARRAY(SELECT client_id FROM per_client))
       AND (SELECT count(*) = (SELECT count(*) FROM per_client) AND bool_and(ok) FROM locked)
    RETURNING b.client_id, b.balance - p.total AS balance_before, b.version - p.posts AS version_before,
              b.held, b.credit_limit, b.created_at, b.updated_at, b.last_activity_at
), item AS MATERIALIZED (
    SELECT r.i, r.transaction_id, r.client_id, r.amount, bal.balance_before + r.running AS balance_after,
           bal.version_before + r.seq AS version, r.type, r.description, r.generated_asset_id,
           r.payment_transaction_id, r.admin_user_id, r.idempotency_key, r.operation, r.request_hash,
           r.request_id, r.metadata, r.event_id, r.routing_key, r.envelope, bal.held, bal.credit_limit,
           bal.created_at AS balance_created_at, bal.updated_at, bal.last_activity_at
      FROM req r JOIN bal ON bal.client_id = r.client_id
), idem AS (
    INSERT INTO idempotency_record (key, operation, client_id, request_hash, result_id)
    SELECT idempotency_key, operation, client_id, request_hash, transaction_id FROM item
), tx AS (
    INSERT INTO credit_transaction (
        id, client_id, amount, balance_after, version, type, description, generated_asset_id,
        payment_transaction_id, admin_user_id, idempotency_key, request_id, metadata, created_at)
    SELECT transaction_id, client_id, amount, balance_after, version, type, description, generated_asset_id,
           payment_transaction_id, admin_user_id, idempotency_key, request_id, metadata, updated_at
      FROM item
), ev AS (
    INSERT INTO outbox (event_id, routing_key, payload)
    SELECT event_id, routing_key,
           jsonb_set(jsonb_set(envelope,
               '{data,previous}', jsonb_build_object(
                   'balance', balance_after - amount, 'held', held, 'version', version - 1)),
               '{data,new}', jsonb_build_object(
                   'balance', balance_after, 'held', held, 'version', version,
                   'balance_after', balance_after, 'created_at', updated_at))
      FROM item
)
SELECT i AS batch_index, transaction_id AS id, client_id, amount, balance_after, version, type, description,
       generated_asset_id, payment_transaction_id, admin_user_id, NULL AS refund_of_id, NULL AS hold_id,
       idempotency_key, metadata, updated_at AS created_at, held AS bal_held, credit_limit AS bal_credit_limit,
       balance_created_at AS bal_created_at, updated_at AS bal_updated_at,
       last_activity_at AS bal_last_activity_at
  FROM item
"""
)

RESERVE_SQL = text(
    """
WITH bal AS (
    UPDATE credit_balance
       SET held = held + :amount, updated_at = now()
     WHERE client_id = :client_id AND balance - held - :amount >= -credit_limit
    RETURNING client_id, balance, held, credit_limit, version, created_at, updated_at, last_activity_at
), idem AS (
    INSERT INTO idempotency_record (key, operation, client_id, request_hash, result_id)
    SELECT :idempotency_key, :operation, :client_id, :request_hash, :hold_id FROM bal
    RETURNING key
), h AS (
    INSERT INTO credit_hold (id, client_id, amount, status, job_id, expires_at, created_at)
    SELECT :hold_id, bal.client_id, :amount, 'active', :job_id,
           bal.updated_at + make_interval(secs => :ttl_seconds), bal.updated_at
      FROM bal, idem
    RETURNING *
), ev AS (
    INSERT INTO outbox (event_id, routing_key, payload)
    SELECT :event_id, :routing_key,
           jsonb_set(jsonb_set(jsonb_set(CAST(:envelope AS jsonb),
               '{data,previous}', jsonb_build_object('balance', bal.balance, 'held', bal.held - :amount)),
               '{data,new}', jsonb_build_object('balance', bal.balance, 'held', bal.held)),
               '{data,expires_at}', to_jsonb(h.expires_at))
      FROM bal, h
)
SELECT h.*, bal.balance AS bal_balance, bal.held AS bal_held, bal.credit_limit AS bal_credit_limit,
       bal.version AS bal_version, bal.created_at AS bal_created_at, bal.updated_at AS bal_updated_at,
       bal.last_activity_at AS bal_last_activity_at
  FROM h, bal
"""
)

BATCH_SIZE = Histogram(
    "credits_ledger_batch_size", "Posts that shared one statement", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
BATCH_FALLBACKS = Counter(
    "credits_ledger_batch_fallbacks_total", "Batches that changed nothing, whose posts then ran alone"
)

# What of a post's parameters an item of POST_BATCH_SQL carries.
_BATCH_ITEM_KEYS = (
    "client_id", "amount", "type", "enforce_floor", "idempotency_key", "operation", "request_hash",
    "transaction_id", "description", "generated_asset_id", "payment_transaction_id", "admin_user_id",
    "request_id", "metadata", "event_id", "routing_key", "envelope",
)  # fmt: skip

# Capture, release and expiry: settle the hold (compare-and-set on status), move the held amount,
# and for a capture of more than zero record the usage transaction.
SETTLE_SQL = text(
    """
WITH h AS (
    UPDATE credit_hold
       SET status = :status, captured_amount = :captured, settled_at = now(),
           transaction_id = CASE WHEN :captured > 0 THEN CAST(:transaction_id AS text) END
     WHERE id = :hold_id AND status = 'active' AND amount >= :captured
       AND (NOT :require_unexpired OR expires_at > now())
       AND (NOT :require_expired OR expires_at <= now())
    RETURNING *
), bal AS (
    UPDATE credit_balance b
       SET held = b.held - h.amount,
           balance = b.balance - :captured,
           version = b.version + CASE WHEN :captured > 0 THEN 1 ELSE 0 END,
           updated_at = now(),
           last_activity_at = CASE WHEN :captured > 0 THEN now() ELSE b.last_activity_at END
      FROM h
     WHERE b.client_id = h.client_id
    RETURNING b.client_id, b.balance, b.held, b.credit_limit, b.version, b.created_at, b.updated_at,
              b.last_activity_at, h.amount AS hold_amount
), idem AS (
    INSERT INTO idempotency_record (key, operation, client_id, request_hash, result_id)
    SELECT :idempotency_key, :operation, bal.client_id, :request_hash, :hold_id FROM bal
     WHERE CAST(:idempotency_key AS text) IS NOT NULL
    RETURNING key
), tx AS (
    INSERT INTO credit_transaction (
        id, client_id, amount, balance_after, version, type, description, generated_asset_id,
        hold_id, idempotency_key, request_id, metadata, created_at)
    SELECT :transaction_id, bal.client_id, -CAST(:captured AS bigint), bal.balance, bal.version, 'usage',
           :description, :generated_asset_id, h.id, :idempotency_key, :request_id,
           jsonb_strip_nulls(jsonb_build_object('job_id', h.job_id)), bal.updated_at
      FROM bal, h
     WHERE :captured > 0
    RETURNING id
), ev AS (
    INSERT INTO outbox (event_id, routing_key, payload)
    SELECT :event_id, :routing_key,
           jsonb_set(jsonb_set(jsonb_set(CAST(:envelope AS jsonb),
               '{data,previous}', jsonb_build_object(
                   'status', 'active', 'balance', bal.balance + :captured, 'held', bal.held + bal.hold_amount)),
               '{data,new}', jsonb_build_object(
                   'status', CAST(:status AS text), 'balance', bal.balance, 'held', bal.held,
                   'version', bal.version)),
               '{data,hold_amount}', to_jsonb(bal.hold_amount))
      FROM bal
)
SELECT h.*, bal.balance AS bal_balance, bal.held AS bal_held, bal.credit_limit AS bal_credit_limit,
       bal.version AS bal_version, bal.created_at AS bal_created_at, bal.updated_at AS bal_updated_at,
       bal.last_activity_at AS bal_last_activity_at
  FROM h, bal
"""
)


# The hot writes run on the psycopg connection itself (scenergy.common.db.fetch_one), skipping
# SQLAlchemy's per-call result handling, a measurable share of a debit's CPU.
POST_PG = driver_sql(POST_SQL)
POST_BATCH_PG = driver_sql(POST_BATCH_SQL)
RESERVE_PG = driver_sql(RESERVE_SQL)
SETTLE_PG = driver_sql(SETTLE_SQL)


def _mapping(row: Any) -> Mapping[str, Any]:
    return row if isinstance(row, Mapping) else row._mapping


def balance_from_row(row: Any, prefix: str = "") -> Balance:
    m = _mapping(row)
    return Balance(
        client_id=m["client_id"],
        balance=m[f"{prefix}balance"],
        held=m[f"{prefix}held"],
        credit_limit=m[f"{prefix}credit_limit"],
        version=m[f"{prefix}version"],
        created_at=m[f"{prefix}created_at"],
        updated_at=m[f"{prefix}updated_at"],
        last_activity_at=m[f"{prefix}last_activity_at"],
    )


def transaction_from_row(row: Any) -> Transaction:
    m = _mapping(row)
    return Transaction(
        id=m["id"],
        client_id=m["client_id"],
        amount=m["amount"],
        balance_after=m["balance_after"],
        version=m["version"],
        type=TransactionType(m["type"]),
        created_at=m["created_at"],
        description=m["description"],
        generated_asset_id=m["generated_asset_id"],
        payment_transaction_id=m["payment_transaction_id"],
        admin_user_id=m["admin_user_id"],
        refund_of_id=m["refund_of_id"],
        hold_id=m["hold_id"],
        idempotency_key=m["idempotency_key"],
        metadata=m["metadata"] or {},
    )


def hold_from_row(row: Any) -> Hold:
    m = _mapping(row)
    return Hold(
        id=m["id"],
        client_id=m["client_id"],
        amount=m["amount"],
        status=HoldStatus(m["status"]),
        expires_at=m["expires_at"],
        created_at=m["created_at"],
        captured_amount=m["captured_amount"],
        transaction_id=m["transaction_id"],
        job_id=m["job_id"],
        settled_at=m["settled_at"],
    )


def _post_balance(row: Any, tx: Transaction) -> Balance:
    m = _mapping(row)
    return Balance(
        client_id=tx.client_id,
        balance=tx.balance_after,
        held=m["bal_held"],
        credit_limit=m["bal_credit_limit"],
        version=tx.version,
        created_at=m["bal_created_at"],
        updated_at=m["bal_updated_at"],
        last_activity_at=m["bal_last_activity_at"],
    )


def _is_idempotency_violation(exc: Exception) -> bool:
    diag = getattr(getattr(exc, "orig", exc), "diag", None)
    return getattr(diag, "constraint_name", None) == "pk_idempotency_record"


@contextmanager
def _ledger_errors() -> Iterator[None]:
    """Database conditions that have a meaning for callers become domain errors."""
    try:
        yield
    except (DBAPIError, psycopg.Error) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        if isinstance(cause, pg_errors.NumericValueOutOfRange):
            raise errors.AmountOutOfRange("the resulting balance would exceed the ledger's range") from exc
        if isinstance(cause, pg_errors.QueryCanceled | pg_errors.LockNotAvailable):
            raise errors.LedgerBusy() from exc
        if isinstance(cause, psycopg.OperationalError):
            raise errors.LedgerUnavailable() from exc
        raise


class IdempotencyClaim:
    """The key, operation and request fingerprint that a write records."""

    __slots__ = ("key", "operation", "request_hash")

    def __init__(self, key: str, operation: str, request_hash: str) -> None:
        self.key = key
        self.operation = operation
        self.request_hash = request_hash


class PostgresLedger:
    """The ledger's persistence port, implemented on PostgreSQL."""

    def __init__(self, engine: Engine, *, autocommit_engine: Engine | None = None, max_batch: int = 1) -> None:
        # Single-statement writes need no explicit transaction: autocommit saves two round trips.
        # A dedicated autocommit engine also spares the per-checkout isolation switch.
        self._auto = autocommit_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
        self._engine = engine
        # With max_batch > 1, concurrent posts share statements (group commit, see combiner.py).
        self._combiner: Combiner[tuple[dict[str, Any], IdempotencyClaim], Mutation] | None = (
            Combiner(self._post_batch, max_batch=max_batch, name="ledger-combiner") if max_batch > 1 else None
        )

    # -- accounts -----------------------------------------------------------------------------

    def open_account(self, client_id: str, credit_limit: int, envelope: dict[str, Any]) -> tuple[Balance, bool]:
        with self._auto.connect() as conn:
            row = conn.execute(
                OPEN_ACCOUNT_SQL,
                {
                    "balance_id": new_id("bal"),
                    "client_id": client_id,
                    "credit_limit": credit_limit,
                    "event_id": envelope["id"],
                    "routing_key": envelope["type"],
                    "envelope": json.dumps(envelope),
                },
            ).first()
            if row is not None:
                return balance_from_row(row), True
            existing = self._balance(conn, client_id)
            assert existing is not None
            return existing, False

    def get_balance(self, client_id: str) -> Balance:
        with self._auto.connect() as conn:
            balance = self._balance(conn, client_id)
        if balance is None:
            raise errors.AccountNotFound(client_id)
        return balance

    def get_transaction(self, transaction_id: str) -> Transaction:
        with self._auto.connect() as conn:
            row = conn.execute(text("SELECT * FROM credit_transaction WHERE id = :id"), {"id": transaction_id}).first()
        if row is None:
            raise errors.TransactionNotFound(transaction_id)
        return transaction_from_row(row)

    def get_hold(self, hold_id: str) -> Hold:
        with self._auto.connect() as conn:
            row = conn.execute(text("SELECT * FROM credit_hold WHERE id = :id"), {"id": hold_id}).first()
        if row is None:
            raise errors.HoldNotFound(hold_id)
        return hold_from_row(row)

    @staticmethod
    def _balance(conn: Connection, client_id: str, *, lock: bool = False) -> Balance | None:
        sql = f"SELECT {_BALANCE_COLUMNS} FROM credit_balance WHERE client_id = :c" + (" FOR UPDATE" if lock else "")
        row = conn.execute(text(sql), {"c": client_id}).first()
        return balance_from_row(row) if row is not None else None

    # -- ledger writes --------------------------------------------------------------------------

    def post(
        self,
        *,
        client_id: str,
        amount: int,
        type: TransactionType,
        claim: IdempotencyClaim,
        envelope: dict[str, Any],
        enforce_floor: bool,
        expected_version: int | None = None,
        description: str | None = None,
        generated_asset_id: str | None = None,
        payment_transaction_id: str | None = None,
        admin_user_id: str | None = None,
        refund_of_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        request_id: str | None = None,
        transaction_id: str | None = None,
        conn: Connection | None = None,
    ) -> Mutation:
        """Apply one signed amount to a balance and record it; replays answer from the record."""
        params = {
            "client_id": client_id,
            "amount": amount,
            "type": type.value,
            "enforce_floor": enforce_floor,
            "expected_version": expected_version,
            "idempotency_key": claim.key,
            "operation": claim.operation,
            "request_hash": claim.request_hash,
            "transaction_id": transaction_id or new_id("ctx"),
            "description": description or None,
            "generated_asset_id": generated_asset_id or None,
            "payment_transaction_id": payment_transaction_id or None,
            "admin_user_id": admin_user_id or None,
            "refund_of_id": refund_of_id,
            "request_id": request_id,
            "metadata": metadata or {},
            "event_id": envelope["id"],
            "routing_key": envelope["type"],
            "envelope": envelope,
        }
        with _ledger_errors():
            if conn is not None:
                return self._post(conn, params, claim)
            # Writes of their own (not inside a refund) may share a statement with concurrent ones;
            # an admin's version precondition is checked alone.
            if self._combiner is not None and expected_version is None and refund_of_id is None:
                return self._combiner.submit((params, claim))
            with self._auto.connect() as auto:
                return self._post(auto, params, claim)

    def _post_batch(self, items: Sequence[tuple[dict[str, Any], IdempotencyClaim]]) -> list[Mutation | Exception]:
        """The combiner's batch: one statement for all when it applies as a whole; otherwise each
        post alone, in arrival order, as if they had come one after another."""
        BATCH_SIZE.observe(len(items))
        if len(items) > 1:
            together = self._post_together(items)
            if together is not None:
                return together
            BATCH_FALLBACKS.inc()
        return [self._post_alone(params, claim) for params, claim in items]

    def _post_together(
        self, items: Sequence[tuple[dict[str, Any], IdempotencyClaim]]
    ) -> list[Mutation | Exception] | None:
        batch = [{key: params[key] for key in _BATCH_ITEM_KEYS} | {"i": i} for i, (params, _claim) in enumerate(items)]
        try:
            with self._auto.connect() as auto:
                rows = fetch_all(auto, POST_BATCH_PG, {"items": json.dumps(batch)})
        except (DBAPIError, psycopg.Error):
            # A replayed or repeated key, a range error, a balance locked too long, a lost
            # connection: nothing of the batch is known to have applied, and alone each item gets
            # its own answer (replays included), so one busy client doesn't fail the others.
            return None
        if len(rows) != len(items):  # a condition failed (unknown client, too few credits)
            return None
        results: list[Mutation | Exception] = [None] * len(items)  # type: ignore[list-item]
        for row in rows:
            tx = transaction_from_row(row)
            results[row["batch_index"]] = Mutation(balance=_post_balance(row, tx), transaction=tx)
        return results

    def _post_alone(self, params: dict[str, Any], claim: IdempotencyClaim) -> Mutation | Exception:
        try:
            with self._auto.connect() as auto:
                return self._post(auto, params, claim)
        except Exception as exc:  # raised in its own caller, through post's error translation
            return exc

    def _post(self, conn: Connection, params: dict[str, Any], claim: IdempotencyClaim) -> Mutation:
        params = params | {"metadata": json.dumps(params["metadata"]), "envelope": json.dumps(params["envelope"])}
        try:
            with conn.begin_nested() if conn.in_transaction() else nullcontext():
                row = fetch_one(conn, POST_PG, params)
        except (IntegrityError, pg_errors.UniqueViolation) as exc:
            if not _is_idempotency_violation(exc):
                raise
            return self._replay(conn, claim)
        if row is not None:
            tx = transaction_from_row(row)
            return Mutation(balance=_post_balance(row, tx), transaction=tx)
        replay = self._find_replay(conn, claim)
        if replay is not None:
            return replay
        balance = self._balance(conn, params["client_id"])
        if balance is None:
            raise errors.AccountNotFound(params["client_id"])
        expected = params["expected_version"]
        if expected is not None and balance.version != expected:
            raise errors.VersionConflict(balance.client_id, expected, balance.version)
        raise errors.InsufficientCredits(balance.client_id, -params["amount"], balance.available - balance.floor)

    def refund(
        self,
        *,
        original_id: str,
        amount: int,
        claim: IdempotencyClaim,
        make_envelope: Any,
        **fields: Any,
    ) -> Mutation:
        """Reverse part of a purchase or grant; the sum of its refunds never exceeds it."""
        with _ledger_errors(), self._engine.connect() as conn, conn.begin():
            # Serialise refunds of one transaction: a row lock (the append-only trigger is for
            # UPDATE and DELETE; FOR UPDATE takes the lock without modifying the row).
            row = conn.execute(
                text("SELECT * FROM credit_transaction WHERE id = :id FOR UPDATE"), {"id": original_id}
            ).first()
            if row is None:
                raise errors.TransactionNotFound(original_id)
            replay = self._find_replay(conn, claim)
            if replay is not None:
                return replay
            original = transaction_from_row(row)
            if original.type not in (TransactionType.PURCHASE, TransactionType.GRANT):
                raise errors.InvalidArgument(
                    f"transaction {original_id} is a {original.type.value}; only purchases and grants are refunded"
                )
            refunded = conn.execute(
                text("SELECT COALESCE(-SUM(amount), 0) FROM credit_transaction WHERE refund_of_id = :id"),
                {"id": original_id},
            ).scalar_one()
            refundable = original.amount - int(refunded)
            if amount > refundable:
                raise errors.RefundExceedsOriginal(original_id, amount, refundable)
            return self.post(
                client_id=original.client_id,
                amount=-amount,
                type=TransactionType.REFUND,
                claim=claim,
                envelope=make_envelope(original),
                enforce_floor=True,
                refund_of_id=original_id,
                conn=conn,
                **fields,
            )

    # -- holds ----------------------------------------------------------------------------------

    def reserve(
        self,
        *,
        client_id: str,
        amount: int,
        ttl_seconds: int,
        job_id: str | None,
        claim: IdempotencyClaim,
        envelope: dict[str, Any],
        hold_id: str,
    ) -> Mutation:
        params = {
            "client_id": client_id,
            "amount": amount,
            "ttl_seconds": ttl_seconds,
            "job_id": job_id or None,
            "hold_id": hold_id,
            "idempotency_key": claim.key,
            "operation": claim.operation,
            "request_hash": claim.request_hash,
            "event_id": envelope["id"],
            "routing_key": envelope["type"],
            "envelope": json.dumps(envelope),
        }
        with _ledger_errors(), self._auto.connect() as conn:
            try:
                row = fetch_one(conn, RESERVE_PG, params)
            except pg_errors.UniqueViolation as exc:
                if not _is_idempotency_violation(exc):
                    raise
                return self._replay(conn, claim)
            if row is not None:
                return Mutation(balance=balance_from_row(row, "bal_"), hold=hold_from_row(row))
            replay = self._find_replay(conn, claim)
            if replay is not None:
                return replay
            balance = self._balance(conn, client_id)
            if balance is None:
                raise errors.AccountNotFound(client_id)
            raise errors.InsufficientCredits(client_id, amount, balance.available - balance.floor)

    def settle(
        self,
        *,
        hold_id: str,
        status: HoldStatus,
        captured: int,
        claim: IdempotencyClaim | None,
        envelope: dict[str, Any],
        description: str | None = None,
        generated_asset_id: str | None = None,
        request_id: str | None = None,
    ) -> Mutation:
        """Capture (status captured), release or expire an active hold, exactly once."""
        params = {
            "hold_id": hold_id,
            "status": status.value,
            "captured": captured,
            "transaction_id": new_id("ctx"),
            "require_unexpired": status == HoldStatus.CAPTURED,
            "require_expired": status == HoldStatus.EXPIRED,
            "idempotency_key": claim.key if claim else None,
            "operation": claim.operation if claim else None,
            "request_hash": claim.request_hash if claim else None,
            "description": description or None,
            "generated_asset_id": generated_asset_id or None,
            "request_id": request_id,
            "event_id": envelope["id"],
            "routing_key": envelope["type"],
            "envelope": json.dumps(envelope),
        }
        with _ledger_errors(), self._auto.connect() as conn:
            try:
                row = fetch_one(conn, SETTLE_PG, params)
            except pg_errors.UniqueViolation as exc:
                if claim is None or not _is_idempotency_violation(exc):
                    raise
                return self._replay(conn, claim)
            if row is not None:
                hold = hold_from_row(row)
                tx = self._transaction(conn, hold.transaction_id) if hold.transaction_id else None
                return Mutation(balance=balance_from_row(row, "bal_"), hold=hold, transaction=tx)
            if claim is not None and (replay := self._find_replay(conn, claim)) is not None:
                return replay
            hold_row = conn.execute(text("SELECT * FROM credit_hold WHERE id = :id"), {"id": hold_id}).first()
            if hold_row is None:
                raise errors.HoldNotFound(hold_id)
            hold = hold_from_row(hold_row)
            if hold.status != HoldStatus.ACTIVE:
                raise errors.HoldNotActive(hold_id, hold.status.value)
            if captured > hold.amount:
                raise errors.InvalidArgument(f"capture of {captured} exceeds the hold's {hold.amount}")
            raise errors.HoldNotActive(hold_id, "expired" if status != HoldStatus.EXPIRED else "not yet expired")

    def expired_hold_ids(self, limit: int = 100) -> list[str]:
        with self._auto.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id FROM credit_hold WHERE status = 'active' AND expires_at <= now() "
                    "ORDER BY expires_at LIMIT :limit"
                ),
                {"limit": limit},
            ).all()
        return [row.id for row in rows]

    def purge_idempotency_records(self, *, older_than_days: int) -> int:
        with self._auto.connect() as conn:
            result = conn.execute(
                text("DELETE FROM idempotency_record WHERE created_at < now() - make_interval(days => :d)"),
                {"d": older_than_days},
            )
        return int(result.rowcount or 0)

    # -- replays ----------------------------------------------------------------------------------

    def _replay(self, conn: Connection, claim: IdempotencyClaim) -> Mutation:
        replay = self._find_replay(conn, claim)
        if replay is None:  # the conflicting writer rolled back after all; let the caller retry
            raise errors.IdempotencyConflict(claim.key)
        return replay

    def _find_replay(self, conn: Connection, claim: IdempotencyClaim) -> Mutation | None:
        record = conn.execute(
            text("SELECT operation, request_hash, result_id, client_id FROM idempotency_record WHERE key = :k"),
            {"k": claim.key},
        ).first()
        if record is None:
            return None
        if record.request_hash != claim.request_hash or record.operation != claim.operation:
            raise errors.IdempotencyConflict(claim.key)
        balance = self._balance(conn, record.client_id)
        assert balance is not None
        if record.result_id.startswith("hld_"):
            hold_row = conn.execute(text("SELECT * FROM credit_hold WHERE id = :id"), {"id": record.result_id}).one()
            hold = hold_from_row(hold_row)
            tx = self._transaction(conn, hold.transaction_id) if hold.transaction_id else None
            return Mutation(balance=balance, hold=hold, transaction=tx, replayed=True)
        return Mutation(balance=balance, transaction=self._transaction(conn, record.result_id), replayed=True)

    @staticmethod
    def _transaction(conn: Connection, transaction_id: str) -> Transaction:
        row = conn.execute(text("SELECT * FROM credit_transaction WHERE id = :id"), {"id": transaction_id}).one()
        return transaction_from_row(row)
