"""Transactional outbox: events are written with the change, in its transaction, and relayed after.

Producers insert a row into `outbox` in the same database transaction as the business write. The
relay publishes unpublished rows with publisher confirms and marks them sent; delivery is at least
once, and consumers deduplicate on the event id.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import JSONB

from scenergy.common.messaging import Publisher
from scenergy.common.runner import PeriodicTask

log = logging.getLogger(__name__)


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index("ix_outbox_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
    )


INSERT_OUTBOX_SQL = "INSERT INTO outbox (event_id, routing_key, payload) VALUES (:event_id, :routing_key, :payload)"


def outbox_row(envelope: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": envelope["id"], "routing_key": envelope["type"], "payload": envelope}


class OutboxRelay:
    """Moves outbox rows to the broker. Several relays may run: rows are claimed with SKIP LOCKED."""

    def __init__(self, engine: Engine, publisher: Publisher, *, batch_size: int = 100) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch_size = batch_size
        self._metadata = sa.MetaData()
        self._table = outbox_table(self._metadata)

    def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        table = self._table
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(table.c.seq, table.c.routing_key, table.c.payload)
                .where(table.c.published_at.is_(None))
                .order_by(table.c.seq)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            published: list[int] = []
            try:
                for row in rows:
                    self._publisher.publish(row.payload, routing_key=row.routing_key)
                    published.append(row.seq)
            except Exception as exc:
                # Keep what was confirmed; the rest stays unpublished and is retried.
                self._publisher.reset()
                log.warning("outbox publish failed", extra={"error": str(exc), "published": len(published)})
                if rows[len(published) :]:
                    conn.execute(
                        table.update()
                        .where(table.c.seq == rows[len(published)].seq)
                        .values(attempts=table.c.attempts + 1, last_error=str(exc)[:2000])
                    )
            if published:
                conn.execute(table.update().where(table.c.seq.in_(published)).values(published_at=datetime.now(UTC)))
            return len(published)

    def pending(self) -> tuple[int, float]:
        """(unpublished rows, age in seconds of the oldest): the relay's lag."""
        table = self._table
        with self._engine.connect() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.created_at)).where(table.c.published_at.is_(None))
            ).one()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        return int(count), max(age, 0.0)

    def purge_published(self, *, older_than_s: float) -> int:
        table = self._table
        cutoff = datetime.fromtimestamp(time.time() - older_than_s, UTC)
        with self._engine.begin() as conn:
            result = conn.execute(
                table.delete().where(table.c.published_at.is_not(None), table.c.published_at < cutoff)
            )
        return int(result.rowcount or 0)


EVENTS_RELAYED = Counter("outbox_relayed_total", "Events published from the outbox")
OUTBOX_PENDING = Gauge("outbox_pending", "Events written but not yet published")
OUTBOX_AGE = Gauge("outbox_oldest_age_seconds", "Age of the oldest unpublished event")


def relay_tasks(relay: OutboxRelay) -> list[PeriodicTask]:
    """What every service's worker runs for its outbox: the relay loop, and its lag gauges."""

    def relay_batch() -> int:
        count = relay.relay_once()
        EVENTS_RELAYED.inc(count)
        return count

    def measure_lag() -> None:
        pending, age = relay.pending()
        OUTBOX_PENDING.set(pending)
        OUTBOX_AGE.set(age)

    return [
        PeriodicTask("outbox-relay", relay_batch, interval_s=0.2, drain=True),
        PeriodicTask("outbox-lag", measure_lag, interval_s=10.0),
    ]
