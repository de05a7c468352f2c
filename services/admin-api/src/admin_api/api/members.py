"""A client's members and invitations: list, invite, change role or status, remove; resend, revoke.

An invitation's token is shown once, in the answer that creates (or resends) it; only its SHA-256
is stored, and an Idempotency-Key replay of that answer comes without it. Every change to a
client's members runs under a lock of the client's row, so the "one active owner at least" rule
holds against concurrent admins.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from flask import Blueprint
from pydantic import Field, field_validator
from spectree import Response as Responses
from sqlalchemy.dialects.postgresql import insert as pg_insert

from admin_api.adapters.tables import app_user, invitation, membership
from admin_api.api.spec import READ_ERRORS, WRITE_ERRORS, Model, NoNulls, Out, Page, body_of, query_of, spec
from admin_api.service_layer import directory, events
from admin_api.service_layer.directory import iso
from admin_api.web import container, current_actor, replay_with
from scenergy.common.http import ApiError
from scenergy.common.ids import new_id
from scenergy.common.pagination import clamp_limit

bp = Blueprint("members", __name__, url_prefix="/api/admin/clients")

MemberRole = Literal["owner", "editor", "viewer"]


class MemberQuery(Page):
    status: Literal["active", "invited", "suspended"] | None = None
    role: MemberRole | None = None


class MemberOut(Out):
    user_id: str
    email: str
    name: str
    role: str
    status: str
    joined_at: str | None
    added_at: str  # when the membership (or its invitation) was created
    last_active_at: str | None


class MemberList(Out):
    items: list[MemberOut]
    next_cursor: str | None


class InviteIn(Model):
    email: str = Field(min_length=3, max_length=254)
    role: MemberRole

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return directory.check_email(value)


class InvitationOut(Out):
    id: str
    email: str
    role: str
    status: Literal["pending", "expired"]
    expires_at: str
    sent_count: int
    last_sent_at: str
    invited_by: str
    created_at: str


class InvitationList(Out):
    items: list[InvitationOut]
    next_cursor: str | None


class InviteOut(Out):
    member: MemberOut
    invitation: InvitationOut
    invite_url: str | None  # shown once; null in an Idempotency-Key replay


class ResendOut(Out):
    invitation: InvitationOut
    invite_url: str | None  # shown once; null in an Idempotency-Key replay


class MemberPatch(NoNulls):
    role: MemberRole | None = None
    status: Literal["active", "suspended"] | None = None


class Done(Out):
    ok: bool = True


def _member_stmt() -> sa.Select[tuple[object, ...]]:
    return sa.select(
        membership,
        app_user.c.email,
        app_user.c.name,
        app_user.c.last_active_at,
    ).join(app_user, app_user.c.id == membership.c.user_id)


def member_out(row: directory.Row) -> MemberOut:
    return MemberOut(
        user_id=row.user_id,
        email=row.email,
        name=row.name,
        role=row.role,
        status=row.status,
        joined_at=iso(row.joined_at),
        added_at=row.created_at.isoformat(),
        last_active_at=iso(row.last_active_at),
    )


def invitation_out(row: directory.Row) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,
        status="pending" if row.expires_at > directory.now() else "expired",
        expires_at=row.expires_at.isoformat(),
        sent_count=row.sent_count,
        last_sent_at=row.last_sent_at.isoformat(),
        invited_by=row.invited_by,
        created_at=row.created_at.isoformat(),
    )


def _invite_url(token: str) -> str:
    return f"{container().settings.public_url.rstrip('/')}/invite/{token}"


def _open_invitation(conn: sa.Connection, client_id: str, invitation_id: str) -> directory.Row:
    directory.require_invitation_id(invitation_id)
    row = conn.execute(
        sa.select(invitation)
        .where(invitation.c.id == invitation_id, invitation.c.client_id == client_id)
        .with_for_update()
    ).first()
    if row is None:
        raise ApiError(404, "invitation_not_found", f"No invitation {invitation_id} for this client.")
    if row.accepted_at is not None or row.revoked_at is not None:
        state = "accepted" if row.accepted_at is not None else "revoked"
        raise ApiError(409, "invitation_not_pending", f"The invitation was {state}.", {"state": state})
    return row


@bp.get("/<client_id>/users")
@spec.validate(query=MemberQuery, resp=Responses(HTTP_200=MemberList, **READ_ERRORS))
def list_members(client_id: str) -> MemberList:
    """The client's members in the order they were added; filters: status, role."""
    query = query_of(MemberQuery)
    limit = clamp_limit(query.limit)
    keys = [membership.c.created_at, membership.c.user_id]
    after = directory.decode_page_cursor(query.cursor, "members")
    where = [membership.c.client_id == client_id, app_user.c.deleted_at.is_(None)]
    if after is not None:
        where.append(directory.after_key(keys, [directory.timestamp_key(after[0]), after[1]], descending=False))
    if query.status:
        where.append(membership.c.status == query.status)
    if query.role:
        where.append(membership.c.role == query.role)
    with container().engine.connect() as conn:
        directory.live_client(conn, client_id)
        rows = conn.execute(_member_stmt().where(*where).order_by(*keys).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = directory.next_cursor("members", [rows[-1].created_at, rows[-1].user_id]) if more else None
    return MemberList(items=[member_out(r) for r in rows], next_cursor=cursor)


@bp.post("/<client_id>/users")
@spec.validate(json=InviteIn, resp=Responses(HTTP_201=InviteOut, **WRITE_ERRORS))
def invite(client_id: str) -> tuple[InviteOut, int]:
    """Invite an address (a user is created for a new one): an `invited` membership and a 7-day link."""
    body = body_of(InviteIn)
    token, token_hash = directory.new_token()
    with container().engine.begin() as conn:
        directory.live_client(conn, client_id, lock=True)
        # FOR SHARE: a user being deleted right now is waited for, and then not found.
        live = sa.select(app_user).where(app_user.c.email == body.email, app_user.c.deleted_at.is_(None)).with_for_update(read=True)  # fmt: skip
        user = conn.execute(live).first()
        if user is None:
            user = conn.execute(
                pg_insert(app_user)
                .values(id=new_id("usr"), email=body.email)
                .on_conflict_do_nothing(index_elements=[app_user.c.email], index_where=app_user.c.deleted_at.is_(None))
                .returning(app_user)
            ).first()
            if user is not None:
                events.record(conn, "user.create", user.id, new=directory.user_state(user), client_id=client_id)
            else:  # created meanwhile by another invitation
                user = conn.execute(live).one()
        existing = conn.execute(
            sa.select(membership).where(membership.c.client_id == client_id, membership.c.user_id == user.id)
        ).first()
        if existing is not None and existing.status != "invited":
            raise ApiError(409, "already_member", f"{body.email} is already a member.", {"user_id": user.id})
        pending = directory.pending_invitation(conn, client_id, body.email)
        if pending is not None:
            raise ApiError(
                409,
                "invitation_pending",
                f"{body.email} has a pending invitation: resend it instead.",
                {"invitation_id": pending.id, "user_id": user.id},
            )
        member = conn.execute(
            pg_insert(membership)
            .values(client_id=client_id, user_id=user.id, role=body.role, status="invited")
            .on_conflict_do_update(  # an invited membership whose invitation is gone: invite afresh
                index_elements=[membership.c.client_id, membership.c.user_id],
                set_={"role": body.role, "updated_at": sa.func.now()},
                where=membership.c.status == "invited",
            )
            .returning(membership)
        ).one()
        sent = conn.execute(
            invitation.insert()
            .values(
                id=new_id("inv"),
                client_id=client_id,
                email=body.email,
                role=body.role,
                token_hash=token_hash,
                expires_at=directory.now() + directory.INVITE_TTL,
                invited_by=current_actor().id,
            )
            .returning(invitation)
        ).one()
        events.record(
            conn,
            "user.invite",
            user.id,
            new={
                **directory.membership_state(member),
                "email": user.email,
                "invitation": directory.invitation_state(sent),
            },
            client_id=client_id,
            invitation_id=sent.id,
        )
        row = conn.execute(
            _member_stmt().where(membership.c.client_id == client_id, membership.c.user_id == user.id)
        ).one()
        answer = InviteOut(member=member_out(row), invitation=invitation_out(sent), invite_url=_invite_url(token))
        replay = answer.model_copy(update={"invite_url": None}).model_dump_json().encode()
        replay_with(replay)
    return answer, 201


@bp.patch("/<client_id>/users/<user_id>")
@spec.validate(json=MemberPatch, resp=Responses(HTTP_200=MemberOut, **WRITE_ERRORS))
def update_member(client_id: str, user_id: str) -> MemberOut:
    """Change a member's role or suspend/reactivate them; the last active owner stays one (409)."""
    body = body_of(MemberPatch)
    given = body.model_dump(exclude_unset=True)
    with container().engine.begin() as conn:
        directory.live_client(conn, client_id, lock=True)
        member = directory.membership_row(conn, client_id, user_id)
        if "status" in given and member.status == "invited":
            raise ApiError(
                409,
                "invitation_pending",
                "An invited member becomes active by accepting the invitation; revoke it to cancel.",
            )
        previous, new = directory.changes(directory.membership_state(member), given)
        if new:
            if (
                member.role == "owner"
                and member.status == "active"
                and (new.get("role", "owner") != "owner" or new.get("status", "active") != "active")
            ):
                directory.ensure_another_active_owner(conn, client_id, member.user_id)
            conn.execute(
                membership.update()
                .where(membership.c.client_id == client_id, membership.c.user_id == member.user_id)
                .values(**new, updated_at=sa.func.now())
            )
            if member.status == "invited" and "role" in new:  # the invitation grants the new role
                conn.execute(
                    invitation.update()
                    .where(
                        invitation.c.client_id == client_id,
                        invitation.c.email == member.email,
                        invitation.c.accepted_at.is_(None),
                        invitation.c.revoked_at.is_(None),
                    )
                    .values(role=new["role"], updated_at=sa.func.now())
                )
            events.record(conn, "user.update", member.user_id, previous=previous, new=new, client_id=client_id)
        row = conn.execute(
            _member_stmt().where(membership.c.client_id == client_id, membership.c.user_id == member.user_id)
        ).one()
    return member_out(row)


@bp.delete("/<client_id>/users/<user_id>")
@spec.validate(resp=Responses(HTTP_200=Done, **WRITE_ERRORS))
def remove_member(client_id: str, user_id: str) -> Done:
    """Remove a member (and revoke their pending invitation); the last active owner can't be removed (409)."""
    with container().engine.begin() as conn:
        directory.live_client(conn, client_id, lock=True)
        member = directory.membership_row(conn, client_id, user_id)
        if member.role == "owner" and member.status == "active":
            directory.ensure_another_active_owner(conn, client_id, member.user_id)
        conn.execute(
            membership.delete().where(membership.c.client_id == client_id, membership.c.user_id == member.user_id)
        )
        revoked = directory.revoke_pending_invitations(conn, email=member.email, client_id=client_id)
        events.record(
            conn,
            "user.remove",
            member.user_id,
            previous={**directory.membership_state(member), "email": member.email},
            client_id=client_id,
            invitations_revoked=revoked,
        )
    return Done()


@bp.get("/<client_id>/invitations")
@spec.validate(query=Page, resp=Responses(HTTP_200=InvitationList, **READ_ERRORS))
def list_invitations(client_id: str) -> InvitationList:
    """Invitations neither accepted nor revoked, newest first; expired ones show as `expired` (resend them)."""
    query = query_of(Page)
    limit = clamp_limit(query.limit)
    keys = [invitation.c.created_at, invitation.c.id]
    after = directory.decode_page_cursor(query.cursor, "invitations")
    where = [
        invitation.c.client_id == client_id,
        invitation.c.accepted_at.is_(None),
        invitation.c.revoked_at.is_(None),
    ]
    if after is not None:
        where.append(directory.after_key(keys, [directory.timestamp_key(after[0]), after[1]], descending=True))
    with container().engine.connect() as conn:
        directory.live_client(conn, client_id)
        rows = conn.execute(
            sa.select(invitation)
            .where(*where)
            .order_by(invitation.c.created_at.desc(), invitation.c.id.desc())
            .limit(limit + 1)
        ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = directory.next_cursor("invitations", [rows[-1].created_at, rows[-1].id]) if more else None
    return InvitationList(items=[invitation_out(r) for r in rows], next_cursor=cursor)


@bp.post("/<client_id>/invitations/<invitation_id>/resend")
@spec.validate(resp=Responses(HTTP_200=ResendOut, **WRITE_ERRORS))
def resend_invitation(client_id: str, invitation_id: str) -> ResendOut:
    """A new link (the old one stops working) valid for 7 more days."""
    token, token_hash = directory.new_token()
    with container().engine.begin() as conn:
        directory.live_client(conn, client_id, lock=True)
        before = _open_invitation(conn, client_id, invitation_id)
        after = conn.execute(
            invitation.update()
            .where(invitation.c.id == before.id)
            .values(
                token_hash=token_hash,
                expires_at=directory.now() + directory.INVITE_TTL,
                sent_count=invitation.c.sent_count + 1,
                last_sent_at=sa.func.now(),
                updated_at=sa.func.now(),
            )
            .returning(invitation)
        ).one()
        previous, new = directory.changes(directory.invitation_state(before), directory.invitation_state(after))
        events.record(
            conn, "invitation.resend", after.id, previous=previous, new=new, client_id=client_id, email=after.email
        )
        answer = ResendOut(invitation=invitation_out(after), invite_url=_invite_url(token))
        replay = answer.model_copy(update={"invite_url": None}).model_dump_json().encode()
        replay_with(replay)
    return answer


@bp.delete("/<client_id>/invitations/<invitation_id>")
@spec.validate(resp=Responses(HTTP_200=Done, **WRITE_ERRORS))
def revoke_invitation(client_id: str, invitation_id: str) -> Done:
    """Revoke: the link stops working and the `invited` membership goes."""
    with container().engine.begin() as conn:
        directory.live_client(conn, client_id, lock=True)
        before = _open_invitation(conn, client_id, invitation_id)
        revoked_at = conn.execute(
            invitation.update()
            .where(invitation.c.id == before.id)
            .values(revoked_at=sa.func.now(), updated_at=sa.func.now())
            .returning(invitation.c.revoked_at)
        ).scalar_one()
        user_ids = sa.select(app_user.c.id).where(app_user.c.email == before.email, app_user.c.deleted_at.is_(None))
        removed = (
            conn.execute(
                membership.delete()
                .where(
                    membership.c.client_id == client_id,
                    membership.c.user_id.in_(user_ids.scalar_subquery()),
                    membership.c.status == "invited",
                )
                .returning(membership.c.user_id)
            )
            .scalars()
            .all()
        )
        events.record(
            conn,
            "invitation.revoke",
            before.id,
            previous=directory.invitation_state(before),
            new={"revoked_at": iso(revoked_at)},
            client_id=client_id,
            email=before.email,
            membership_removed=list(removed),
        )
    return Done()
