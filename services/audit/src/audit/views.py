"""Reads of the audit log: filtered keyset pages, one entry, recent activity, and export streams.

Pages go newest first by chain position (`seq`). New entries always get a higher position, so a
cursor (the last position seen) stays valid while entries arrive: no duplicates, no gaps.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from audit.adapters.store import ENTRY_COLUMNS, row_to_entry
from audit.adapters.tables import audit_log
from audit.domain.errors import EntryNotFound, InvalidArgument
from audit.domain.model import AuditEntry
from scenergy.common.pagination import InvalidPage, clamp_limit, decode_cursor, encode_cursor

_ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_WORD_RE = re.compile(r"[a-z0-9]+")
MAX_TEXT = 200
RECENT_DEFAULT, RECENT_MAX = 10, 50
_LEFT_OUT_OF_SUMMARIES = ("previous_state", "new_state", "metadata")
SUMMARY_COLUMNS = [
    sa.null().label(column.name) if column.name in _LEFT_OUT_OF_SUMMARIES else column for column in ENTRY_COLUMNS
]


@dataclass(frozen=True)
class EntryFilter:
    actor_id: str = ""
    actor_type: str = ""
    action: str = ""  # `credit.grant`, or `credit` for every credit action
    entity_type: str = ""
    entity_id: str = ""
    occurred_from: datetime | None = None  # inclusive
    occurred_to: datetime | None = None  # exclusive
    outcome: str = ""
    query: str = ""  # words searched (as prefixes) in the action and the description

    def validate(self) -> EntryFilter:
        for name in ("actor_id", "entity_id", "query"):
            if len(getattr(self, name)) > MAX_TEXT:
                raise InvalidArgument(f"{name} must be at most {MAX_TEXT} characters")
        if self.action and not _ACTION_RE.fullmatch(self.action):
            raise InvalidArgument("action must look like entity.verb (e.g. credit.grant) or entity")
        for name in ("entity_type", "actor_type"):
            if getattr(self, name) and not _NAME_RE.fullmatch(getattr(self, name)):
                raise InvalidArgument(f"{name} must be a lower-case name")
        if self.outcome not in ("", "success", "failure"):
            raise InvalidArgument("outcome must be success or failure")
        if self.occurred_from and self.occurred_to and self.occurred_from >= self.occurred_to:
            raise InvalidArgument("occurred_from must be before occurred_to")
        return self

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = audit_log.c
        where: list[sa.ColumnElement[bool]] = []
        if self.actor_id:
            where.append(c.actor_id == self.actor_id)
        if self.actor_type:
            where.append(c.actor_type == self.actor_type)
        if self.action:
            where.append(c.action == self.action if "." in self.action else c.action.startswith(self.action + "."))
        if self.entity_type:
            where.append(c.entity_type == self.entity_type)
        if self.entity_id:
            where.append(c.entity_id == self.entity_id)
        if self.occurred_from:
            where.append(c.occurred_at >= self.occurred_from)
        if self.occurred_to:
            where.append(c.occurred_at < self.occurred_to)
        if self.outcome:
            where.append(c.outcome == self.outcome)
        words = _WORD_RE.findall(self.query.lower())
        if words:
            # Only [a-z0-9] reaches to_tsquery, so no user text can be tsquery syntax.
            where.append(c.search.bool_op("@@")(sa.func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))))
        return where


@dataclass(frozen=True)
class Page:
    items: list[AuditEntry]
    next_cursor: str
    total: int | None


class AuditViews:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_entries(
        self, flt: EntryFilter, *, limit: int = 0, cursor: str = "", with_total: bool = False, summary: bool = False
    ) -> Page:
        """Newest first. By chain position; with a time range, by occurrence time (then position), so
        the `(occurred_at, seq)` index finds a page of an old week without walking the newer entries.

        A summary leaves the states and metadata out (None): a list screen shows none of them."""
        flt.validate()
        by_time = flt.occurred_from is not None or flt.occurred_to is not None
        try:
            size = clamp_limit(limit)
            after = decode_cursor(cursor, size=2 if by_time else 1)
        except InvalidPage as exc:
            raise InvalidArgument(str(exc)) from None
        c = audit_log.c
        where = flt.conditions()
        query = sa.select(*(SUMMARY_COLUMNS if summary else ENTRY_COLUMNS)).where(*where)
        if after is not None:
            query = query.where(self._before(after, by_time))
        order = (c.occurred_at.desc(), c.seq.desc()) if by_time else (c.seq.desc(),)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(*order).limit(size + 1)).all()
            total = None
            if with_total:
                total = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where)).scalar_one()
        items = [row_to_entry(r) for r in rows[:size]]
        next_cursor = ""
        if len(rows) > size:
            last = items[-1]
            next_cursor = encode_cursor([last.occurred_at.isoformat(), last.seq] if by_time else [last.seq])
        return Page(items, next_cursor, total)

    @staticmethod
    def _before(after: list[Any], by_time: bool) -> sa.ColumnElement[bool]:
        c = audit_log.c
        try:
            if by_time:
                at, seq = datetime.fromisoformat(after[0]), after[1]
                if not isinstance(seq, int) or at.tzinfo is None:
                    raise ValueError
                return sa.tuple_(c.occurred_at, c.seq) < sa.tuple_(sa.literal(at), sa.literal(seq))
            if not isinstance(after[0], int):
                raise ValueError
            return c.seq < after[0]
        except (TypeError, ValueError):
            raise InvalidArgument("cursor is not valid") from None

    def get_entry(self, entry_id: str) -> AuditEntry:
        if not entry_id or len(entry_id) > MAX_TEXT:
            raise InvalidArgument("id is required")
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(*ENTRY_COLUMNS).where(audit_log.c.id == entry_id)).first()
        if row is None:
            raise EntryNotFound(f"no audit entry {entry_id}")
        return row_to_entry(row)

    def recent_activity(self, limit: int = 0) -> list[AuditEntry]:
        """The newest admin actions, for the dashboard."""
        size = limit or RECENT_DEFAULT
        if not 1 <= size <= RECENT_MAX:
            raise InvalidArgument(f"limit must be between 1 and {RECENT_MAX}")
        return self.list_entries(EntryFilter(actor_type="admin"), limit=size).items

    def stream(self, flt: EntryFilter, *, until_seq: int | None = None, batch: int = 1000) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first, fetched in keyset batches: memory stays flat."""
        flt.validate()
        where = flt.conditions()
        if until_seq is not None:
            where.append(audit_log.c.seq <= until_seq)
        last = 0
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    sa.select(*ENTRY_COLUMNS)
                    .where(*where, audit_log.c.seq > last)
                    .order_by(audit_log.c.seq)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row_to_entry(row)
            last = rows[-1].seq
