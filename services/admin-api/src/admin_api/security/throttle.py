"""Sign-in throttling: failures counted per account and per address in a sliding window.

Past the limit, further attempts are refused with 429 and Retry-After until the oldest failure
leaves the window: a temporary lockout. Counting lives in PostgreSQL, so every gateway replica
sees the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine

from admin_api.adapters.tables import login_failure


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0
    reason: str = ""


class LoginThrottle:
    def __init__(self, engine: Engine, *, per_account: int, per_ip: int, window: timedelta) -> None:
        self._engine = engine
        self._per_account = per_account
        self._per_ip = per_ip
        self._window = window

    def check(self, email: str, ip: str) -> Verdict:
        since = datetime.now(UTC) - self._window
        f = login_failure.c
        with self._engine.connect() as conn:
            for column, value, limit, reason in (
                (f.email, email, self._per_account, "account"),
                (f.ip_address, ip, self._per_ip, "address"),
            ):
                count, oldest = conn.execute(
                    sa.select(sa.func.count(), sa.func.min(f.at)).where(column == value, f.at > since)
                ).one()
                if count >= limit:
                    retry = (oldest + self._window - datetime.now(UTC)).total_seconds()
                    return Verdict(False, max(int(retry) + 1, 1), reason)
        return Verdict(True)

    def record_failure(self, email: str, ip: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(login_failure.insert().values(email=email, ip_address=ip))

    def clear_account(self, email: str) -> None:
        """A successful sign-in forgives the account's failures (not the address's)."""
        with self._engine.begin() as conn:
            conn.execute(login_failure.delete().where(login_failure.c.email == email))

    def purge(self) -> int:
        cutoff = datetime.now(UTC) - 2 * self._window
        with self._engine.begin() as conn:
            return int(conn.execute(login_failure.delete().where(login_failure.c.at < cutoff)).rowcount or 0)
