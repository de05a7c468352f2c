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

import psycopg
import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from psycopg import sql
from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url

from scenergy.common.db import sqlalchemy_url
from scenergy.common.messaging import Publisher, PublishFailed
from scenergy.common.runner import PeriodicTask

log = logging.getLogger(__name__)


def outbox_table(metadata: sa.MetaData, name: str = "outbox") -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index(f"ix_{name}_unpublished", "seq", postgresql_where=sa.text("published_at IS NULL")),
    )


INSERT_OUTBOX_SQL = "INSERT INTO outbox (event_id, routing_key, payload) VALUES (:event_id, :routing_key, :payload)"


def outbox_row(envelope: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": envelope["id"], "routing_key": envelope["type"], "payload": envelope}


class OutboxRelay:
    """Moves outbox rows to the broker. Several relays may run: rows are claimed with SKIP LOCKED."""

    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        *,
        batch_size: int = 100,
        table: str = "outbox",
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._batch_size = batch_size
        self._metadata = sa.MetaData()
        self._table = outbox_table(self._metadata, table)  # rows go to the publisher's exchange

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
            try:
                # In order, with one wait for the broker's confirms of the whole batch.
                confirmed = self._publisher.publish_many([(row.payload, row.routing_key) for row in rows])
            except PublishFailed as exc:
                # Keep what was confirmed; the rest stays unpublished and is retried.
                confirmed = exc.confirmed
                log.warning("outbox publish failed", extra={"error": str(exc), "published": confirmed})
                conn.execute(
                    table.update()
                    .where(table.c.seq == rows[confirmed].seq)
                    .values(attempts=table.c.attempts + 1, last_error=str(exc)[:2000])
                )
            published = [row.seq for row in rows[:confirmed]]
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


# Labelled by outbox: a service may have several (generation has its events and its job queue).
EVENTS_RELAYED = Counter("outbox_relayed_total", "Messages published from the outbox", ["outbox"])
OUTBOX_PENDING = Gauge("outbox_pending", "Messages written but not yet published", ["outbox"])
OUTBOX_AGE = Gauge("outbox_oldest_age_seconds", "Age of the oldest unpublished message", ["outbox"])


class NotifyWaiter:
    """Waits for `NOTIFY <channel>` from writers, so a relay publishes at once instead of at its next poll.

    Writers that need low latency (the job queue) run `SELECT pg_notify('<channel>', '')` in the
    transaction of their outbox insert; PostgreSQL delivers it at commit. A lost connection only
    costs latency: the relay still polls.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._url = make_url(sqlalchemy_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)
        self._channel = channel
        self._conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout_s: float) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.Error:
            self.close()
            time.sleep(timeout_s)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def relay_tasks(
    relay: OutboxRelay, *, name: str = "outbox", waiter: NotifyWaiter | None = None, interval_s: float = 0.2
) -> list[PeriodicTask]:
    """What every service's worker runs for an outbox: the relay loop, and its lag gauges.

    With a `waiter`, an idle relay sleeps on LISTEN/NOTIFY (up to `interval_s`) instead of a plain timer.
    """

    def relay_batch() -> int:
        count = relay.relay_once()
        EVENTS_RELAYED.labels(name).inc(count)
        if not count and waiter is not None:
            waiter.wait(interval_s)
        return count

    def measure_lag() -> None:
        pending, age = relay.pending()
        OUTBOX_PENDING.labels(name).set(pending)
        OUTBOX_AGE.labels(name).set(age)

    return [
        # With a waiter the wait happens inside relay_batch, so the runner loops at once.
        PeriodicTask(f"{name}-relay", relay_batch, interval_s=0.0 if waiter else interval_s, drain=True),
        PeriodicTask(f"{name}-lag", measure_lag, interval_s=10.0),
    ]
