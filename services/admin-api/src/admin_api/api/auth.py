"""Sign-in, sign-out, who am I, and password change."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Response, g, jsonify, request
from pydantic import Field
from spectree import Response as Responses

from admin_api.adapters.tables import admin_user
from admin_api.api.spec import SESSION_COOKIE, ErrorEnvelope, Model, Out, spec
from admin_api.security.passwords import WeakPassword, check_strength, hash_password, needs_rehash, verify_password
from admin_api.service_layer import events
from admin_api.web import container, current_actor
from scenergy.common.http import ApiError, error_response
from scenergy.common.identity import Actor, ActorType, Role

bp = Blueprint("auth", __name__, url_prefix="/api/admin/auth")

EMAIL_MAX = 254


class LoginIn(Model):
    email: str = Field(min_length=3, max_length=EMAIL_MAX)
    password: str = Field(min_length=1, max_length=1024)


class AdminOut(Out):
    id: str
    email: str
    name: str
    role: Role


class LoginOut(Out):
    admin: AdminOut
    csrf_token: str


class PasswordIn(Model):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class Done(Out):
    ok: bool = True


def _set_cookie(response: Response, token: str) -> None:
    c = container()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=c.settings.session_absolute_hours * 3600,
        secure=c.settings.cookie_secure,
        httponly=True,
        samesite="Strict",
        path="/api/admin",
    )


def _anonymous(email: str) -> Actor:
    return Actor(ActorType.ADMIN, "anonymous", None, g.client_ip, g.user_agent)


@bp.post("/login")
@spec.validate(
    json=LoginIn,
    resp=Responses(HTTP_200=LoginOut, HTTP_400=ErrorEnvelope, HTTP_401=ErrorEnvelope, HTTP_429=ErrorEnvelope),
    security={},  # the one route open without a session
)
def login() -> Response:
    """Sign in; sets the session cookie and returns the CSRF token for mutations."""
    c = container()
    body = LoginIn.model_validate(request.get_json())
    email = body.email.lower()
    address = g.client_ip or "unknown"  # throttled together when the address is unknown
    verdict = c.throttle.check(email, address)
    if not verdict.allowed:
        with c.engine.begin() as conn:
            events.record(conn, "auth.login", email[:200], actor=_anonymous(email), error_code="throttled",
                          error_message=f"too many failed sign-ins for this {verdict.reason}")  # fmt: skip
        response = error_response(429, "too_many_attempts", "Too many failed sign-ins; try again later.")
        response.headers["Retry-After"] = str(verdict.retry_after_s)
        return response
    with c.engine.connect() as conn:
        row = conn.execute(
            sa.select(admin_user).where(sa.func.lower(admin_user.c.email) == email, admin_user.c.deleted_at.is_(None))
        ).first()
    # One verification whether or not the account exists: the same answer in about the same time.
    ok = verify_password(row.password_hash if row else None, body.password) and row is not None and not row.disabled
    if not ok or row is None:
        c.throttle.record_failure(email, address)
        with c.engine.begin() as conn:
            events.record(conn, "auth.login", row.id if row else email[:200], actor=_anonymous(email),
                          error_code="invalid_credentials")  # fmt: skip
        return error_response(401, "invalid_credentials", "The email or the password is wrong.")
    c.throttle.clear_account(email)
    actor = Actor(ActorType.ADMIN, row.id, Role(row.role), g.client_ip, g.user_agent)
    with c.engine.begin() as conn:
        token, csrf = c.sessions.create(conn, row.id, ip=g.client_ip, user_agent=g.user_agent)
        values: dict[str, object] = {"last_login_at": datetime.now(UTC)}
        if needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(body.password)
        conn.execute(admin_user.update().where(admin_user.c.id == row.id).values(**values))
        events.record(conn, "auth.login", row.id, actor=actor)
    admin = AdminOut(id=row.id, email=row.email, name=row.name, role=Role(row.role))
    response = jsonify(LoginOut(admin=admin, csrf_token=csrf).model_dump(mode="json"))
    _set_cookie(response, token)
    return response


@bp.post("/logout")
@spec.validate(resp=Responses(HTTP_200=Done, HTTP_401=ErrorEnvelope, HTTP_403=ErrorEnvelope))
def logout() -> Response:
    """End this session; the cookie stops working at once."""
    c = container()
    with c.engine.begin() as conn:
        c.sessions.revoke(conn, g.session.session_id, "logout")
        events.record(conn, "auth.logout", g.session.admin_id, actor=current_actor())
    response = jsonify(Done().model_dump())
    response.delete_cookie(SESSION_COOKIE, path="/api/admin")
    return response


@bp.get("/me")
@spec.validate(resp=Responses(HTTP_200=LoginOut, HTTP_401=ErrorEnvelope))
def me() -> LoginOut:
    """The signed-in admin, and the session's CSRF token (for a reloaded page)."""
    s = g.session
    return LoginOut(
        admin=AdminOut(id=s.admin_id, email=s.email, name=s.name, role=Role(s.role)), csrf_token=s.csrf_token
    )


@bp.post("/password")
@spec.validate(
    json=PasswordIn,
    resp=Responses(HTTP_200=Done, HTTP_400=ErrorEnvelope, HTTP_401=ErrorEnvelope, HTTP_403=ErrorEnvelope),
)
def change_password() -> Done:
    """Change the signed-in admin's password; every other session of theirs ends."""
    c = container()
    body = PasswordIn.model_validate(request.get_json())
    s = g.session
    with c.engine.begin() as conn:
        current = conn.execute(sa.select(admin_user.c.password_hash).where(admin_user.c.id == s.admin_id)).scalar_one()
        if not verify_password(current, body.current_password):
            raise ApiError(400, "invalid_credentials", "The current password is wrong.")
        try:
            check_strength(body.new_password, email=s.email)
        except WeakPassword as exc:
            raise ApiError(400, "weak_password", str(exc)) from None
        conn.execute(
            admin_user.update()
            .where(admin_user.c.id == s.admin_id)
            .values(password_hash=hash_password(body.new_password), password_changed_at=sa.func.now())
        )
        ended = c.sessions.revoke_all(conn, s.admin_id, "password_changed", keep=s.session_id)
        events.record(conn, "admin.password_change", s.admin_id, sessions_revoked=ended)
    return Done()
