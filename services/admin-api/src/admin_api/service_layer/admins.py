"""Admin accounts: creation (also from the command line), and the rules that keep one super admin."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from admin_api.adapters.tables import admin_user
from admin_api.security.passwords import WeakPassword, check_strength, hash_password
from admin_api.service_layer import events
from scenergy.common.identity import Actor, Role
from scenergy.common.ids import new_id

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class AdminError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
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


def create_admin(
    conn: Connection, *, email: str, password: str, role: Role, name: str = "", actor: Actor | None = None
) -> dict[str, object]:
    email = check_email(email)
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
