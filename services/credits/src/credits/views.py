"""Read side of the ledger: lists, summaries and point-in-time balances, as plain queries."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy import Engine

from credits.adapters.ledger import balance_from_row, transaction_from_row
from credits.adapters.tables import credit_balance, credit_hold, credit_transaction
from credits.domain import errors
from credits.domain.model import Balance, Transaction
from scenergy.common.pagination import InvalidPage, clamp_limit, decode_cursor, encode_cursor

BALANCE_SORTS = {
    "balance": (credit_balance.c.balance, False),
    "-balance": (credit_balance.c.balance, True),
    "last_activity": (credit_balance.c.last_activity_at, False),
    "-last_activity": (credit_balance.c.last_activity_at, True),
}
_EPOCH = "1970-01-01T00:00:00+00:00"


def _balance_cursor_fits(after: list[Any], column: Any) -> bool:
    """A cursor's values have the types its sort compares: a balance or a last activity, then a client id."""
    key, client_id = after
    if not isinstance(client_id, str) or "\x00" in client_id:
        return False
    if column is credit_balance.c.balance:
        return isinstance(key, int) and not isinstance(key, bool)
    if key is None:
        return True
    try:
        return isinstance(key, str) and datetime.fromisoformat(key).tzinfo is not None
    except ValueError:
        return False


LAST_ACTIVITY_KEY = sa.func.coalesce(
    credit_balance.c.last_activity_at, sa.literal_column(f"'{_EPOCH}'::timestamptz", sa.DateTime(timezone=True))
)
# One array parameter: an IN list of bound values would be compiled anew for every length it comes in.
_BALANCES_BY_CLIENT = sa.select(credit_balance).where(
    credit_balance.c.client_id == sa.func.any(sa.bindparam("ids", type_=sa.ARRAY(sa.Text)))
)
SUMMARY_TTL_S = 5.0  # the dashboard's credit figures may be this old; summing every balance per view is not needed


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str
    total: int | None = None


@dataclass(frozen=True)
class Summary:
    in_circulation: int
    used_today: int
    granted_today: int
    purchased_today: int
    active_holds: int
    held: int
    accounts: int


class LedgerViews:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._summary_lock = threading.Lock()
        self._summary: tuple[float, Summary] | None = None

    def get_balances(self, client_ids: list[str]) -> list[Balance]:
        if len(client_ids) > 100:
            raise errors.InvalidArgument("at most 100 client_ids at a time")
        if not client_ids:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(_BALANCES_BY_CLIENT, {"ids": client_ids}).all()
        return [balance_from_row(row) for row in rows]

    def list_balances(
        self, *, client_id_prefix: str = "", sort: str = "", limit: int = 0, cursor: str = "", with_total: bool = False
    ) -> Page[Balance]:
        """Balances sorted by balance or last activity (never-active accounts last), keyset-paginated."""
        try:
            limit = clamp_limit(limit)
            column, descending = BALANCE_SORTS[sort or "-last_activity"]
            after = decode_cursor(cursor, size=2)
        except KeyError:
            raise errors.InvalidArgument(f"sort must be one of {', '.join(BALANCE_SORTS)}") from None
        except InvalidPage as exc:
            raise errors.InvalidArgument(str(exc)) from None
        if len(client_id_prefix) > 100:
            raise errors.InvalidArgument("client_id_prefix must be at most 100 characters")
        if "\x00" in client_id_prefix:
            raise errors.InvalidArgument("client_id_prefix must not contain NUL characters")
        if after is not None and not _balance_cursor_fits(after, column):
            raise errors.InvalidArgument("cursor is not valid")
        # NULL last-activity sorts as the epoch so the keyset comparison stays total. The epoch is
        # written into the SQL (not bound) so that the expression index ix_credit_balance_last_activity matches.
        key = LAST_ACTIVITY_KEY if column is credit_balance.c.last_activity_at else column
        query = sa.select(credit_balance)
        counted = sa.select(sa.func.count()).select_from(credit_balance)
        if client_id_prefix:
            pattern = client_id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(credit_balance.c.client_id.like(pattern))
            counted = counted.where(credit_balance.c.client_id.like(pattern))
        if after is not None:
            last_key, last_client = after
            if column is credit_balance.c.last_activity_at:
                last_key = sa.cast(last_key or _EPOCH, sa.DateTime(timezone=True))
            cmp = sa.tuple_(key, credit_balance.c.client_id)
            query = query.where(
                cmp < sa.tuple_(last_key, last_client) if descending else cmp > sa.tuple_(last_key, last_client)
            )
        order = (
            [key.desc(), credit_balance.c.client_id.desc()]
            if descending
            else [key.asc(), credit_balance.c.client_id.asc()]
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
            total = conn.execute(counted).scalar_one() if with_total else None
        items = [balance_from_row(row) for row in rows[:limit]]
        next_cursor = ""
        if len(rows) > limit:
            last = items[-1]
            last_value = (
                last.balance
                if column is credit_balance.c.balance
                else (last.last_activity_at.isoformat() if last.last_activity_at else None)
            )
            next_cursor = encode_cursor([last_value, last.client_id])
        return Page(items, next_cursor, total)

    def summary(self) -> Summary:
        """Totals over every account and today's movements, computed at most every SUMMARY_TTL_S."""
        with self._summary_lock:
            cached = self._summary
            if cached is not None and time.monotonic() - cached[0] < SUMMARY_TTL_S:
                return cached[1]
            fresh = self._compute_summary()
            self._summary = (time.monotonic(), fresh)
            return fresh

    def _compute_summary(self) -> Summary:
        today = sa.func.date_trunc("day", sa.func.now(), "UTC")
        t = credit_transaction
        with self._engine.connect() as conn:
            circulation, held, accounts = conn.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(credit_balance.c.balance), 0),
                    sa.func.coalesce(sa.func.sum(credit_balance.c.held), 0),
                    sa.func.count(),
                )
            ).one()
            used, granted, purchased = conn.execute(
                sa.select(
                    sa.func.coalesce(-sa.func.sum(t.c.amount).filter(t.c.type == "usage"), 0),
                    sa.func.coalesce(sa.func.sum(t.c.amount).filter(t.c.type == "grant"), 0),
                    sa.func.coalesce(sa.func.sum(t.c.amount).filter(t.c.type == "purchase"), 0),
                ).where(t.c.created_at >= today)
            ).one()
            active_holds = conn.execute(
                sa.select(sa.func.count()).select_from(credit_hold).where(credit_hold.c.status == "active")
            ).scalar_one()
        return Summary(
            int(circulation), int(used), int(granted), int(purchased), int(active_holds), int(held), int(accounts)
        )

    def active_holds(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(credit_hold).where(credit_hold.c.status == "active")
                ).scalar_one()
            )

    def list_transactions(
        self,
        *,
        client_id: str = "",
        types: tuple[str, ...] = (),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        admin_user_id: str = "",
        limit: int = 0,
        cursor: str = "",
    ) -> Page[Transaction]:
        """Newest first, keyset on (created_at, id) so pages stay stable while new rows arrive."""
        t = credit_transaction
        try:
            limit = clamp_limit(limit)
            after = decode_cursor(cursor, size=2)
        except InvalidPage as exc:
            raise errors.InvalidArgument(str(exc)) from None
        unknown = set(types) - {"purchase", "grant", "usage", "refund", "adjustment"}
        if unknown:
            raise errors.InvalidArgument(f"unknown transaction type(s): {', '.join(sorted(unknown))}")
        if created_from and created_to and created_from >= created_to:
            raise errors.InvalidArgument("created_from must be before created_to")
        query = sa.select(t)
        if client_id:
            query = query.where(t.c.client_id == client_id)
        if types:
            query = query.where(t.c.type.in_(types))
        if created_from:
            query = query.where(t.c.created_at >= created_from)
        if created_to:
            query = query.where(t.c.created_at < created_to)
        if admin_user_id:
            query = query.where(t.c.admin_user_id == admin_user_id)
        if after is not None:
            try:
                last_at = datetime.fromisoformat(after[0])
            except (TypeError, ValueError):
                raise errors.InvalidArgument("cursor is not valid") from None
            query = query.where(sa.tuple_(t.c.created_at, t.c.id) < sa.tuple_(last_at, str(after[1])))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit + 1)).all()
        items = [transaction_from_row(row) for row in rows[:limit]]
        next_cursor = encode_cursor([items[-1].created_at.isoformat(), items[-1].id]) if len(rows) > limit else ""
        return Page(items, next_cursor)

    def balance_at(self, client_id: str, at: datetime) -> tuple[int, int]:
        """(balance, version) as of `at`: the newest transaction at or before it."""
        t = credit_transaction
        with self._engine.connect() as conn:
            exists = conn.execute(
                sa.select(credit_balance.c.client_id).where(credit_balance.c.client_id == client_id)
            ).first()
            if exists is None:
                raise errors.AccountNotFound(client_id)
            row = conn.execute(
                sa.select(t.c.balance_after, t.c.version)
                .where(t.c.client_id == client_id, t.c.created_at <= at)
                .order_by(t.c.version.desc())
                .limit(1)
            ).first()
        return (int(row.balance_after), int(row.version)) if row else (0, 0)
