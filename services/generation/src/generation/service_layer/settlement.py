"""Settling a job's credit hold after its final commit: capture on completion, release otherwise.

The final commit marks the job `capture_pending` or `release_pending`; the call to credits comes
after it, keyed by the job, and a sweeper repeats it for jobs a dead worker left unsettled. So a
client is charged once per completed job, and never for a cancelled or failed one.
"""

from __future__ import annotations

import contextlib
import logging

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy import Engine

from generation.adapters.credits import Credits, HoldGone
from generation.adapters.tables import generation_job

log = logging.getLogger(__name__)

SETTLED = Counter("generation_holds_settled_total", "Credit holds settled after a job ended", ["outcome"])
SETTLE_FAILURES = Counter("generation_settlement_failures_total", "Settlements that failed and will be retried")


def capture_key(job_id: str) -> str:
    return f"capture-{job_id}"


def release_key(job_id: str) -> str:
    return f"release-{job_id}"


class Settler:
    def __init__(self, engine: Engine, credits: Credits) -> None:
        self._engine = engine
        self._credits = credits

    def settle(self, job_id: str) -> str | None:
        """Settle the job's hold if it is pending; returns the new settlement, or None if nothing to do."""
        j = generation_job.c
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(j.id, j.hold_id, j.settlement, j.credits_reserved, j.asset_id).where(j.id == job_id)
            ).first()
        if row is None or row.settlement not in ("capture_pending", "release_pending") or not row.hold_id:
            return None
        try:
            if row.settlement == "capture_pending":
                self._credits.capture(
                    hold_id=row.hold_id,
                    amount=row.credits_reserved,
                    asset_id=row.asset_id or "",
                    key=capture_key(job_id),
                )
                outcome, charged = "captured", row.credits_reserved
            else:
                # An expired hold was voided by credits itself: nothing is held any more.
                with contextlib.suppress(HoldGone):
                    self._credits.release(hold_id=row.hold_id, key=release_key(job_id))
                outcome, charged = "released", 0
        except Exception as exc:
            SETTLE_FAILURES.inc()
            log.warning("hold settlement failed; the sweeper retries", extra={"job_id": job_id, "error": str(exc)})
            with self._engine.begin() as conn:
                conn.execute(
                    generation_job.update()
                    .where(j.id == job_id, j.settlement == row.settlement)
                    .values(settlement_error=str(exc)[:1000], updated_at=sa.func.now())
                )
            return None
        with self._engine.begin() as conn:
            conn.execute(
                generation_job.update()
                .where(j.id == job_id, j.settlement == row.settlement)
                .values(settlement=outcome, credits_charged=charged, settlement_error=None, updated_at=sa.func.now())
            )
        SETTLED.labels(outcome).inc()
        return outcome

    def sweep(self, *, older_than_s: float, limit: int = 100) -> int:
        """Settle what workers or cancels left pending for more than `older_than_s` (they died, or credits was down)."""
        j = generation_job.c
        with self._engine.connect() as conn:
            ids = conn.execute(
                sa.select(j.id)
                .where(
                    j.settlement.in_(("capture_pending", "release_pending")),
                    j.updated_at < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_s),
                )
                .order_by(j.updated_at)
                .limit(limit)
            ).scalars()
            pending = list(ids)
        return sum(1 for job_id in pending if self.settle(job_id) is not None)
