"""Admin accounts, managed by super admins: list, create, change role/name/disabled, delete, sign out.

The permission table lets only super admins in. The rules (the last super admin stays, nobody
demotes or removes themselves, sessions end at once on a role change, disabling or deletion) live
in `service_layer.admins`; this module maps bodies to calls and `AdminError` codes to HTTP.
"""

from __future__ import annotations

from typing import NoReturn

import sqlalchemy as sa
from flask import Blueprint, request
from pydantic import Field
from spectree import Response as Responses

from admin_api.api.settings import Partial
from admin_api.api.spec import ErrorEnvelope, Model, Out, body_of, spec
from admin_api.service_layer import admins
from admin_api.service_layer import settings as platform
from admin_api.service_layer.admins import AdminError
from admin_api.web import container, current_actor
from scenergy.common.http import ApiError
from scenergy.common.identity import Role
from scenergy.common.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidPage

bp = Blueprint("admin_users", __name__)

ROOT = "/api/admin/settings/admins"
ERRORS = {
    "HTTP_400": ErrorEnvelope,
    "HTTP_401": ErrorEnvelope,
    "HTTP_403": ErrorEnvelope,
    "HTTP_404": ErrorEnvelope,
    "HTTP_409": ErrorEnvelope,
}
STATUS = {
    "admin_not_found": 404,
    "admin_exists": 409,
    "last_super_admin": 409,
    "cannot_change_self": 409,
    "weak_password": 400,
    "invalid_email": 400,
    "email_domain_not_allowed": 400,
}
FIELD_OF = {"weak_password": "password", "invalid_email": "email", "email_domain_not_allowed": "email"}


class AdminOut(Out):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool
    last_login_at: str | None
    created_at: str


class AdminPage(Out):
    items: list[AdminOut]
    next_cursor: str | None
    total: int


class AdminQuery(Model):
    q: str = Field("", max_length=200)  # part of the email or the name, case-insensitive
    role: Role | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=500)


class AdminIn(Model):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field("", max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class AdminPatch(Partial):
    """Any of the three; a field sent must have a value (null is refused)."""

    name: str | None = Field(None, max_length=200)
    role: Role | None = None
    disabled: bool | None = Field(None, strict=True)  # true or false, not "yes"


class DeletedOut(Out):
    id: str
    deleted_at: str
    sessions_revoked: int


class RevokedOut(Out):
    admin_id: str
    sessions_revoked: int


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _fail(exc: AdminError) -> NoReturn:
    details = {"fields": [{"field": FIELD_OF[exc.code], "message": str(exc)}]} if exc.code in FIELD_OF else {}
    raise ApiError(STATUS.get(exc.code, 400), exc.code, _sentence(str(exc)), details) from None


@bp.get(ROOT)
@spec.validate(query=AdminQuery, resp=Responses(HTTP_200=AdminPage, **ERRORS))
def list_admins() -> AdminPage:
    """Live admins (disabled ones included), newest first; `q` searches emails and names."""
    query = AdminQuery.model_validate(request.args.to_dict())
    try:
        with container().engine.connect() as conn:
            page = admins.list_admins(conn, q=query.q, role=query.role, limit=query.limit, cursor=query.cursor)
    except InvalidPage as exc:
        raise ApiError(400, "invalid_cursor", _sentence(str(exc))) from None
    items = [AdminOut.model_validate(item) for item in page.items]
    return AdminPage(items=items, next_cursor=page.next_cursor, total=page.total)


@bp.post(ROOT)
@spec.validate(json=AdminIn, resp=Responses(HTTP_201=AdminOut, **ERRORS))
def create_admin() -> tuple[AdminOut, int]:
    """Create an admin (argon2id; the password must be strong; the email domain must be allowed)."""
    body = body_of(AdminIn)
    try:
        with container().engine.begin() as conn:
            allowed = platform.load(conn).allowed_admin_email_domains
            created = admins.create_admin(
                conn,
                email=body.email,
                password=body.password,
                role=body.role,
                name=body.name,
                actor=current_actor(),
                allowed_domains=allowed,
            )
    except AdminError as exc:
        _fail(exc)
    except sa.exc.IntegrityError as exc:  # the same email created at the same moment by another request
        if "uq_admin_user_email_live" not in str(exc.orig):
            raise
        _fail(AdminError("admin_exists", f"an admin with the email {body.email.lower()} exists"))
    return AdminOut.model_validate(created), 201


@bp.patch(f"{ROOT}/<admin_id>")
@spec.validate(json=AdminPatch, resp=Responses(HTTP_200=AdminOut, **ERRORS))
def update_admin(admin_id: str) -> AdminOut:
    """Rename, change the role, disable or enable; a role change or disabling signs them out at once."""
    body = body_of(AdminPatch)
    try:
        with container().engine.begin() as conn:
            updated = admins.update_admin(
                conn, admin_id, actor_id=current_actor().id, name=body.name, role=body.role, disabled=body.disabled
            )
    except AdminError as exc:
        _fail(exc)
    return AdminOut.model_validate(updated)


@bp.delete(f"{ROOT}/<admin_id>")
@spec.validate(resp=Responses(HTTP_200=DeletedOut, **ERRORS))
def delete_admin(admin_id: str) -> DeletedOut:
    """Soft-delete an admin and end their sessions; the audit trail keeps the account."""
    try:
        with container().engine.begin() as conn:
            deleted, revoked = admins.delete_admin(conn, admin_id, actor_id=current_actor().id)
    except AdminError as exc:
        _fail(exc)
    return DeletedOut(id=str(deleted["id"]), deleted_at=str(deleted["deleted_at"]), sessions_revoked=revoked)


@bp.post(f"{ROOT}/<admin_id>/revoke-sessions")
@spec.validate(resp=Responses(HTTP_200=RevokedOut, **ERRORS))
def revoke_sessions(admin_id: str) -> RevokedOut:
    """End every session of an admin now (their next request is 401)."""
    try:
        with container().engine.begin() as conn:
            revoked = admins.revoke_sessions(conn, admin_id)
    except AdminError as exc:
        _fail(exc)
    return RevokedOut(admin_id=admin_id, sessions_revoked=revoked)
