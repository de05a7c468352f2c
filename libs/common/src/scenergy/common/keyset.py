"""Newest-first keyset pages over (a time column, the id), the way every list of the platform pages.

A cursor holds the last row's time and id; the next page is what sorts strictly after it, so a page
stays stable while rows arrive. Bad limits and cursors raise `InvalidPage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from scenergy.common.pagination import InvalidPage, clamp_limit, decode_cursor, encode_cursor


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str
    total: int | None


class TimeKeyset:
    def __init__(self, limit: int, cursor: str) -> None:
        self.size = clamp_limit(limit)
        self._key = decode_cursor(cursor, size=2)
        self._stamp: datetime | None = None
        if self._key is not None:
            try:
                self._stamp = datetime.fromisoformat(str(self._key[0]))
            except ValueError:
                raise InvalidPage("cursor is not valid") from None

    def after(self, stamp_col: Any, id_col: Any) -> list[Any]:
        """The WHERE clauses of the rows after the cursor (none on the first page); order by both, descending."""
        if self._key is None:
            return []
        return [sa.tuple_(stamp_col, id_col) < sa.tuple_(sa.literal(self._stamp), sa.literal(str(self._key[1])))]

    def page(self, rows: Sequence[Any], stamp: str, total: int | None = None) -> Page:
        """`rows` fetched with a limit of `size + 1`: the page, and a cursor when there is more."""
        more = len(rows) > self.size
        rows = rows[: self.size]
        cursor = encode_cursor([getattr(rows[-1], stamp).isoformat(), rows[-1].id]) if more and rows else ""
        return Page(list(rows), cursor, total)
