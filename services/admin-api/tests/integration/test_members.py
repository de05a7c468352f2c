"""A client's members and invitations: invite, list, change, remove; resend and revoke; the owner rule."""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from admin_api.adapters.tables import app_user, idempotency_record, invitation, membership
from admin_api.testing import events_of, make_client, tag
from scenergy.common.identity import Role
from scenergy.common.ids import new_id

NOW = datetime.now(UTC)


def member(container, client_id, role="editor", status="active", email=None):
    user_id = new_id("usr")
    with container.engine.begin() as conn:
        conn.execute(app_user.insert().values(id=user_id, email=email or f"{user_id}@acme.test", name="Member"))
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


def membership_of(container, client_id, user_id):
    with container.engine.connect() as conn:
        return conn.execute(
            sa.select(membership).where(membership.c.client_id == client_id, membership.c.user_id == user_id)
        ).first()


def invitation_of(container, invitation_id):
    with container.engine.connect() as conn:
        return conn.execute(sa.select(invitation).where(invitation.c.id == invitation_id)).one()


def token_of(invite_url):
    prefix, token = invite_url.rsplit("/invite/", 1)
    return prefix, token


def stored_anywhere(container, text):
    """Whether `text` appears in any table of the gateway's directory and bookkeeping."""
    tables = ("app_user", "membership", "invitation", "outbox", "idempotency_record", "client")
    with container.engine.connect() as conn:
        for name in tables:
            hit = conn.execute(
                sa.text(f"SELECT 1 FROM {name} t WHERE position(:needle in t::text) > 0 LIMIT 1"), {"needle": text}
            ).first()
            if hit is not None:
                return name
        body = conn.execute(
            sa.select(idempotency_record.c.body).where(
                sa.func.position(sa.literal(text.encode()).op("in")(idempotency_record.c.body)) > 0
            )
        ).first()
    return "idempotency_record.body" if body is not None else None


def test_invite_creates_the_user_a_membership_and_a_hashed_token(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    email = f"New.Person.{tag()}@Acme.test"
    response = admin.post(f"/api/admin/clients/{client_id}/users", json={"email": f"  {email} ", "role": "editor"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    member_out, sent = body["member"], body["invitation"]
    assert member_out | {"user_id": None, "added_at": None} == {
        "user_id": None,
        "email": email.lower(),
        "name": "",
        "role": "editor",
        "status": "invited",
        "joined_at": None,
        "added_at": None,
        "last_active_at": None,
    }
    assert sent["status"] == "pending" and sent["sent_count"] == 1 and sent["invited_by"] == admin.admin["id"]
    expires = datetime.fromisoformat(sent["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    prefix, token = token_of(body["invite_url"])
    assert prefix == container.settings.public_url.rstrip("/") and len(token) >= 40

    row = invitation_of(container, sent["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored_anywhere(container, token) is None  # only its hash is kept: not in a row, an event, a replay
    assert stored_anywhere(container, email.lower()) == "app_user"  # (the search does find what is there)
    (created,) = events_of(container, "user.create", member_out["user_id"])
    assert created["data"]["new"]["email"] == email.lower()
    (invited,) = events_of(container, "user.invite", member_out["user_id"])
    assert invited["data"]["client_id"] == client_id and invited["data"]["invitation_id"] == sent["id"]
    assert invited["data"]["new"]["role"] == "editor" and invited["data"]["new"]["status"] == "invited"
    assert token not in json.dumps(invited) and row.token_hash not in json.dumps(invited)


def test_inviting_an_existing_user_reuses_them(sign_in, container):
    admin = sign_in()
    first, second = make_client(container), make_client(container)
    user_id = member(container, first, "owner")
    email = f"{user_id}@acme.test"
    response = admin.post(f"/api/admin/clients/{second}/users", json={"email": email.upper(), "role": "viewer"})
    assert response.status_code == 201
    assert response.get_json()["member"]["user_id"] == user_id
    assert events_of(container, "user.create", user_id) == []
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(app_user.c.email == email)).scalar_one() == 1


def test_invite_conflicts_and_validation(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    active = member(container, client_id)
    path = f"/api/admin/clients/{client_id}/users"
    already = admin.post(path, json={"email": f"{active}@acme.test", "role": "editor"})
    assert already.status_code == 409 and already.get_json()["error"]["code"] == "already_member"
    email = f"{tag()}@acme.test"
    sent = admin.post(path, json={"email": email, "role": "viewer"}).get_json()
    again = admin.post(path, json={"email": email, "role": "owner"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invitation_pending"
    assert again.get_json()["error"]["details"]["invitation_id"] == sent["invitation"]["id"]
    for bad in (
        {"email": "not-an-email", "role": "editor"},
        {"email": "a@b.c", "role": "admin"},
        {"email": "x@acme.test"},
        {"email": "x@acme.test", "role": "editor", "token": "mine"},
    ):
        response = admin.post(path, json=bad)
        assert response.status_code == 400, bad
    gone = make_client(container, deleted_at=NOW)
    assert admin.post(f"/api/admin/clients/{gone}/users", json={"email": email, "role": "viewer"}).status_code == 404
    assert admin.post("/api/admin/clients/bogus/users", json={"email": email, "role": "viewer"}).status_code == 404


def test_an_idempotent_replay_of_an_invite_does_not_show_the_token_again(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    headers = {"Idempotency-Key": new_id("key")}
    body = {"email": f"{tag()}@acme.test", "role": "editor"}
    first = admin.post(f"/api/admin/clients/{client_id}/users", json=body, headers=headers)
    assert first.status_code == 201
    _, token = token_of(first.get_json()["invite_url"])
    replay = admin.post(f"/api/admin/clients/{client_id}/users", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json() == {**first.get_json(), "invite_url": None}
    assert stored_anywhere(container, token) is None
    assert (
        stored_anywhere(container, '"invite_url":null') == "idempotency_record.body"
    )  # the replay kept, minus the token
    assert len(events_of(container, "user.invite", first.get_json()["member"]["user_id"])) == 1


def test_members_list_filters_and_pages(sign_in, container):
    viewer = sign_in(Role.VIEWER)
    client_id = make_client(container)
    owner = member(container, client_id, "owner")
    editor = member(container, client_id, "editor")
    invited = member(container, client_id, "viewer", "invited")
    suspended = member(container, client_id, "editor", "suspended")
    member(container, make_client(container), "owner")  # another client's
    path = f"/api/admin/clients/{client_id}/users"
    items = viewer.get(path).get_json()["items"]
    assert [m["user_id"] for m in items] == [owner, editor, invited, suspended]
    assert {k: items[0][k] for k in ("role", "status", "name")} == {
        "role": "owner",
        "status": "active",
        "name": "Member",
    }
    assert items[0]["email"] == f"{owner}@acme.test" and items[0]["joined_at"] and items[2]["joined_at"] is None
    assert [m["user_id"] for m in viewer.get(path, query_string={"status": "invited"}).get_json()["items"]] == [invited]
    assert [m["user_id"] for m in viewer.get(path, query_string={"role": "editor"}).get_json()["items"]] == [
        editor,
        suspended,
    ]
    seen, cursor = [], None
    while True:
        page = viewer.get(path, query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}).get_json()
        seen += [m["user_id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [owner, editor, invited, suspended]
    assert viewer.get(path, query_string={"status": "gone"}).status_code == 400


def test_update_member_role_and_status(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    member(container, client_id, "owner")
    editor = member(container, client_id, "editor")
    path = f"/api/admin/clients/{client_id}/users/{editor}"
    response = admin.patch(path, json={"role": "viewer", "status": "suspended"})
    assert response.status_code == 200
    assert response.get_json()["role"] == "viewer" and response.get_json()["status"] == "suspended"
    (event,) = events_of(container, "user.update", editor)
    assert event["data"]["previous"] == {"role": "editor", "status": "active"}
    assert event["data"]["new"] == {"role": "viewer", "status": "suspended"}
    assert event["data"]["client_id"] == client_id
    assert admin.patch(path, json={"status": "active"}).get_json()["status"] == "active"
    for bad in ({"status": "invited"}, {"role": "admin"}, {"role": None}, {"joined_at": "2020-01-01T00:00:00Z"}):
        assert admin.patch(path, json=bad).status_code == 400, bad
    assert membership_of(container, client_id, editor).role == "viewer"

    invited = member(container, client_id, "viewer", "invited")
    activated = admin.patch(f"/api/admin/clients/{client_id}/users/{invited}", json={"status": "active"})
    assert activated.status_code == 409 and activated.get_json()["error"]["code"] == "invitation_pending"
    assert admin.patch(f"/api/admin/clients/{client_id}/users/{invited}", json={"role": "editor"}).status_code == 200

    other_client = make_client(container)
    for bad_user in ("nope", editor.replace("usr_", "cli_"), new_id("usr")):
        response = admin.patch(f"/api/admin/clients/{client_id}/users/{bad_user}", json={"role": "viewer"})
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "member_not_found"
    assert admin.patch(f"/api/admin/clients/{other_client}/users/{editor}", json={"role": "owner"}).status_code == 404


def test_a_client_keeps_at_least_one_active_owner(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    first = member(container, client_id, "owner")
    member(container, client_id, "owner", "invited")  # an invited owner is no owner yet
    member(container, client_id, "owner", "suspended")  # nor is a suspended one

    def at(user_id):
        return f"/api/admin/clients/{client_id}/users/{user_id}"

    for attempt in (
        admin.patch(at(first), json={"role": "editor"}),
        admin.patch(at(first), json={"status": "suspended"}),
        admin.delete(at(first)),
    ):
        assert attempt.status_code == 409 and attempt.get_json()["error"]["code"] == "last_owner"
    assert membership_of(container, client_id, first).role == "owner"
    assert events_of(container, "user.update", first) == events_of(container, "user.remove", first) == []

    second = member(container, client_id, "editor")
    assert admin.patch(at(second), json={"role": "owner"}).status_code == 200
    assert admin.patch(at(first), json={"role": "editor"}).status_code == 200  # second owns it now
    assert admin.delete(at(second)).get_json()["error"]["code"] == "last_owner"
    assert admin.patch(at(first), json={"role": "owner"}).status_code == 200
    assert admin.delete(at(second)).status_code == 200


def test_removing_a_member_records_it_and_revokes_their_invitation(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    member(container, client_id, "owner")
    editor = member(container, client_id, "editor")
    response = admin.delete(f"/api/admin/clients/{client_id}/users/{editor}")
    assert response.status_code == 200
    assert membership_of(container, client_id, editor) is None
    (event,) = events_of(container, "user.remove", editor)
    assert event["data"]["previous"]["role"] == "editor" and event["data"]["client_id"] == client_id
    assert admin.delete(f"/api/admin/clients/{client_id}/users/{editor}").status_code == 404

    sent = admin.post(f"/api/admin/clients/{client_id}/users", json={"email": f"{tag()}@acme.test", "role": "viewer"})
    invited = sent.get_json()["member"]["user_id"]
    assert admin.delete(f"/api/admin/clients/{client_id}/users/{invited}").status_code == 200
    assert invitation_of(container, sent.get_json()["invitation"]["id"]).revoked_at is not None
    (removed,) = events_of(container, "user.remove", invited)
    assert removed["data"]["invitations_revoked"] == [sent.get_json()["invitation"]["id"]]


def test_invitations_list_resend_and_revoke(sign_in, container):
    admin = sign_in()
    client_id = make_client(container)
    path = f"/api/admin/clients/{client_id}"
    first = admin.post(f"{path}/users", json={"email": f"a.{tag()}@acme.test", "role": "editor"}).get_json()
    second = admin.post(f"{path}/users", json={"email": f"b.{tag()}@acme.test", "role": "viewer"}).get_json()
    first_id, second_id = first["invitation"]["id"], second["invitation"]["id"]
    with container.engine.begin() as conn:
        conn.execute(invitation.update().where(invitation.c.id == first_id).values(expires_at=NOW - timedelta(hours=1)))
    listed = admin.get(f"{path}/invitations").get_json()
    assert [(i["id"], i["status"]) for i in listed["items"]] == [(second_id, "pending"), (first_id, "expired")]
    paged = admin.get(f"{path}/invitations", query_string={"limit": 1}).get_json()
    rest = admin.get(f"{path}/invitations", query_string={"limit": 1, "cursor": paged["next_cursor"]}).get_json()
    assert [i["id"] for i in paged["items"] + rest["items"]] == [second_id, first_id] and rest["next_cursor"] is None

    _, old_token = token_of(first["invite_url"])
    old_hash = invitation_of(container, first_id).token_hash
    resent = admin.post(f"{path}/invitations/{first_id}/resend")
    assert resent.status_code == 200
    _, new_token = token_of(resent.get_json()["invite_url"])
    assert new_token != old_token
    after = invitation_of(container, first_id)
    assert after.token_hash == hashlib.sha256(new_token.encode()).hexdigest() != old_hash
    assert after.sent_count == 2 and after.expires_at > datetime.now(UTC) + timedelta(days=6)
    assert resent.get_json()["invitation"]["status"] == "pending"
    assert stored_anywhere(container, new_token) is None
    (event,) = events_of(container, "invitation.resend", first_id)
    assert event["data"]["previous"]["sent_count"] == 1 and event["data"]["new"]["sent_count"] == 2
    assert new_token not in json.dumps(event) and after.token_hash not in json.dumps(event)

    revoked = admin.delete(f"{path}/invitations/{second_id}")
    assert revoked.status_code == 200
    assert invitation_of(container, second_id).revoked_at is not None
    assert membership_of(container, client_id, second["member"]["user_id"]) is None
    (event,) = events_of(container, "invitation.revoke", second_id)
    assert event["data"]["membership_removed"] == [second["member"]["user_id"]]
    assert [i["id"] for i in admin.get(f"{path}/invitations").get_json()["items"]] == [first_id]
    for late in (admin.delete(f"{path}/invitations/{second_id}"), admin.post(f"{path}/invitations/{second_id}/resend")):
        assert late.status_code == 409 and late.get_json()["error"]["code"] == "invitation_not_pending"
    # Once revoked, the address can be invited afresh.
    again = admin.post(f"{path}/users", json={"email": second["member"]["email"], "role": "owner"})
    assert again.status_code == 201

    for bad in ("nope", new_id("inv"), first_id.replace("inv_", "cli_")):
        assert admin.post(f"{path}/invitations/{bad}/resend").status_code == 404, bad
        assert admin.delete(f"{path}/invitations/{bad}").status_code == 404, bad
    other = make_client(container)
    assert admin.delete(f"/api/admin/clients/{other}/invitations/{first_id}").status_code == 404


def test_a_viewer_cannot_invite_change_or_remove(sign_in, container):
    viewer = sign_in(Role.VIEWER)
    client_id = make_client(container)
    owner = member(container, client_id, "owner")
    editor = member(container, client_id, "editor")
    with container.engine.begin() as conn:
        conn.execute(
            invitation.insert().values(
                id=(invitation_id := new_id("inv")),
                client_id=client_id,
                email=f"{tag()}@acme.test",
                role="viewer",
                token_hash=new_id("hash"),
                expires_at=NOW + timedelta(days=1),
                invited_by="adm_someone",
            )
        )
    path = f"/api/admin/clients/{client_id}"
    attempts = [
        viewer.post(f"{path}/users", json={"email": f"{tag()}@acme.test", "role": "owner"}),
        viewer.patch(f"{path}/users/{editor}", json={"role": "owner"}),
        viewer.delete(f"{path}/users/{owner}"),
        viewer.post(f"{path}/invitations/{invitation_id}/resend"),
        viewer.delete(f"{path}/invitations/{invitation_id}"),
    ]
    assert [a.status_code for a in attempts] == [403] * 5
    assert [m["user_id"] for m in viewer.get(f"{path}/users").get_json()["items"]] == [owner, editor]
    assert membership_of(container, client_id, editor).role == "editor"
    assert invitation_of(container, invitation_id).sent_count == 1
    assert invitation_of(container, invitation_id).revoked_at is None


def test_concurrent_demotions_leave_one_owner(sign_in, container):
    first_admin, second_admin = sign_in(), sign_in()
    for _ in range(3):
        client_id = make_client(container)
        owners = [member(container, client_id, "owner"), member(container, client_id, "owner")]
        barrier = threading.Barrier(2)

        def demote(session, user_id, client_id=client_id, barrier=barrier):
            barrier.wait()
            return session.patch(f"/api/admin/clients/{client_id}/users/{user_id}", json={"role": "editor"}).status_code

        with ThreadPoolExecutor(2) as pool:
            codes = sorted(pool.map(demote, [first_admin, second_admin], owners))
        assert codes == [200, 409]
        roles = [membership_of(container, client_id, user_id).role for user_id in owners]
        assert sorted(roles) == ["editor", "owner"]
