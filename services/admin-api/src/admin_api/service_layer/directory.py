"""The directory's shared rules: clients, app users, memberships and invitations.

Everything here runs inside the caller's transaction. Lookups answer 404 for an unknown, deleted
or malformed id alike (a malformed id can't exist, so it is not found rather than a 500); the
membership rules (one live owner at least, one pending invitation per address) are checked under
a lock of the client's row, so two admins demoting the last two owners at once can't both win.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from admin_api.adapters.tables import app_user, client, invitation, membership
from scenergy.common.http import ApiError
from scenergy.common.ids import is_id
from scenergy.common.pagination import InvalidPage, decode_cursor, encode_cursor

INVITE_TTL = timedelta(days=7)
ACTIVE_WINDOW = timedelta(days=7)  # a client with activity this recent is "active"
ENRICH_DEADLINE_S = 2.0  # balances and activity decorate a page: a slow service must not hold it up
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # sorts a client never active after every active one
SLUG_MAX = 63
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
Row = sa.Row[Any]


# --- small conversions -----------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def now() -> datetime:
    return datetime.now(UTC)


def client_status(last_active_at: datetime | None, at: datetime) -> str:
    return "active" if last_active_at is not None and last_active_at >= at - ACTIVE_WINDOW else "inactive"


_WORD = re.compile(r"[a-z0-9]+")


def search_query(text: str) -> str | None:
    """The tsquery of a search: every word of `text` as the start of a word ("acm furn" finds "Acme
    Furniture"). Only [a-z0-9] reaches to_tsquery, so no input can be tsquery syntax; None for text
    without any word (it matches nothing)."""
    words = _WORD.findall(text.lower())[:8]
    return " & ".join(f"{w}:*" for w in words) if words else None


def tsquery_matches(search: sa.ColumnElement[Any], query: str | sa.BindParameter[str]) -> sa.ColumnElement[bool]:
    """`search` (an indexed tsvector) matches `query`, a value of search_query()."""
    return search.bool_op("@@")(sa.func.to_tsquery("simple", query))


def search_matches(search: sa.ColumnElement[Any], text: str) -> sa.ColumnElement[bool]:
    """The indexed `search` vector matches every word of `text` (see search_query)."""
    query = search_query(text)
    return sa.false() if query is None else tsquery_matches(search, query)


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-")


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise ValueError("not a valid email address")
    return email


def new_token() -> tuple[str, str]:
    """An invitation token and the SHA-256 that is stored instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- keyset pages ----------------------------------------------------------------------------


def decode_page_cursor(cursor: str, tag: str) -> list[Any] | None:
    """The key values after which the page starts; the cursor names its ordering (`tag`)."""
    try:
        values = decode_cursor(cursor, size=3)
    except InvalidPage as exc:
        raise ApiError(400, "invalid_cursor", str(exc).capitalize() + ".") from None
    if values is None:
        return None
    if values[0] != tag or not all(isinstance(v, str) for v in values[1:]):
        raise ApiError(400, "invalid_cursor", "The cursor belongs to another list or ordering.")
    return values[1:]


def after_key(keys: Sequence[ColumnElement[Any]], values: Sequence[Any], *, descending: bool) -> ColumnElement[bool]:
    """Rows strictly after `values` (or bind parameters for them) in the (keys…) order: a row
    comparison an index can serve."""
    row = sa.tuple_(*keys)
    bound = sa.tuple_(
        *[v if isinstance(v, sa.BindParameter) else sa.literal(v, k.type) for k, v in zip(keys, values, strict=True)]
    )
    return row < bound if descending else row > bound


def timestamp_key(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_cursor", "The cursor is not valid.") from None
    if value.tzinfo is None:
        raise ApiError(400, "invalid_cursor", "The cursor is not valid.")
    return value


def next_cursor(tag: str, values: Sequence[Any]) -> str:
    return encode_cursor([tag, *[iso(v) if isinstance(v, datetime) else v for v in values]])


# --- lookups ---------------------------------------------------------------------------------


def client_not_found(client_id: str) -> ApiError:
    return ApiError(404, "client_not_found", f"No client {client_id}.")


def live_client(conn: Connection, client_id: str, *, lock: bool = False) -> Row:
    """The client, not deleted; FOR UPDATE with `lock` (it serializes changes to its members)."""
    if not is_id(client_id, "cli"):
        raise client_not_found(client_id[:100])
    stmt = sa.select(client).where(client.c.id == client_id, client.c.deleted_at.is_(None))
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise client_not_found(client_id)
    return row


def user_not_found(user_id: str) -> ApiError:
    return ApiError(404, "user_not_found", f"No user {user_id}.")


def live_user(conn: Connection, user_id: str, *, lock: bool = False) -> Row:
    if not is_id(user_id, "usr"):
        raise user_not_found(user_id[:100])
    stmt = sa.select(app_user).where(app_user.c.id == user_id, app_user.c.deleted_at.is_(None))
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise user_not_found(user_id)
    return row


def require_invitation_id(invitation_id: str) -> None:
    if not is_id(invitation_id, "inv"):
        raise ApiError(404, "invitation_not_found", f"No invitation {invitation_id[:100]}.")


def slug_in_use(conn: Connection, slug: str, *, excluding: str | None = None) -> bool:
    where = [client.c.slug == slug, client.c.deleted_at.is_(None)]
    if excluding is not None:
        where.append(client.c.id != excluding)
    return conn.execute(sa.select(client.c.id).where(*where).limit(1)).first() is not None


def slug_taken(slug: str) -> ApiError:
    return ApiError(409, "slug_taken", f"Another client uses the slug {slug!r}.", {"slug": slug})


# --- states, as events and answers show them --------------------------------------------------


def client_state(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "slug": row.slug,
        "description": row.description,
        "plan": row.plan,
        "created_at": iso(row.created_at),
    }


def user_state(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "email_verified": row.email_verified,
        "created_at": iso(row.created_at),
    }


def membership_state(row: Row) -> dict[str, Any]:
    return {
        "client_id": row.client_id,
        "user_id": row.user_id,
        "role": row.role,
        "status": row.status,
        "joined_at": iso(row.joined_at),
    }


def invitation_state(row: Row) -> dict[str, Any]:
    """Never the token, nor its hash."""
    return {
        "id": row.id,
        "client_id": row.client_id,
        "email": row.email,
        "role": row.role,
        "expires_at": iso(row.expires_at),
        "sent_count": row.sent_count,
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (previous, new) values of the keys whose value differs."""
    changed = [key for key, value in after.items() if before.get(key) != value]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


# --- members ---------------------------------------------------------------------------------


def membership_row(conn: Connection, client_id: str, user_id: str) -> Row:
    if not is_id(user_id, "usr"):
        raise ApiError(404, "member_not_found", f"No member {user_id[:100]} in this client.")
    row = conn.execute(
        sa.select(membership, app_user.c.email)
        .join(app_user, app_user.c.id == membership.c.user_id)
        .where(membership.c.client_id == client_id, membership.c.user_id == user_id, app_user.c.deleted_at.is_(None))
    ).first()
    if row is None:
        raise ApiError(404, "member_not_found", f"No member {user_id} in this client.")
    return row


def ensure_another_active_owner(conn: Connection, client_id: str, user_id: str) -> None:
    """Call with the client's row locked, before a change that ends `user_id`'s active ownership."""
    others = conn.execute(
        sa.select(sa.func.count())
        .select_from(membership.join(app_user, app_user.c.id == membership.c.user_id))
        .where(
            membership.c.client_id == client_id,
            membership.c.user_id != user_id,
            membership.c.role == "owner",
            membership.c.status == "active",
            app_user.c.deleted_at.is_(None),
        )
    ).scalar_one()
    if not others:
        raise ApiError(
            409,
            "last_owner",
            "A client must keep at least one active owner: make another member an owner first.",
            {"client_id": client_id},
        )


def pending_invitation(conn: Connection, client_id: str, email: str) -> Row | None:
    return conn.execute(
        sa.select(invitation).where(
            invitation.c.client_id == client_id,
            invitation.c.email == email,
            invitation.c.accepted_at.is_(None),
            invitation.c.revoked_at.is_(None),
        )
    ).first()


def revoke_pending_invitations(
    conn: Connection, *, email: str | None = None, client_id: str | None = None
) -> list[str]:
    """Revoke the open invitations of an address and/or a client; their ids."""
    assert email is not None or client_id is not None
    where: list[sa.ColumnElement[bool]] = [invitation.c.accepted_at.is_(None), invitation.c.revoked_at.is_(None)]
    if email is not None:
        where.append(invitation.c.email == email)
    if client_id is not None:
        where.append(invitation.c.client_id == client_id)
    revoked = conn.execute(
        invitation.update()
        .where(*where)
        .values(revoked_at=sa.func.now(), updated_at=sa.func.now())
        .returning(invitation.c.id)
    ).scalars()
    return sorted(revoked)
