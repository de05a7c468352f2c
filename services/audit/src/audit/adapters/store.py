"""Appending to the chain, checkpoints and the retention purge, on PostgreSQL.

Every write locks the one `chain_head` row first, so entries are chained, numbered and committed in
one order: a reader never sees entry N+1 before entry N, which keeps keyset pages stable while
entries arrive. Entries go in with COPY (one round trip per batch), and the last entry of each write
carries an Ed25519 seal over its position and hash, so an entry appended behind the service's back,
without the key, is told apart from a genuine one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from audit.adapters.tables import audit_checkpoint, audit_log, chain_head
from audit.domain.chain import ChainSigner, canonical, entry_hash, seal_message
from audit.domain.model import AuditEntry, iso
from scenergy.common.ids import new_id

COPY_COLUMNS = (
    "seq", "id", "occurred_at", "recorded_at", "source", "event_type", "action", "entity_type", "entity_id",
    "actor_type", "actor_id", "actor_role", "impersonator_id", "ip_address", "user_agent", "request_id",
    "outcome", "error_code", "error_message", "description", "previous_state", "new_state", "metadata",
    "redacted_fields", "prev_hash", "hash", "seal",
)  # fmt: skip
COPY_SQL = f"COPY audit_log ({', '.join(COPY_COLUMNS)}) FROM STDIN"
ENTRY_COLUMNS = [audit_log.c[name] for name in COPY_COLUMNS]


@dataclass(frozen=True)
class AppendResult:
    stored: int
    duplicates: int
    last_seq: int


@dataclass(frozen=True)
class Checkpoint:
    id: str
    seq: int
    last_id: str | None
    last_hash: str
    entry_count: int
    reason: str
    created_at: datetime
    key_id: str
    signature: str

    def signed_content(self) -> bytes:
        return canonical(
            {
                "id": self.id,
                "seq": self.seq,
                "last_id": self.last_id,
                "last_hash": self.last_hash,
                "entry_count": self.entry_count,
                "reason": self.reason,
                "created_at": iso(self.created_at),
            }
        )


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def row_to_entry(row: Any) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        seq=m["seq"],
        id=m["id"],
        occurred_at=m["occurred_at"],
        recorded_at=m["recorded_at"],
        source=m["source"],
        event_type=m["event_type"],
        action=m["action"],
        entity_type=m["entity_type"],
        entity_id=m["entity_id"],
        actor_type=m["actor_type"],
        actor_id=m["actor_id"],
        actor_role=m["actor_role"],
        impersonator_id=m["impersonator_id"],
        ip_address=m["ip_address"],
        user_agent=m["user_agent"],
        request_id=m["request_id"],
        outcome=m["outcome"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        description=m["description"],
        previous_state=m["previous_state"],
        new_state=m["new_state"],
        metadata=m["metadata"],
        redacted_fields=tuple(m["redacted_fields"]),
        prev_hash=m["prev_hash"],
        hash=m["hash"],
        seal=m["seal"],
    )


def row_to_checkpoint(row: Any) -> Checkpoint:
    m = row._mapping
    return Checkpoint(**{name: m[name] for name in Checkpoint.__dataclass_fields__})


class AuditStore:
    def __init__(self, engine: Engine, signer: ChainSigner) -> None:
        self.engine = engine
        self.signer = signer

    # -- appending -------------------------------------------------------------------------------

    def append(self, entries: Sequence[AuditEntry]) -> AppendResult:
        """Chain and store the entries not stored yet (by event id), in one transaction."""
        with self.engine.begin() as conn:
            return self.append_in(conn, entries)

    def append_in(self, conn: Connection, entries: Sequence[AuditEntry]) -> AppendResult:
        head_seq, head_hash = self._lock_head(conn)
        ids = list({e.id for e in entries})
        stored_ids = set(conn.execute(sa.select(audit_log.c.id).where(audit_log.c.id.in_(ids))).scalars())
        fresh: list[AuditEntry] = []
        for entry in entries:
            if entry.id not in stored_ids:
                stored_ids.add(entry.id)
                fresh.append(entry)
        if not fresh:
            return AppendResult(0, len(entries), head_seq)
        chained: list[AuditEntry] = []
        seq, prev = head_seq, head_hash
        for entry in fresh:
            seq += 1
            digest = entry_hash(prev, entry.content())
            chained.append(replace(entry, seq=seq, prev_hash=prev, hash=digest))
            prev = digest
        last = chained[-1]
        chained[-1] = replace(last, seal=self.signer.sign(seal_message(last.seq, last.id, last.hash)))
        self._copy(conn, chained)
        conn.execute(chain_head.update().values(seq=seq, hash=prev, updated_at=sa.func.now()))
        return AppendResult(len(fresh), len(entries) - len(fresh), seq)

    @staticmethod
    def _lock_head(conn: Connection) -> tuple[int, str]:
        seq, hash_ = conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash).with_for_update()).one()
        return int(seq), str(hash_)

    @staticmethod
    def _copy(conn: Connection, entries: list[AuditEntry]) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for e in entries:
                copy.write_row(
                    (
                        e.seq, e.id, e.occurred_at, e.recorded_at, e.source, e.event_type, e.action,
                        e.entity_type, e.entity_id, e.actor_type, e.actor_id, e.actor_role, e.impersonator_id,
                        e.ip_address, e.user_agent, e.request_id, e.outcome, e.error_code, e.error_message,
                        e.description, _json(e.previous_state), _json(e.new_state), _json(e.metadata),
                        list(e.redacted_fields), e.prev_hash, e.hash, e.seal,
                    )
                )  # fmt: skip

    # -- reading the chain -----------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            seq, hash_ = conn.execute(sa.select(chain_head.c.seq, chain_head.c.hash)).one()
        return int(seq), str(hash_)

    def iter_chain(self, after_seq: int, *, batch: int = 2000) -> Iterator[AuditEntry]:
        """Every stored entry after `after_seq`, in chain order, a batch at a time (memory stays flat)."""
        last = after_seq
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(*ENTRY_COLUMNS).where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row_to_entry(row)
            last = rows[-1].seq

    def find_by_hash(self, hash_: str) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(audit_log.c.seq, audit_log.c.id).where(audit_log.c.hash == hash_)).first()
        return (int(row.seq), str(row.id)) if row else None

    # -- checkpoints and retention ---------------------------------------------------------------

    def checkpoint(self, reason: str) -> Checkpoint:
        with self.engine.begin() as conn:
            seq, hash_ = self._lock_head(conn)
            return self._write_checkpoint(conn, reason, seq, hash_)

    def _write_checkpoint(self, conn: Connection, reason: str, seq: int, hash_: str) -> Checkpoint:
        last_id = conn.execute(sa.select(audit_log.c.id).where(audit_log.c.seq == seq)).scalar()
        unsigned = Checkpoint(
            id=new_id("chk"),
            seq=seq,
            last_id=last_id,
            last_hash=hash_,
            entry_count=seq,  # the chain is numbered from 1 without gaps: entries ever chained
            reason=reason,
            created_at=datetime.now(UTC),
            key_id=self.signer.key_id,
            signature="",
        )
        checkpoint = replace(unsigned, signature=self.signer.sign(unsigned.signed_content()))
        conn.execute(audit_checkpoint.insert().values(**checkpoint.__dict__))
        return checkpoint

    def latest_checkpoint(self, reason: str | None = None) -> Checkpoint | None:
        query = sa.select(audit_checkpoint).order_by(
            audit_checkpoint.c.seq.desc(), audit_checkpoint.c.created_at.desc()
        )
        if reason:
            query = query.where(audit_checkpoint.c.reason == reason)
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return row_to_checkpoint(row) if row else None

    def checkpoints_after(self, seq: int) -> list[Checkpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(audit_checkpoint).where(audit_checkpoint.c.seq >= seq).order_by(audit_checkpoint.c.seq)
            ).all()
        return [row_to_checkpoint(r) for r in rows]

    def purge_before(
        self, cutoff: datetime, record: Callable[[dict[str, Any]], AuditEntry]
    ) -> tuple[Checkpoint, int] | None:
        """Delete entries recorded before `cutoff`: checkpoint the last of them, purge, and append the
        entry `record(facts)` describing the purge, all in one transaction. None when nothing is old enough."""
        with self.engine.begin() as conn:
            self._lock_head(conn)
            through = conn.execute(
                sa.select(sa.func.max(audit_log.c.seq)).where(audit_log.c.recorded_at < cutoff)
            ).scalar()
            if through is None:
                return None
            through_hash = conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == through)).scalar_one()
            checkpoint = self._write_checkpoint(conn, "purge", int(through), str(through_hash))
            deleted = int(conn.execute(sa.text("SELECT audit_purge(:seq)"), {"seq": through}).scalar_one())
            facts = {"deleted": deleted, "through_seq": int(through), "checkpoint_id": checkpoint.id,
                     "cutoff": iso(cutoff)}  # fmt: skip
            self.append_in(conn, [record(facts)])
        return checkpoint, deleted
