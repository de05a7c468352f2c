"""The ledger check: verifies every invariant of the ledger and reports each violation.

Rules (docs/credits.md): balance = sum of amounts = balance_after of the newest transaction;
versions are 1..n with no gap; each balance_after follows from the previous one; held = sum of
active holds; a debit never took a balance below the floor unless it was an adjustment allowed to;
refunds never exceed what they reverse; settled holds are consistent; expired holds get voided;
the append-only guard is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, text

_SCOPE = "(CAST(:client_id AS text) IS NULL OR {col} = CAST(:client_id AS text))"

CHECKS: dict[str, str] = {
    "balance_equals_sum_of_amounts": f"""
        SELECT b.client_id, format('balance %s, sum of amounts %s', b.balance, COALESCE(s.total, 0))
          FROM credit_balance b
          LEFT JOIN (SELECT client_id, SUM(amount) AS total FROM credit_transaction GROUP BY client_id) s
            ON s.client_id = b.client_id
         WHERE b.balance <> COALESCE(s.total, 0) AND {_SCOPE.format(col="b.client_id")}""",
    "balance_equals_newest_balance_after": f"""
        SELECT b.client_id, format('balance %s v%s, newest transaction %s v%s', b.balance, b.version,
                                   t.balance_after, t.version)
          FROM credit_balance b
          JOIN LATERAL (SELECT balance_after, version FROM credit_transaction
                         WHERE client_id = b.client_id ORDER BY version DESC LIMIT 1) t ON true
         WHERE (b.balance <> t.balance_after OR b.version <> t.version) AND {_SCOPE.format(col="b.client_id")}""",
    "versions_gapless": f"""
        SELECT b.client_id, format('version %s, %s transactions, versions %s..%s', b.version, COALESCE(s.n, 0),
                                   s.lo, s.hi)
          FROM credit_balance b
          LEFT JOIN (SELECT client_id, COUNT(*) AS n, MIN(version) AS lo, MAX(version) AS hi
                       FROM credit_transaction GROUP BY client_id) s ON s.client_id = b.client_id
         WHERE (b.version <> COALESCE(s.n, 0) OR COALESCE(s.lo, 1) <> 1 OR COALESCE(s.hi, 0) <> COALESCE(s.n, 0))
           AND {_SCOPE.format(col="b.client_id")}""",
    "balance_after_chain": f"""
        SELECT client_id, format('transaction %s: balance_after %s, expected %s', id, balance_after, expected)
          FROM (SELECT client_id, id, balance_after,
                       SUM(amount) OVER (PARTITION BY client_id ORDER BY version) AS expected
                  FROM credit_transaction WHERE {_SCOPE.format(col="client_id")}) c
         WHERE balance_after <> expected""",
    "held_equals_active_holds": f"""
        SELECT b.client_id, format('held %s, active holds %s', b.held, COALESCE(h.total, 0))
          FROM credit_balance b
          LEFT JOIN (SELECT client_id, SUM(amount) AS total FROM credit_hold WHERE status = 'active'
                      GROUP BY client_id) h ON h.client_id = b.client_id
         WHERE b.held <> COALESCE(h.total, 0) AND {_SCOPE.format(col="b.client_id")}""",
    "floor_respected": f"""
        SELECT t.client_id, format('transaction %s (%s %s) left balance %s below the floor %s',
                                   t.id, t.type, t.amount, t.balance_after, -b.credit_limit)
          FROM credit_transaction t JOIN credit_balance b ON b.client_id = t.client_id
         WHERE t.amount < 0 AND t.balance_after < -b.credit_limit
           AND NOT (t.type = 'adjustment' AND t.metadata @> '{{"allow_negative": true}}')
           AND NOT (t.type = 'usage' AND t.hold_id IS NOT NULL)
           AND {_SCOPE.format(col="t.client_id")}""",
    "refunds_within_original": f"""
        SELECT o.client_id, format('refunds of %s total %s, more than its %s', o.id, -SUM(r.amount), o.amount)
          FROM credit_transaction r JOIN credit_transaction o ON o.id = r.refund_of_id
         WHERE {_SCOPE.format(col="o.client_id")}
         GROUP BY o.client_id, o.id, o.amount
        HAVING -SUM(r.amount) > o.amount""",
    "refunds_reverse_purchases_or_grants": f"""
        SELECT r.client_id, format('refund %s reverses %s, a %s', r.id, o.id, o.type)
          FROM credit_transaction r JOIN credit_transaction o ON o.id = r.refund_of_id
         WHERE (o.type NOT IN ('purchase', 'grant') OR o.client_id <> r.client_id)
           AND {_SCOPE.format(col="r.client_id")}""",
    "settled_holds_consistent": f"""
        SELECT h.client_id, format('hold %s is %s with captured %s and transaction %s', h.id, h.status,
                                   h.captured_amount, h.transaction_id)
          FROM credit_hold h LEFT JOIN credit_transaction t ON t.id = h.transaction_id
         WHERE ((h.status = 'active') <> (h.settled_at IS NULL)
            OR (h.status = 'captured' AND h.captured_amount > 0 AND (t.id IS NULL OR t.amount <> -h.captured_amount))
            OR (h.status IN ('released', 'expired') AND h.transaction_id IS NOT NULL))
           AND {_SCOPE.format(col="h.client_id")}""",
    "expired_holds_voided": f"""
        SELECT client_id, format('hold %s expired at %s and is still active', id, expires_at)
          FROM credit_hold
         WHERE status = 'active' AND expires_at < now() - interval '60 seconds'
           AND {_SCOPE.format(col="client_id")}""",
    "available_not_below_floor": f"""
        SELECT b.client_id, format('balance %s - held %s is below the floor %s', b.balance, b.held, -b.credit_limit)
          FROM credit_balance b
         WHERE b.balance - b.held < -b.credit_limit
           AND NOT EXISTS (SELECT 1 FROM credit_transaction t WHERE t.client_id = b.client_id
                             AND t.type = 'adjustment' AND t.metadata @> '{{"allow_negative": true}}')
           AND {_SCOPE.format(col="b.client_id")}""",
}

APPEND_ONLY_GUARD = """
    SELECT COUNT(*) FROM pg_trigger
     WHERE tgrelid = 'credit_transaction'::regclass AND NOT tgisinternal AND tgenabled <> 'D'
       AND tgname IN ('credit_transaction_no_update_delete', 'credit_transaction_no_truncate')"""


@dataclass(frozen=True)
class Violation:
    client_id: str
    rule: str
    detail: str


@dataclass
class LedgerReport:
    accounts_checked: int = 0
    transactions_checked: int = 0
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_ledger(engine: Engine, client_id: str | None = None, *, max_per_rule: int = 100) -> LedgerReport:
    """Run every check in one REPEATABLE READ snapshot, so concurrent writes can't cause false alarms."""
    report = LedgerReport()
    params = {"client_id": client_id or None}
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        report.accounts_checked = conn.execute(
            text(f"SELECT COUNT(*) FROM credit_balance WHERE {_SCOPE.format(col='client_id')}"), params
        ).scalar_one()
        report.transactions_checked = conn.execute(
            text(f"SELECT COUNT(*) FROM credit_transaction WHERE {_SCOPE.format(col='client_id')}"), params
        ).scalar_one()
        for rule, sql in CHECKS.items():
            rows = conn.execute(text(sql + f" LIMIT {max_per_rule}"), params).all()
            report.violations += [Violation(row[0], rule, row[1]) for row in rows]
        if conn.execute(text(APPEND_ONLY_GUARD)).scalar_one() != 2:
            report.violations.append(
                Violation("", "append_only_guard", "the append-only triggers are missing or disabled")
            )
    return report
