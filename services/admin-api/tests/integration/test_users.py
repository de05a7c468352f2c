"""App users across clients: list, detail (UserAdminView), update, soft delete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from admin_api.adapters.tables import app_user, invitation, membership
from admin_api.testing import events_of, make_client, tag
from scenergy.common.identity import Role
from scenergy.common.ids import new_id

NOW = datetime.now(UTC)


def make_user(container, email, name="", **values):
    user_id = new_id("usr")
    with container.engine.begin() as conn:
        conn.execute(app_user.insert().values(id=user_id, email=email, name=name, **values))
    return user_id


def join(container, client_id, user_id, role="editor", status="active"):
    with container.engine.begin() as conn:
        conn.execute(
            membership.insert().values(
                client_id=client_id,
                user_id=user_id,
                role=role,
                status=status,
                joined_at=None if status == "invited" else NOW - timedelta(days=3),
            )
        )


def memberships_of(container, user_id):
    with container.engine.connect() as conn:
        return conn.execute(sa.select(membership).where(membership.c.user_id == user_id)).all()


def all_pages(session, path, **params):
    ids, cursor = [], None
    for _ in range(50):
        body = session.get(path, query_string={**params, **({"cursor": cursor} if cursor else {})}).get_json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("paging never ended")


def test_list_searches_email_and_name_pages_and_counts_live_clients(sign_in, container):
    viewer = sign_in(Role.VIEWER)
    t = tag()
    ada = make_user(container, f"ada.{t}@acme.test", "Ada Lovelace", created_at=NOW - timedelta(days=3))
    bob = make_user(container, f"bob@{t}.test", "Bob", last_active_at=NOW, created_at=NOW - timedelta(days=2))
    cyd = make_user(container, f"cyd@example.test.{uuid.uuid4().hex[:6]}", f"Cyd {t.upper()}", created_at=NOW)
    gone = make_user(container, f"gone.{t}@acme.test", "Gone", deleted_at=NOW)
    live, dead = make_client(container, "Live"), make_client(container, "Dead", deleted_at=NOW)
    join(container, live, ada)
    join(container, dead, ada)
    join(container, live, bob, status="invited")

    body = viewer.get("/api/admin/users", query_string={"q": t, "include_total": "true"}).get_json()
    assert [u["id"] for u in body["items"]] == [cyd, bob, ada]  # newest first; the deleted one never shows
    assert body["total"] == 3 and gone not in [u["id"] for u in body["items"]]
    by_id = {u["id"]: u for u in body["items"]}
    assert by_id[ada]["client_count"] == 1  # the deleted client doesn't count
    assert by_id[bob]["client_count"] == 1 and by_id[bob]["last_active_at"] is not None
    assert by_id[cyd] == {**by_id[cyd], "client_count": 0, "name": f"Cyd {t.upper()}", "last_active_at": None}
    assert [u["id"] for u in viewer.get("/api/admin/users", query_string={"q": f"ADA.{t}"}).get_json()["items"]] == [
        ada
    ]
    assert viewer.get("/api/admin/users", query_string={"q": f"x{t}"}).get_json()["items"] == []
    wordless = viewer.get("/api/admin/users", query_string={"q": "%_&|!", "include_total": "true"}).get_json()
    assert wordless["items"] == [] and wordless["total"] == 0 and wordless["next_cursor"] is None
    assert [u["id"] for u in viewer.get("/api/admin/users", query_string={"q": f"bob {t}"}).get_json()["items"]] == [
        bob
    ]
    assert all_pages(viewer, "/api/admin/users", q=t, limit=1) == [cyd, bob, ada]
    assert all_pages(viewer, "/api/admin/users", q=t, limit=2) == [cyd, bob, ada]
    for bad in ({"limit": "500"}, {"cursor": "zzz"}, {"sort": "email"}):
        assert viewer.get("/api/admin/users", query_string=bad).status_code == 400, bad


def test_detail_is_the_user_admin_view(sign_in, container):
    viewer = sign_in(Role.VIEWER)
    t = tag()
    user = make_user(container, f"{t}@acme.test", "Ada", email_verified=True, image="https://img.example/a.png")
    beta, alpha = make_client(container, f"Beta {t}"), make_client(container, f"alpha {t}")
    dead = make_client(container, f"Dead {t}", deleted_at=NOW)
    join(container, beta, user, "owner", "active")
    join(container, alpha, user, "viewer", "invited")
    join(container, dead, user)

    detail = viewer.get(f"/api/admin/users/{user}").get_json()
    assert {k: detail[k] for k in ("id", "email", "name", "image", "email_verified", "last_active_at")} == {
        "id": user,
        "email": f"{t}@acme.test",
        "name": "Ada",
        "image": "https://img.example/a.png",
        "email_verified": True,
        "last_active_at": None,
    }
    assert [(m["client_id"], m["client_name"], m["role"], m["status"]) for m in detail["memberships"]] == [
        (alpha, f"alpha {t}", "viewer", "invited"),
        (beta, f"Beta {t}", "owner", "active"),
    ]
    assert detail["memberships"][0]["joined_at"] is None and detail["memberships"][1]["joined_at"]
    assert "total_generations" not in detail  # not recorded per user: not invented
    for bad in ("nope", "cli_01jabcdefghjkmnpqrstvwxyz0", "usr_01jabcdefghjkmnpqrstvwxyz0"):
        response = viewer.get(f"/api/admin/users/{bad}")
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "user_not_found"


def test_update_records_previous_and_new(sign_in, container):
    admin = sign_in()
    user = make_user(container, f"{tag()}@acme.test", "Old Name")
    response = admin.patch(f"/api/admin/users/{user}", json={"name": "New Name", "email_verified": True})
    assert response.status_code == 200
    assert response.get_json()["name"] == "New Name" and response.get_json()["email_verified"] is True
    (event,) = events_of(container, "user.update", user)
    assert event["data"]["previous"] == {"name": "Old Name", "email_verified": False}
    assert event["data"]["new"] == {"name": "New Name", "email_verified": True}
    assert admin.patch(f"/api/admin/users/{user}", json={"name": "New Name"}).status_code == 200
    for bad in ({"name": None}, {"email": "x@y.test"}, {"email_verified": "sometimes"}, {"name": "x" * 201}):
        assert admin.patch(f"/api/admin/users/{user}", json=bad).status_code == 400, bad
    assert len(events_of(container, "user.update", user)) == 1
    assert admin.patch("/api/admin/users/usr_01jabcdefghjkmnpqrstvwxyz0", json={"name": "x"}).status_code == 404


def test_delete_removes_memberships_and_revokes_invitations(sign_in, container):
    admin = sign_in()
    t = tag()
    email = f"{t}@acme.test"
    user = make_user(container, email, "Leaving")
    first, second = make_client(container, f"First {t}"), make_client(container, f"Second {t}")
    join(container, first, user, "editor", "active")
    join(container, second, user, "viewer", "invited")
    with container.engine.begin() as conn:
        conn.execute(
            invitation.insert().values(
                id=new_id("inv"),
                client_id=second,
                email=email,
                role="viewer",
                token_hash=new_id("hash"),
                expires_at=NOW + timedelta(days=7),
                invited_by=admin.admin["id"],
            )
        )

    response = admin.delete(f"/api/admin/users/{user}")
    assert response.status_code == 200
    assert response.get_json() | {"deleted_at": None} == {
        "id": user,
        "deleted_at": None,
        "memberships_removed": 2,
        "invitations_revoked": 1,
    }
    assert memberships_of(container, user) == []
    (event,) = events_of(container, "user.delete", user)
    previous = event["data"]["previous"]
    assert previous["email"] == email and previous["name"] == "Leaving"
    assert sorted((m["client_id"], m["role"], m["status"]) for m in previous["memberships"]) == sorted(
        [(first, "editor", "active"), (second, "viewer", "invited")]
    )
    assert len(event["data"]["invitations_revoked"]) == 1
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(invitation.c.revoked_at).where(invitation.c.email == email)).scalar()
        assert conn.execute(sa.select(app_user.c.deleted_at).where(app_user.c.id == user)).scalar()
    assert admin.get(f"/api/admin/users/{user}").status_code == 404
    assert admin.get("/api/admin/users", query_string={"q": t}).get_json()["items"] == []
    assert admin.get(f"/api/admin/clients/{first}/users").get_json()["items"] == []
    assert admin.delete(f"/api/admin/users/{user}").status_code == 404


def test_the_last_active_owner_of_a_client_cannot_be_deleted(sign_in, container):
    admin = sign_in()
    t = tag()
    owner = make_user(container, f"owner.{t}@acme.test")
    shop = make_client(container, f"Shop {t}")
    join(container, shop, owner, "owner", "active")
    join(container, shop, make_user(container, f"invited.{t}@acme.test"), "owner", "invited")  # doesn't count
    refused = admin.delete(f"/api/admin/users/{owner}")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "last_owner"
    assert len(memberships_of(container, owner)) == 1
    assert events_of(container, "user.delete", owner) == []
    join(container, shop, make_user(container, f"second.{t}@acme.test"), "owner", "active")
    assert admin.delete(f"/api/admin/users/{owner}").status_code == 200


def test_a_viewer_cannot_change_or_delete_users(sign_in, container):
    viewer = sign_in(Role.VIEWER)
    user = make_user(container, f"{tag()}@acme.test", "Kept")
    assert viewer.patch(f"/api/admin/users/{user}", json={"name": "Changed"}).status_code == 403
    assert viewer.delete(f"/api/admin/users/{user}").status_code == 403
    detail = viewer.get(f"/api/admin/users/{user}").get_json()
    assert detail["name"] == "Kept"
    assert events_of(container, "user.update", user) == events_of(container, "user.delete", user) == []
