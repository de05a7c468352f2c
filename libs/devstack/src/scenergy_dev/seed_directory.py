"""The gateway's demo data: the first super admin, and the directory behind the demo credit accounts.

The super admin's password is generated once and kept in `<var>/secrets/admin_password` (0600); it
is printed in the ready summary of the run that created the account, and never again. The demo
clients (the ids of the demo credit accounts), their users, memberships, products and collection
sessions are inserted idempotently: a rerun adds nothing.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from admin_api.adapters import tables as t
from admin_api.service_layer.admins import create_admin
from scenergy.common.db import make_engine
from scenergy.common.identity import Actor, Role
from scenergy_dev.credential import stored_secret
from scenergy_dev.seed import DEMO_ACCOUNTS, SeedContext

ADMIN_EMAIL = "admin@scenergy.local"
PLANS = ("pro", "starter", "pro", "free", "starter")
CATEGORIES = ("sofa", "chair", "table", "lamp", "rug")


def _password() -> str:
    while True:  # the strength rules refuse a password containing the email's name
        candidate = secrets.token_urlsafe(15)
        if "admin" not in candidate.lower():
            return candidate


def seed_admin_api(ctx: SeedContext) -> list[str]:
    password, where = stored_secret(ctx.env, ctx.var_dir, "ADMIN_PASSWORD", generate=_password, min_length=12)
    engine = make_engine(ctx.database_urls["admin-api"], application_name="devstack-seed", pool_size=1)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.admin_user.c.id).where(
                    t.admin_user.c.email == ADMIN_EMAIL, t.admin_user.c.deleted_at.is_(None)
                )
            ).first()
            created = exists is None
            if created:
                create_admin(
                    conn, email=ADMIN_EMAIL, password=password, role=Role.SUPER_ADMIN, name="Demo super admin",
                    actor=Actor.system("devstack"),
                )  # fmt: skip
            for n, account in enumerate(DEMO_ACCOUNTS):
                _client(conn, account.client_id, account.name, PLANS[n % len(PLANS)], now - timedelta(hours=n * 30))
    finally:
        engine.dispose()
    url = ctx.http_urls["admin-api"]
    lines = [f"admin API {url}/api/admin (OpenAPI: {url}/api/admin/openapi.json)"]
    if created:
        lines.append(f"sign in as {ADMIN_EMAIL} with password {password}  (shown once; kept in {where})")
    else:
        lines.append(f"sign in as {ADMIN_EMAIL}; the password is in {where}")
    lines.append(f"demo directory: {len(DEMO_ACCOUNTS)} clients with users, products and collection sessions")
    return lines


def _client(conn: sa.Connection, client_id: str, name: str, plan: str, last_active: datetime) -> None:
    slug = name.lower().replace(".", "").replace(" ", "-")
    suffix = client_id.removeprefix("cli_")
    store = {"platform": "shopify", "url": f"https://{slug}.example", "status": "connected", "auto_sync": True}

    def insert(table: sa.Table, **values: object) -> None:
        conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing())

    insert(t.client, id=client_id, name=name, slug=slug, plan=plan, last_active_at=last_active,
           description=f"{name}, a demo client", store_connection=store)  # fmt: skip
    for i, role in enumerate(("owner", "editor", "viewer")):
        user_id = f"usr_{suffix}{i}"
        insert(t.app_user, id=user_id, email=f"{role}@{slug}.example", name=f"{role.title()} of {name}",
               email_verified=True, last_active_at=last_active)  # fmt: skip
        insert(t.membership, client_id=client_id, user_id=user_id, role=role, status="active", joined_at=last_active)
    for i in range(6):
        insert(t.product, id=f"prd_{suffix}{i}", client_id=client_id, name=f"{CATEGORIES[i % 5].title()} no. {i + 1}",
               category=CATEGORIES[i % 5], source="imported" if i % 2 else "uploaded")  # fmt: skip
    for i, status in enumerate(("completed", "generating")):
        insert(t.collection_session, id=f"ses_{suffix}{i}", client_id=client_id, name=f"Collection {i + 1}",
               status=status, product_count=3, generation_count=4 if status == "completed" else 1)  # fmt: skip
