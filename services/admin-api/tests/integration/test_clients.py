"""Clients through the gateway: list, create, detail, update, delete, settings, products and sessions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from admin_api.adapters.tables import client, collection_session, invitation, membership, product
from admin_api.clients.platform import Platform
from admin_api.testing import events_of, make_client, tag
from scenergy.common import context
from scenergy.common.identity import Role
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2

NOW = datetime.now(UTC)


def add_user(container, client_id, role="editor", status="active"):
    from admin_api.adapters.tables import app_user

    user_id = new_id("usr")
    with container.engine.begin() as conn:
        conn.execute(app_user.insert().values(id=user_id, email=f"{user_id}@example.test", name="Someone"))
        conn.execute(
            membership.insert().values(
                client_id=client_id,
                user_id=user_id,
                role=role,
                status=status,
                joined_at=None if status == "invited" else NOW,
            )
        )
    return user_id


def grant(container, client_id, amount):
    with context.bound(request_id=None, actor=ADMIN):
        p = container.platform
        p.call(
            "credits",
            p.credits.Grant,
            credits_pb2.GrantRequest(
                client_id=client_id, amount=amount, reason="test grant", idempotency_key=new_id("key")
            ),
        )


def client_row(container, client_id):
    with container.engine.connect() as conn:
        return conn.execute(sa.select(client).where(client.c.id == client_id)).one()


def down_platform(container, *, credits=True, audit=False):
    """The gateway's platform, with the credits and/or audit service unreachable."""
    s = container.settings
    return Platform.connect(
        credits_addr="127.0.0.1:1" if credits else s.credits_addr,
        audit_addr="127.0.0.1:1" if audit else s.audit_addr,
        generation_addr=s.generation_addr,
        payments_addr=s.payments_addr,
        credential_key=s.service_credential_key,
        deadline_s=1.0,
    )


def all_pages(session, path, **params):
    """Walk every page; returns the ids in order."""
    ids, cursor = [], None
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = session.get(path, query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("paging never ended")


# --- create ----------------------------------------------------------------------------------


def test_create_derives_the_slug_opens_a_credits_account_and_records_the_event(sign_in, container):
    admin = sign_in()
    t = tag()
    response = admin.post("/api/admin/clients", json={"name": f"Ünïque Home & Garden {t}", "plan": "pro"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["slug"] == f"unique-home-garden-{t}"
    assert created["plan"] == "pro" and created["status"] == "inactive" and created["id"].startswith("cli_")
    detail = admin.get(f"/api/admin/clients/{created['id']}").get_json()
    assert detail["stats"]["credit_balance"] == 0  # the account exists (an unknown one would be null)
    assert detail["degraded"] == []
    (event,) = events_of(container, "client.create", created["id"])
    assert event["data"]["new"]["slug"] == created["slug"]
    assert event["data"]["previous"] is None
    assert event["actor"]["id"] == admin.admin["id"]


def test_slug_conflicts_are_409_and_a_deleted_clients_slug_is_free_again(sign_in):
    admin = sign_in()
    slug = f"acme-{tag()}"
    first = admin.post("/api/admin/clients", json={"name": "Acme", "slug": slug})
    assert first.status_code == 201
    again = admin.post("/api/admin/clients", json={"name": "Acme Again", "slug": slug})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "slug_taken"
    derived = admin.post("/api/admin/clients", json={"name": slug.replace("-", " ").upper()})
    assert derived.status_code == 409 and derived.get_json()["error"]["details"] == {"slug": slug}
    other = admin.post("/api/admin/clients", json={"name": "Other"}).get_json()
    moved = admin.patch(f"/api/admin/clients/{other['id']}", json={"slug": slug})
    assert moved.status_code == 409 and moved.get_json()["error"]["code"] == "slug_taken"
    assert admin.delete(f"/api/admin/clients/{first.get_json()['id']}").status_code == 200
    assert admin.patch(f"/api/admin/clients/{other['id']}", json={"slug": slug}).get_json()["slug"] == slug


BAD_CREATES = [
    {},
    {"name": ""},
    {"name": "x", "slug": "Not A Slug"},
    {"name": "x", "slug": "-edge-"},
    {"name": "x", "plan": "gold"},
    {"name": "x", "owner": "someone"},
    {"name": "x" * 201},
    ["name"],
]


def test_create_validates_the_body(sign_in):
    admin = sign_in()
    for body in BAD_CREATES:
        response = admin.post("/api/admin/clients", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] == "invalid_request"
        assert response.get_json()["error"]["details"]["fields"], body


def test_create_answers_503_and_keeps_nothing_when_credits_is_down(sign_in, container, monkeypatch):
    admin = sign_in()
    name = f"Unlucky {tag()}"
    broken = down_platform(container)
    monkeypatch.setattr(container, "platform", broken)
    try:
        response = admin.post("/api/admin/clients", json={"name": name})
    finally:
        broken.close()
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(client.c.id).where(client.c.name == name)).first() is None
    assert not [e for e in events_of(container, "client.create") if e["data"]["new"]["name"] == name]


def test_an_idempotency_key_creates_one_client(sign_in, container):
    admin = sign_in()
    name = f"Once {tag()}"
    headers = {"Idempotency-Key": new_id("key")}
    first = admin.post("/api/admin/clients", json={"name": name}, headers=headers)
    second = admin.post("/api/admin/clients", json={"name": name}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == second.get_json()
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(client.c.name == name)).scalar_one() == 1


# --- list ------------------------------------------------------------------------------------


@pytest.fixture
def five_clients(container):
    """Five live clients and a deleted one, all named after one tag so a search isolates them."""
    t = tag()
    specs = [
        ("Delta", "pro", timedelta(hours=1), 5),
        ("alpha", "free", timedelta(days=10), 4),
        ("Charlie", "pro", None, 3),
        ("bravo", "starter", timedelta(days=2), 2),
        ("Echo", "enterprise", None, 1),
    ]
    ids = {}
    for name, plan, ago, days_old in specs:
        ids[name.lower()] = make_client(
            container,
            f"{t} {name}",
            plan=plan,
            slug=f"{t}-{name.lower()}",
            last_active_at=NOW - ago if ago else None,
            created_at=NOW - timedelta(days=days_old),
        )
    deleted = make_client(container, f"{t} Zulu", deleted_at=NOW)
    return t, ids, deleted


def test_list_searches_filters_and_sorts(sign_in, five_clients):
    admin = sign_in(Role.VIEWER)
    t, ids, deleted = five_clients

    def names(**params):
        response = admin.get("/api/admin/clients", query_string={"q": t.upper(), **params})
        assert response.status_code == 200, response.get_json()
        return [item["name"].removeprefix(f"{t} ") for item in response.get_json()["items"]]

    assert names() == ["Echo", "bravo", "Charlie", "alpha", "Delta"]  # newest first by default
    assert names(sort="created_at") == ["Delta", "alpha", "Charlie", "bravo", "Echo"]
    assert names(sort="name") == ["alpha", "bravo", "Charlie", "Delta", "Echo"]  # case-insensitive
    assert names(sort="-name") == ["Echo", "Delta", "Charlie", "bravo", "alpha"]
    assert names(sort="-last_active")[:3] == ["Delta", "bravo", "alpha"]  # never active: last
    assert set(names(sort="-last_active")[3:]) == {"Charlie", "Echo"}
    assert names(sort="last_active")[2:] == ["alpha", "bravo", "Delta"]
    assert names(status="active") == ["bravo", "Delta"]
    assert names(status="inactive") == ["Echo", "Charlie", "alpha"]
    assert names(plan="pro") == ["Charlie", "Delta"]
    assert names(plan="pro", status="active") == ["Delta"]
    # Words match as prefixes of the name's and the slug's words; punctuation only separates words.
    slug_hit = admin.get("/api/admin/clients", query_string={"q": f"{t}-chaR"}).get_json()["items"]
    assert [i["id"] for i in slug_hit] == [ids["charlie"]]
    assert len(admin.get("/api/admin/clients", query_string={"q": f"{t[:7]}%"}).get_json()["items"]) == 5
    assert admin.get("/api/admin/clients", query_string={"q": f"x{t}"}).get_json()["items"] == []
    wordless = admin.get("/api/admin/clients", query_string={"q": "%_&|!", "include_total": "true"}).get_json()
    assert wordless["items"] == [] and wordless["total"] == 0 and wordless["next_cursor"] is None
    every = admin.get("/api/admin/clients", query_string={"q": t, "include_total": "true"}).get_json()
    assert every["total"] == 5 and deleted not in [i["id"] for i in every["items"]]
    item = next(i for i in every["items"] if i["id"] == ids["delta"])
    assert item["status"] == "active" and item["plan"] == "pro" and item["last_active_at"]
    assert set(item) == {
        "id", "name", "slug", "plan", "product_count", "user_count", "credit_balance",
        "last_active_at", "status", "created_at",
    }  # fmt: skip


def test_pages_cover_the_list_once_in_every_order(sign_in, five_clients):
    admin = sign_in()
    t, _, _ = five_clients
    for sort in ("name", "-name", "created_at", "-created_at", "last_active", "-last_active"):
        whole = admin.get("/api/admin/clients", query_string={"q": t, "sort": sort}).get_json()["items"]
        whole_ids = [i["id"] for i in whole]
        paged = all_pages(admin, "/api/admin/clients", q=t, sort=sort, limit=2)
        assert paged == whole_ids and len(set(paged)) == 5, sort
        assert all_pages(admin, "/api/admin/clients", q=t, sort=sort, limit=1) == whole_ids, sort


BAD_QUERIES = [
    {"limit": "101"},
    {"limit": "0"},
    {"limit": "many"},
    {"sort": "balance"},
    {"status": "asleep"},
    {"plan": "gold"},
    {"include_total": "perhaps"},
    {"cursor": "not-a-cursor"},
    {"page": "2"},
]


def test_list_refuses_a_bad_query(sign_in):
    admin = sign_in()
    for params in BAD_QUERIES:
        response = admin.get("/api/admin/clients", query_string=params)
        assert response.status_code == 400, params
        assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_cursor")


def test_a_cursor_of_another_ordering_is_refused(sign_in, five_clients):
    admin = sign_in()
    t, _, _ = five_clients
    cursor = admin.get("/api/admin/clients", query_string={"q": t, "limit": 1, "sort": "name"}).get_json()
    response = admin.get(
        "/api/admin/clients", query_string={"q": t, "sort": "-created_at", "cursor": cursor["next_cursor"]}
    )
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_cursor"


def test_list_counts_products_and_members_and_shows_the_balance(sign_in, container, directory_client):
    admin = sign_in()
    t = tag()
    funded = directory_client(f"{t} Funded")
    no_account = make_client(container, f"{t} Unfunded")
    with container.engine.begin() as conn:
        for i in range(3):
            conn.execute(
                product.insert().values(id=new_id("prd"), client_id=funded, name=f"Chair {i}", source="uploaded")
            )
        conn.execute(product.insert().values(id=new_id("prd"), client_id=no_account, name="Sofa", source="imported"))
    add_user(container, funded, "owner", "active")
    add_user(container, funded, "editor", "invited")
    add_user(container, funded, "viewer", "suspended")  # not counted
    grant(container, funded, 250)
    body = admin.get("/api/admin/clients", query_string={"q": t, "sort": "name"}).get_json()
    assert body["degraded"] == []
    by_id = {i["id"]: i for i in body["items"]}
    assert by_id[funded]["product_count"] == 3 and by_id[funded]["user_count"] == 2
    assert by_id[funded]["credit_balance"] == 250
    assert by_id[no_account]["product_count"] == 1 and by_id[no_account]["user_count"] == 0
    assert by_id[no_account]["credit_balance"] is None


def test_list_still_renders_when_credits_is_down(sign_in, container, directory_client, monkeypatch):
    admin = sign_in()
    t = tag()
    funded = directory_client(f"{t} Funded")
    grant(container, funded, 10)
    broken = down_platform(container)
    monkeypatch.setattr(container, "platform", broken)
    try:
        response = admin.get("/api/admin/clients", query_string={"q": t})
    finally:
        broken.close()
    assert response.status_code == 200
    body = response.get_json()
    assert body["degraded"] == ["credits"]
    assert [(i["id"], i["credit_balance"]) for i in body["items"]] == [(funded, None)]


# --- detail ----------------------------------------------------------------------------------


def test_detail_has_stats_store_connection_and_recent_activity(sign_in, container, relay_to_audit):
    admin = sign_in()
    created = admin.post("/api/admin/clients", json={"name": f"Detail {tag()}"}).get_json()
    client_id = created["id"]
    assert admin.patch(f"/api/admin/clients/{client_id}", json={"plan": "starter"}).status_code == 200
    settings = {"store_connection": {"platform": "woocommerce", "url": "https://acme-store.example", "status": "connected", "auto_sync": True}}  # fmt: skip
    assert admin.patch(f"/api/admin/clients/{client_id}/settings", json=settings).status_code == 200
    grant(container, client_id, 847)
    with container.engine.begin() as conn:
        conn.execute(product.insert().values(id=new_id("prd"), client_id=client_id, name="Lamp", source="uploaded"))
        for generations in (3, 4):
            conn.execute(
                collection_session.insert().values(
                    id=new_id("ses"),
                    client_id=client_id,
                    name="Spring",
                    status="completed",
                    generation_count=generations,
                )
            )
    add_user(container, client_id, "owner")
    relay_to_audit()

    detail = admin.get(f"/api/admin/clients/{client_id}").get_json()
    assert detail["client"]["plan"] == "starter" and detail["client"]["slug"] == created["slug"]
    assert detail["stats"] == {
        "products": 1,
        "sessions": 2,
        "generations": 7,
        "members": 1,
        "credit_balance": 847,
        "credits_available": 847,
        "generation": {  # from the generation service: this client has made nothing yet
            "generations": 0,
            "jobs": 0,
            "active_jobs": 0,
            "failed_jobs": 0,
            "storage_bytes": 0,
            "last_generation_at": None,
        },
    }
    assert detail["store_connection"] == {
        "platform": "woocommerce",
        "url": "https://acme-store.example",
        "status": "connected",
        "auto_sync": True,
        "last_sync_at": None,
    }
    actions = [a["action"] for a in detail["recent_activity"]]
    # The audit log orders by arrival; the test's relay delivers the credits outbox before the gateway's.
    assert sorted(actions) == sorted(
        ["account.open", "credit.grant", "client.create", "client.update", "client.settings_update"]
    )
    gateway = [a for a in actions if a.startswith("client.")]
    assert gateway == ["client.settings_update", "client.update", "client.create"]  # newest first
    assert all(a["entity_id"] == client_id for a in detail["recent_activity"])
    assert detail["degraded"] == []


def test_detail_degrades_when_audit_is_down(sign_in, container, directory_client, monkeypatch):
    admin = sign_in()
    client_id = directory_client(f"Quiet {tag()}")
    broken = down_platform(container, credits=False, audit=True)
    monkeypatch.setattr(container, "platform", broken)
    try:
        response = admin.get(f"/api/admin/clients/{client_id}")
    finally:
        broken.close()
    assert response.status_code == 200
    body = response.get_json()
    assert body["recent_activity"] == [] and body["degraded"] == ["audit"]
    assert body["stats"]["credit_balance"] == 0


MALFORMED_OR_UNKNOWN = [
    "not-an-id",
    "usr_01jabcdefghjkmnpqrstvwxyz0",
    "cli_01jabcdefghjkmnpqrstvwxyz0",
    "cli_" + "a" * 300,
]


def test_unknown_and_malformed_client_ids_are_404(sign_in):
    viewer = sign_in(Role.VIEWER)
    for bad in MALFORMED_OR_UNKNOWN:
        for suffix in ("", "/settings", "/products", "/sessions"):
            response = viewer.get(f"/api/admin/clients/{bad}{suffix}")
            assert response.status_code == 404, (bad, suffix)
            assert response.get_json()["error"]["code"] == "client_not_found"


def test_mutations_on_malformed_ids_are_404(sign_in):
    admin = sign_in()
    assert admin.patch("/api/admin/clients/../etc", json={"name": "x"}).status_code == 404
    assert admin.patch("/api/admin/clients/nope", json={"name": "x"}).status_code == 404
    assert admin.delete("/api/admin/clients/cli_%27%3B--").status_code == 404
    assert admin.patch("/api/admin/clients/nope/settings", json={}).status_code == 404


# --- update and delete -----------------------------------------------------------------------


def test_update_records_only_the_changed_fields(sign_in, container):
    admin = sign_in()
    created = admin.post("/api/admin/clients", json={"name": f"Before {tag()}", "description": "old"}).get_json()
    client_id = created["id"]
    response = admin.patch(
        f"/api/admin/clients/{client_id}", json={"name": "After", "description": "old", "plan": "enterprise"}
    )
    assert response.status_code == 200
    assert response.get_json()["name"] == "After" and response.get_json()["plan"] == "enterprise"
    (event,) = events_of(container, "client.update", client_id)
    assert event["data"]["previous"] == {"name": created["name"], "plan": "free"}
    assert event["data"]["new"] == {"name": "After", "plan": "enterprise"}
    # The same values again change nothing and record nothing.
    assert admin.patch(f"/api/admin/clients/{client_id}", json={"name": "After"}).status_code == 200
    assert admin.patch(f"/api/admin/clients/{client_id}", json={}).status_code == 200
    assert len(events_of(container, "client.update", client_id)) == 1
    for bad in ({"name": None}, {"plan": "gold"}, {"deleted_at": None}, {"name": ""}, ["name"]):
        refused = admin.patch(f"/api/admin/clients/{client_id}", json=bad)
        assert refused.status_code == 400, bad
    not_json = admin.patch(f"/api/admin/clients/{client_id}", data="{name", content_type="application/json")
    assert not_json.status_code == 400
    assert client_row(container, client_id).name == "After"
    assert len(events_of(container, "client.update", client_id)) == 1


def test_delete_is_soft_and_the_client_disappears(sign_in, container, credits_container):
    admin = sign_in()
    t = tag()
    created = admin.post("/api/admin/clients", json={"name": f"Doomed {t}"}).get_json()
    client_id = created["id"]
    grant(container, client_id, 5)
    invited = admin.post(f"/api/admin/clients/{client_id}/users", json={"email": f"{t}@example.test", "role": "owner"})
    assert invited.status_code == 201
    response = admin.delete(f"/api/admin/clients/{client_id}")
    assert response.status_code == 200 and response.get_json()["id"] == client_id
    (event,) = events_of(container, "client.delete", client_id)
    assert event["data"]["previous"]["name"] == f"Doomed {t}"
    assert event["data"]["new"]["deleted_at"] == response.get_json()["deleted_at"]
    assert event["data"]["invitations_revoked"] == [invited.get_json()["invitation"]["id"]]
    assert client_row(container, client_id).deleted_at is not None  # the row stays
    assert admin.get(f"/api/admin/clients/{client_id}").status_code == 404
    assert admin.get("/api/admin/clients", query_string={"q": t}).get_json()["items"] == []
    assert admin.delete(f"/api/admin/clients/{client_id}").status_code == 404
    assert admin.patch(f"/api/admin/clients/{client_id}", json={"name": "Back"}).status_code == 404
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(invitation.c.revoked_at).where(invitation.c.client_id == client_id)).scalar()
    with context.bound(request_id=None, actor=ADMIN):  # the ledger keeps the account and its history
        balance = container.platform.call(
            "credits", container.platform.credits.GetBalance, credits_pb2.GetBalanceRequest(client_id=client_id)
        )
    assert balance.balance == 5


def test_a_viewer_cannot_mutate_and_nothing_changes(sign_in, container, directory_client):
    viewer = sign_in(Role.VIEWER)
    name = f"Protected {tag()}"
    client_id = directory_client(name)
    attempts = [
        viewer.post("/api/admin/clients", json={"name": f"Sneaky {tag()}"}),
        viewer.patch(f"/api/admin/clients/{client_id}", json={"name": "Renamed"}),
        viewer.patch(f"/api/admin/clients/{client_id}/settings", json={"metadata": {"a": 1}}),
        viewer.delete(f"/api/admin/clients/{client_id}"),
    ]
    assert [r.status_code for r in attempts] == [403, 403, 403, 403]
    row = client_row(container, client_id)
    assert row.name == name and row.deleted_at is None and row.metadata == {}
    assert viewer.get(f"/api/admin/clients/{client_id}").status_code == 200
    assert events_of(container, "client.update", client_id) == []


# --- settings --------------------------------------------------------------------------------


def test_settings_are_typed_merged_and_audited(sign_in, container):
    admin = sign_in()
    client_id = admin.post("/api/admin/clients", json={"name": f"Settings {tag()}"}).get_json()["id"]
    path = f"/api/admin/clients/{client_id}/settings"
    empty = admin.get(path).get_json()
    assert empty["store_connection"] is None and empty["metadata"] == {}
    assert set(empty["ai_settings"].values()) == {None}

    ai = {"model": "gemini-2.5-flash-image", "temperature": 0.7, "image_size": "2K", "style_prompt": "warm light"}
    response = admin.patch(path, json={"ai_settings": ai, "metadata": {"crm_id": 42, "tags": ["vip"]}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ai_settings"]["temperature"] == 0.7 and body["ai_settings"]["image_size"] == "2K"
    assert body["metadata"] == {"crm_id": 42, "tags": ["vip"]}
    (event,) = events_of(container, "client.settings_update", client_id)
    assert event["data"]["previous"] == {"ai_settings": {}, "metadata": {}}
    assert event["data"]["new"]["ai_settings"] == ai

    merged = admin.patch(path, json={"ai_settings": {"temperature": None, "image_quality": "high"}}).get_json()
    assert merged["ai_settings"]["temperature"] is None  # back to the default
    assert (
        merged["ai_settings"]["model"] == "gemini-2.5-flash-image" and merged["ai_settings"]["image_quality"] == "high"
    )
    assert len(events_of(container, "client.settings_update", client_id)) == 2

    # The same again: nothing changed, nothing recorded.
    assert admin.patch(path, json={"ai_settings": {"image_quality": "high"}}).status_code == 200
    assert admin.patch(path, json={}).status_code == 200
    assert len(events_of(container, "client.settings_update", client_id)) == 2

    connection = {"platform": "shopify", "url": "https://acme.myshopify.com", "status": "connected",
                  "auto_sync": True, "last_sync_at": "2026-01-05T10:00:00+00:00"}  # fmt: skip
    stored = admin.patch(path, json={"store_connection": connection}).get_json()
    assert stored["store_connection"]["platform"] == "shopify" and stored["store_connection"]["auto_sync"] is True
    assert admin.patch(path, json={"store_connection": None}).get_json()["store_connection"] is None


BAD_SETTINGS = [
    ({"ai_settings": {"temperature": 2.5}}, "ai_settings.temperature"),
    ({"ai_settings": {"temperature": -0.1}}, "ai_settings.temperature"),
    ({"ai_settings": {"temperature": "hot"}}, "ai_settings.temperature"),
    ({"ai_settings": {"seed_of_chaos": 1}}, "ai_settings.seed_of_chaos"),
    ({"ai_settings": {"image_size": "8K"}}, "ai_settings.image_size"),
    ({"ai_settings": {"api_key": "AIzaSyA-0123456789"}}, "secret store"),
    ({"theme": "dark"}, "theme"),
    ({"store_connection": {"platform": "magento", "url": "https://x.example"}}, "store_connection.platform"),
    ({"store_connection": {"platform": "shopify", "url": "ftp://x.example"}}, "store_connection.url"),
    ({"store_connection": {"platform": "shopify", "url": "https://x.example", "api_key": "shpat_123"}}, "secret store"),
    (
        {"store_connection": {"platform": "woocommerce", "url": "https://x.example", "consumer_secret": "cs_1"}},
        "secret store",
    ),
    ({"store_connection": {"platform": "custom", "url": "https://user:pw@x.example"}}, "secret store"),
    ({"store_connection": {"platform": "custom", "url": "https://x.example/?access_token=abc"}}, "secret store"),
    (
        {"store_connection": {"platform": "shopify", "url": "https://x.example", "status": "fine"}},
        "store_connection.status",
    ),
    ({"metadata": {"blob": "x" * 8200}}, "8192"),
    ({"metadata": {"nested": {"password": "hunter2"}}}, "secret store"),
    ({"metadata": ["not", "an", "object"]}, "metadata"),
]


def test_bad_settings_are_400_and_change_nothing(sign_in, container, directory_client):
    admin = sign_in()
    client_id = directory_client(f"Strict {tag()}")
    for body, says in BAD_SETTINGS:
        response = admin.patch(f"/api/admin/clients/{client_id}/settings", json=body)
        assert response.status_code == 400, body
        error = response.get_json()["error"]
        assert error["code"] == "invalid_request"
        assert says in json.dumps(error["details"]), (body, error)
    row = client_row(container, client_id)
    assert (row.ai_settings, row.store_connection, row.metadata) == ({}, None, {})
    assert events_of(container, "client.settings_update", client_id) == []


# --- products and sessions -------------------------------------------------------------------


def test_products_and_sessions_filter_and_page(sign_in, container, directory_client):
    admin = sign_in(Role.VIEWER)
    client_id = directory_client(f"Catalogue {tag()}")
    other = directory_client(f"Other {tag()}")
    products = [
        ("Oak chair", "chairs", "imported"),
        ("Pine chair", "chairs", "uploaded"),
        ("Sofa", "sofas", "imported"),
        ("Lamp", None, "uploaded"),
        ("Stool", "chairs", "imported"),
    ]
    with container.engine.begin() as conn:
        for age, (name, category, source) in enumerate(products):
            conn.execute(
                product.insert().values(
                    id=new_id("prd"), client_id=client_id, name=name, category=category, source=source,
                    created_at=NOW - timedelta(minutes=age),
                )
            )  # fmt: skip
        conn.execute(product.insert().values(id=new_id("prd"), client_id=other, name="Elsewhere", source="imported"))
        for age, status in enumerate(["draft", "completed", "completed", "archived"]):
            conn.execute(
                collection_session.insert().values(
                    id=new_id("ses"), client_id=client_id, name=f"S{age}", status=status, product_count=age,
                    generation_count=age * 2, created_at=NOW - timedelta(minutes=age),
                )
            )  # fmt: skip
        # Two rows created in the same instant: the id breaks the tie, and paging still sees both once.
        same = NOW - timedelta(hours=1)
        for name in ("Twin A", "Twin B"):
            conn.execute(
                product.insert().values(
                    id=new_id("prd"), client_id=client_id, name=name, source="uploaded", created_at=same
                )
            )

    base = f"/api/admin/clients/{client_id}"

    def product_names(**params):
        response = admin.get(f"{base}/products", query_string=params)
        assert response.status_code == 200, response.get_json()
        return [p["name"] for p in response.get_json()["items"]]

    newest_first = product_names()
    assert newest_first[:5] == ["Oak chair", "Pine chair", "Sofa", "Lamp", "Stool"]
    assert set(newest_first[5:]) == {"Twin A", "Twin B"}
    assert product_names(source="imported") == ["Oak chair", "Sofa", "Stool"]
    assert product_names(category="chairs") == ["Oak chair", "Pine chair", "Stool"]
    assert product_names(category="chairs", source="uploaded") == ["Pine chair"]
    paged = all_pages(admin, f"{base}/products", limit=2)
    assert len(paged) == len(set(paged)) == 7
    assert admin.get(f"{base}/products", query_string={"source": "stolen"}).status_code == 400

    sessions = admin.get(f"{base}/sessions").get_json()["items"]
    assert [s["status"] for s in sessions] == ["draft", "completed", "completed", "archived"]
    assert sessions[1] == {**sessions[1], "product_count": 1, "generation_count": 2}
    completed = admin.get(f"{base}/sessions", query_string={"status": "completed"}).get_json()["items"]
    assert [s["name"] for s in completed] == ["S1", "S2"]
    assert len(all_pages(admin, f"{base}/sessions", limit=3)) == 4
    assert admin.get(f"{base}/sessions", query_string={"status": "lost"}).status_code == 400
