"""App users across clients: the list, a user's detail (UserAdminView), update and soft delete."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from flask import Blueprint
from pydantic import Field
from spectree import Response as Responses

from admin_api.adapters.tables import TS, app_user, client, membership
from admin_api.api.spec import READ_ERRORS, WRITE_ERRORS, NoNulls, Out, Page, body_of, query_of, spec
from admin_api.service_layer import directory, events
from admin_api.service_layer.directory import iso
from admin_api.web import container
from scenergy.common.pagination import clamp_limit

bp = Blueprint("users", __name__, url_prefix="/api/admin/users")


class UserListQuery(Page):
    q: str = Field("", max_length=200)
    include_total: bool = False


class UserItem(Out):
    id: str
    email: str
    name: str
    client_count: int  # live clients the user belongs to, in any membership status
    last_active_at: str | None
    created_at: str


class UserList(Out):
    items: list[UserItem]
    next_cursor: str | None
    total: int | None = None


class MembershipOut(Out):
    client_id: str
    client_name: str
    role: str
    status: str
    joined_at: str | None


class UserDetail(Out):
    """Seed 001's UserAdminView. No total_generations: generations aren't recorded per user."""

    id: str
    email: str
    name: str
    image: str | None
    email_verified: bool
    created_at: str
    updated_at: str
    memberships: list[MembershipOut]
    last_active_at: str | None


class UserPatch(NoNulls):
    name: str | None = Field(None, max_length=200)
    email_verified: bool | None = None


class Deleted(Out):
    id: str
    deleted_at: str
    memberships_removed: int
    invitations_revoked: int


def _detail(conn: sa.Connection, row: directory.Row) -> UserDetail:
    memberships = conn.execute(
        sa.select(membership, client.c.name.label("client_name"))
        .join(client, client.c.id == membership.c.client_id)
        .where(membership.c.user_id == row.id, client.c.deleted_at.is_(None))
        .order_by(sa.func.lower(client.c.name), client.c.id)
    ).all()
    return UserDetail(
        id=row.id,
        email=row.email,
        name=row.name,
        image=row.image,
        email_verified=row.email_verified,
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
        memberships=[
            MembershipOut(
                client_id=m.client_id,
                client_name=m.client_name,
                role=m.role,
                status=m.status,
                joined_at=iso(m.joined_at),
            )
            for m in memberships
        ],
        last_active_at=iso(row.last_active_at),
    )


@functools.lru_cache(maxsize=16)
def _list_statements(*, searching: bool, paging: bool) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The users page's statement and its count, built once per shape of query (values bound at
    execution), as the clients list does."""
    filters: list[sa.ColumnElement[bool]] = [app_user.c.deleted_at.is_(None)]
    if searching:
        filters.append(directory.tsquery_matches(app_user.c.search, sa.bindparam("tsquery", type_=sa.Text)))
    keys = [app_user.c.created_at, app_user.c.id]
    after = [sa.bindparam("after_created_at", type_=TS), sa.bindparam("after_id", type_=sa.Text)]
    keyset = [directory.after_key(keys, after, descending=True)] if paging else []
    page = (
        sa.select(app_user.c.id, app_user.c.email, app_user.c.name, app_user.c.last_active_at, app_user.c.created_at)
        .where(*filters, *keyset)
        .order_by(app_user.c.created_at.desc(), app_user.c.id.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .subquery("page")
    )
    client_count = (
        sa.select(sa.func.count())
        .select_from(membership.join(client, client.c.id == membership.c.client_id))
        .where(membership.c.user_id == page.c.id, client.c.deleted_at.is_(None))
        .scalar_subquery()
    )
    stmt = sa.select(page, client_count.label("client_count")).order_by(page.c.created_at.desc(), page.c.id.desc())
    return stmt, sa.select(sa.func.count()).select_from(app_user).where(*filters)


@bp.get("")
@spec.validate(query=UserListQuery, resp=Responses(HTTP_200=UserList, **READ_ERRORS))
def list_users() -> UserList:
    """Every user, newest first; search `q` in the email and the name."""
    query = query_of(UserListQuery)
    limit = clamp_limit(query.limit)
    after = directory.decode_page_cursor(query.cursor, "users")
    tsquery = directory.search_query(query.q) if query.q else None
    if query.q and tsquery is None:  # no word to search for: nothing matches
        return UserList(items=[], next_cursor=None, total=0 if query.include_total else None)
    params: dict[str, Any] = {"limit": limit + 1, "tsquery": tsquery}
    if after is not None:
        params["after_created_at"], params["after_id"] = directory.timestamp_key(after[0]), after[1]
    stmt, count = _list_statements(searching=tsquery is not None, paging=after is not None)
    with container().engine.connect() as conn:
        rows = conn.execute(stmt, params).all()
        total = conn.execute(count, params).scalar_one() if query.include_total else None
    more = len(rows) > limit
    rows = rows[:limit]
    return UserList(
        items=[  # rows unpacked as tuples, in _list_statements' column order (see the clients list)
            UserItem(
                id=user_id,
                email=email,
                name=name,
                client_count=client_count,
                last_active_at=iso(last_active_at),
                created_at=created_at.isoformat(),
            )
            for user_id, email, name, last_active_at, created_at, client_count in rows
        ],
        next_cursor=directory.next_cursor("users", [rows[-1].created_at, rows[-1].id]) if more else None,
        total=total,
    )


@bp.get("/<user_id>")
@spec.validate(resp=Responses(HTTP_200=UserDetail, **READ_ERRORS))
def get_user(user_id: str) -> UserDetail:
    """The user with their memberships in live clients."""
    with container().engine.connect() as conn:
        return _detail(conn, directory.live_user(conn, user_id))


@bp.patch("/<user_id>")
@spec.validate(json=UserPatch, resp=Responses(HTTP_200=UserDetail, **WRITE_ERRORS))
def update_user(user_id: str) -> UserDetail:
    """Change the name or the email-verified flag."""
    body = body_of(UserPatch)
    with container().engine.begin() as conn:
        row = directory.live_user(conn, user_id, lock=True)
        previous, new = directory.changes(directory.user_state(row), body.model_dump(exclude_unset=True))
        if new:
            row = conn.execute(
                app_user.update()
                .where(app_user.c.id == row.id)
                .values(**new, updated_at=sa.func.now())
                .returning(app_user)
            ).one()
            events.record(conn, "user.update", row.id, previous=previous, new=new)
        return _detail(conn, row)


@bp.delete("/<user_id>")
@spec.validate(resp=Responses(HTTP_200=Deleted, **WRITE_ERRORS))
def delete_user(user_id: str) -> Deleted:
    """Soft delete: the memberships are removed and open invitations revoked (all in the event's
    previous state). Refused (409 last_owner) while the user is a live client's only active owner."""
    with container().engine.begin() as conn:
        # Locks in the member routes' order: the user's clients first (by id), then the user.
        directory.live_user(conn, user_id)
        conn.execute(
            sa.select(client.c.id)
            .where(client.c.id.in_(sa.select(membership.c.client_id).where(membership.c.user_id == user_id)))
            .order_by(client.c.id)
            .with_for_update()
        ).all()
        row = directory.live_user(conn, user_id, lock=True)
        owned = (
            conn.execute(
                sa.select(client.c.id)
                .join(membership, membership.c.client_id == client.c.id)
                .where(
                    membership.c.user_id == row.id,
                    membership.c.role == "owner",
                    membership.c.status == "active",
                    client.c.deleted_at.is_(None),
                )
                .order_by(client.c.id)
            )
            .scalars()
            .all()
        )
        for client_id in owned:
            directory.ensure_another_active_owner(conn, client_id, row.id)
        removed = conn.execute(membership.delete().where(membership.c.user_id == row.id).returning(membership)).all()
        revoked = directory.revoke_pending_invitations(conn, email=row.email)
        deleted_at = conn.execute(
            app_user.update()
            .where(app_user.c.id == row.id)
            .values(deleted_at=sa.func.now(), updated_at=sa.func.now())
            .returning(app_user.c.deleted_at)
        ).scalar_one()
        previous: dict[str, Any] = {
            **directory.user_state(row),
            "memberships": [directory.membership_state(m) for m in sorted(removed, key=lambda m: m.client_id)],
        }
        events.record(
            conn,
            "user.delete",
            row.id,
            previous=previous,
            new={"deleted_at": iso(deleted_at)},
            invitations_revoked=revoked,
        )
    return Deleted(
        id=row.id, deleted_at=deleted_at.isoformat(), memberships_removed=len(removed), invitations_revoked=len(revoked)
    )
