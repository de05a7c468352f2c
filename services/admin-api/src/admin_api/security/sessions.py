"""Server-side sessions in PostgreSQL.

The cookie holds a random token; the table holds only its SHA-256, so a copy of the table can't be
used to sign in. A session ends at its idle timeout, its absolute limit, or when revoked (logout,
password or role change, an admin disabled, or a super admin's revocation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from admin_api.adapters.tables import admin_session
from scenergy.common.db import driver_sql, fetch_one

# Touching last_seen_at on every request would make every read a write; once a minute is enough.
TOUCH_EVERY = timedelta(seconds=60)


# Runs on every request: on the driver connection (scenergy.common.db.fetch_one), compiled once.
LOAD_SQL = driver_sql(
    sa.text(
        """
WITH live AS (
    SELECT s.id, s.csrf_token, s.last_seen_at, a.id AS admin_id, a.email, a.name, a.role
      FROM admin_session s JOIN admin_user a ON a.id = s.admin_id
     WHERE s.id = :id AND s.revoked_at IS NULL AND s.expires_at > :now AND s.last_seen_at > :idle_since
       AND NOT a.disabled AND a.deleted_at IS NULL
), touched AS (
    UPDATE admin_session SET last_seen_at = :now
      FROM live WHERE admin_session.id = live.id AND live.last_seen_at < :touch_before
)
SELECT id, csrf_token, admin_id, email, name, role FROM live
"""
    )
)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionAdmin:
    session_id: str
    csrf_token: str
    admin_id: str
    email: str
    name: str
    role: str


class SessionStore:
    def __init__(self, engine: Engine, *, idle: timedelta, absolute: timedelta) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.idle = idle
        self.absolute = absolute

    def create(self, conn: Connection, admin_id: str, *, ip: str | None, user_agent: str | None) -> tuple[str, str]:
        """A new session (a fresh id at every sign-in); returns (cookie token, CSRF token)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        conn.execute(
            admin_session.insert().values(
                id=token_id(token),
                admin_id=admin_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.absolute,
                ip_address=ip,
                user_agent=(user_agent or "")[:500] or None,
            )
        )
        return token, csrf

    def load(self, token: str) -> SessionAdmin | None:
        """The live session behind a cookie token, or None; refreshes its idle clock.

        One statement on an autocommit connection (this runs on every request): the lookup, and the
        touch of `last_seen_at` when it is over TOUCH_EVERY old, in a CTE.
        """
        if not token or len(token) > 128:
            return None
        now = datetime.now(UTC)
        with self._autocommit.connect() as conn:
            row = fetch_one(
                conn,
                LOAD_SQL,
                {"id": token_id(token), "now": now, "idle_since": now - self.idle, "touch_before": now - TOUCH_EVERY},
            )
        if row is None:
            return None
        return SessionAdmin(row["id"], row["csrf_token"], row["admin_id"], row["email"], row["name"], row["role"])

    @staticmethod
    def revoke(conn: Connection, session_id: str, reason: str) -> None:
        conn.execute(
            admin_session.update()
            .where(admin_session.c.id == session_id, admin_session.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now(), revoked_reason=reason)
        )

    @staticmethod
    def revoke_all(conn: Connection, admin_id: str, reason: str, *, keep: str | None = None) -> int:
        """End every live session of an admin (but `keep`, e.g. the one changing its own password)."""
        where = [admin_session.c.admin_id == admin_id, admin_session.c.revoked_at.is_(None)]
        if keep:
            where.append(admin_session.c.id != keep)
        result = conn.execute(
            admin_session.update().where(*where).values(revoked_at=sa.func.now(), revoked_reason=reason)
        )
        return int(result.rowcount or 0)

    def purge_expired(self, *, older_than: timedelta = timedelta(days=30)) -> int:
        cutoff = datetime.now(UTC) - older_than
        with self._engine.begin() as conn:
            result = conn.execute(
                admin_session.delete().where(
                    sa.or_(admin_session.c.expires_at < cutoff, admin_session.c.revoked_at < cutoff)
                )
            )
        return int(result.rowcount or 0)
