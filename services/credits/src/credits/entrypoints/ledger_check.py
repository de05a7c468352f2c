"""Check every ledger invariant from the command line: `credits-ledger-check [CLIENT_ID]`.

Exits 0 when the ledger is sound, 1 with one line per violation otherwise.
"""

from __future__ import annotations

import os
import sys

from credits.service_layer.ledger_check import check_ledger
from scenergy.common.config import require
from scenergy.common.db import make_engine


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    engine = make_engine(
        require(os.environ, "DATABASE_URL"), application_name="credits-ledger-check", statement_timeout_ms=600_000
    )
    report = check_ledger(engine, args[0] if args else None)
    print(f"checked {report.accounts_checked} accounts, {report.transactions_checked} transactions")
    for v in report.violations:
        print(f"VIOLATION {v.rule} client={v.client_id}: {v.detail}")
    print("ledger OK" if report.ok else f"{len(report.violations)} violation(s)")
    engine.dispose()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
