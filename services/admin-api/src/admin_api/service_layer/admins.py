"""Admin accounts: creation (also from the command line), changes, soft deletion, session revocation,
and the rules that keep one super admin.

Invariants, enforced here in the caller's transaction:
- at least one live super admin (not deleted, not disabled) remains: demoting, disabling or deleting
  the last one is refused (`last_super_admin`). Every change that could reduce their number takes
  one advisory lock first, so two super admins demoting each other at once can't both succeed;
- an admin can't demote, disable or delete themselves (`cannot_change_self`): it takes another
  super admin, so nobody locks themselves out by a slip;
- a role change, disabling or deletion ends the admin's sessions at once, in the same transaction;
- every change writes its event (never a password or a hash) in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from admin_api.adapters.tables import TS, admin_user
from admin_api.security.passwords import WeakPassword, check_strength, hash_password
from admin_api.security.sessions import SessionStore
from admin_api.service_layer import events
from scenergy.common.identity import Actor, Role
from scenergy.common.ids import is_id, new_id
from scenergy.common.pagination import InvalidPage, decode_cursor, encode_cursor

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class AdminError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise AdminError("invalid_email", "not a valid email address")
    return email


def public(row: sa.Row) -> dict[str, object]:  # type: ignore[type-arg]
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "role": row.role,
        "disabled": row.disabled,
        "last_login_at": row.last_login_at.isoformat() if row.last_login_at else None,
        "created_at": row.created_at.isoformat(),
    }


def check_domain(email: str, allowed_domains: Sequence[str]) -> None:
    """With a list of domains (the `allowed_admin_email_domains` setting), the email's must be one."""
    if allowed_domains and email.rsplit("@", 1)[-1] not in allowed_domains:
        raise AdminError(
            "email_domain_not_allowed", f"admin emails must be at one of: {', '.join(sorted(allowed_domains))}"
        )


def create_admin(
    conn: Connection,
    *,
    email: str,
    password: str,
    role: Role,
    name: str = "",
    actor: Actor | None = None,
    allowed_domains: Sequence[str] = (),
) -> dict[str, object]:
    email = check_email(email)
    check_domain(email, allowed_domains)
    try:
        check_strength(password, email=email)
    except WeakPassword as exc:
        raise AdminError("weak_password", str(exc)) from None
    exists = conn.execute(
        sa.select(admin_user.c.id).where(admin_user.c.email == email, admin_user.c.deleted_at.is_(None))
    ).first()
    if exists is not None:
        raise AdminError("admin_exists", f"an admin with the email {email} exists")
    row = conn.execute(
        admin_user.insert()
        .values(
            id=new_id("adm"),
            email=email,
            name=name.strip()[:200],
            password_hash=hash_password(password),
            role=role.value,
        )
        .returning(admin_user)
    ).one()
    created = public(row)
    events.record(conn, "admin.create", row.id, new=created, actor=actor)
    return created


def live_super_admins(conn: Connection, *, excluding: str | None = None) -> int:
    where = [
        admin_user.c.role == Role.SUPER_ADMIN.value,
        admin_user.c.deleted_at.is_(None),
        admin_user.c.disabled.is_(False),
    ]
    if excluding:
        where.append(admin_user.c.id != excluding)
    return int(conn.execute(sa.select(sa.func.count()).select_from(admin_user).where(*where)).scalar_one())


# --- management by a super admin -------------------------------------------------------------

_SUPER_ADMINS_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('admin_api.super_admins'))")


def _lock_super_admins(conn: Connection) -> None:
    conn.execute(_SUPER_ADMINS_LOCK)


def _live(conn: Connection, admin_id: str, *, for_update: bool = False) -> sa.Row:  # type: ignore[type-arg]
    """The admin (not deleted), or AdminError `admin_not_found` (also for an id that isn't one)."""
    if is_id(admin_id, "adm"):
        query = sa.select(admin_user).where(admin_user.c.id == admin_id, admin_user.c.deleted_at.is_(None))
        row = conn.execute(query.with_for_update() if for_update else query).first()
        if row is not None:
            return row
    raise AdminError("admin_not_found", f"no admin {admin_id[:100]}")


def _is_live_super_admin(role: str, disabled: bool) -> bool:
    return role == Role.SUPER_ADMIN.value and not disabled


def _guard(conn: Connection, row: sa.Row, *, actor_id: str, verb: str) -> None:  # type: ignore[type-arg]
    """Refuse to take away the last live super admin, or to demote/disable/delete oneself."""
    if _is_live_super_admin(row.role, row.disabled) and live_super_admins(conn, excluding=row.id) == 0:
        raise AdminError("last_super_admin", f"this is the last super admin: make another one before you {verb} them")
    if row.id == actor_id:
        raise AdminError("cannot_change_self", f"you can't {verb} yourself; ask another super admin")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, object]]
    next_cursor: str | None
    total: int


def list_admins(conn: Connection, *, q: str = "", role: Role | None = None, limit: int = 50, cursor: str = "") -> Page:
    """Live admins (disabled ones included), newest first; `q` matches the email or the name."""
    a = admin_user.c
    where: list[sa.ColumnElement[bool]] = [a.deleted_at.is_(None)]
    if q:
        where.append(sa.or_(a.email.icontains(q, autoescape=True), a.name.icontains(q, autoescape=True)))
    if role is not None:
        where.append(a.role == role.value)
    total = int(conn.execute(sa.select(sa.func.count()).select_from(admin_user).where(*where)).scalar_one())
    query = sa.select(admin_user).where(*where)
    after = decode_cursor(cursor, size=2)  # InvalidPage for a bad one
    if after is not None:
        try:
            created_at, last_id = datetime.fromisoformat(after[0]), str(after[1])
        except (TypeError, ValueError):
            raise InvalidPage("cursor is not valid") from None
        query = query.where(sa.tuple_(a.created_at, a.id) < sa.tuple_(sa.literal(created_at, TS), last_id))
    rows = conn.execute(query.order_by(a.created_at.desc(), a.id.desc()).limit(limit + 1)).all()
    next_cursor = (
        encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    )
    return Page([public(row) for row in rows[:limit]], next_cursor, total)


def update_admin(
    conn: Connection,
    admin_id: str,
    *,
    actor_id: str,
    name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> dict[str, object]:
    """Change an admin's name, role or disabled flag; a role change or disabling ends their sessions."""
    _lock_super_admins(conn)
    row = _live(conn, admin_id, for_update=True)
    changes: dict[str, Any] = {}
    if name is not None and name.strip()[:200] != row.name:
        changes["name"] = name.strip()[:200]
    if role is not None and role.value != row.role:
        changes["role"] = role.value
    if disabled is not None and disabled != row.disabled:
        changes["disabled"] = disabled
    if not changes:
        return public(row)
    if "role" in changes or changes.get("disabled"):
        _guard(conn, row, actor_id=actor_id, verb="demote" if "role" in changes else "disable")
    updated = conn.execute(
        admin_user.update()
        .where(admin_user.c.id == row.id)
        .values(**changes, updated_at=sa.func.now())
        .returning(admin_user)
    ).one()
    revoked = 0
    if "role" in changes or changes.get("disabled"):
        reason = "role_changed" if "role" in changes else "disabled"
        revoked = SessionStore.revoke_all(conn, row.id, reason)
    events.record(
        conn,
        "admin.update",
        row.id,
        previous={key: getattr(row, key) for key in changes},
        new=dict(changes),
        sessions_revoked=revoked,
    )
    return public(updated)


def delete_admin(conn: Connection, admin_id: str, *, actor_id: str) -> tuple[dict[str, object], int]:
    """Soft-delete an admin (the row stays for the audit trail; the email is free again); ends their sessions."""
    _lock_super_admins(conn)
    row = _live(conn, admin_id, for_update=True)
    _guard(conn, row, actor_id=actor_id, verb="delete")
    deleted = conn.execute(
        admin_user.update()
        .where(admin_user.c.id == row.id)
        .values(deleted_at=sa.func.now(), updated_at=sa.func.now())
        .returning(admin_user.c.deleted_at)
    ).one()
    revoked = SessionStore.revoke_all(conn, row.id, "deleted")
    events.record(conn, "admin.delete", row.id, previous=public(row), new=None, sessions_revoked=revoked)
    return {"id": row.id, "deleted_at": deleted.deleted_at.isoformat()}, revoked


def revoke_sessions(conn: Connection, admin_id: str) -> int:
    """End every live session of an admin (yourself included: "sign out everywhere"); returns how many."""
    row = _live(conn, admin_id)
    revoked = SessionStore.revoke_all(conn, row.id, "revoked_by_admin")
    events.record(conn, "admin.revoke_sessions", row.id, sessions_revoked=revoked)
    return revoked
