"""Admin management by super admins: create, list, change, disable, delete, revoke sessions; the
last-super-admin and no-self-demotion rules; roles; and no password or hash in any event."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from admin_api.adapters.tables import admin_session, admin_user, outbox, platform_setting
from admin_api.service_layer import admins as admin_service
from admin_api.testing import events_of
from scenergy.common.identity import Role
from scenergy.common.ids import new_id

ROOT = "/api/admin/settings/admins"
ME = "/api/admin/auth/me"
STRONG = "a sturdy passphrase for 2 admins"


def row_of(container, admin_id):
    with container.engine.connect() as conn:
        return conn.execute(sa.select(admin_user).where(admin_user.c.id == admin_id)).one()._asdict()


def live_sessions(container, admin_id):
    with container.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(admin_session)
            .where(admin_session.c.admin_id == admin_id, admin_session.c.revoked_at.is_(None))
        ).scalar_one()


def email():
    return f"{new_id('t')}@scenergy.test"


@pytest.fixture
def boss(sign_in):
    return sign_in(Role.SUPER_ADMIN)


@pytest.fixture
def sole_super_admin(sign_in, container):
    """A super admin who is, for the test, the only live one (the others are disabled, then restored)."""
    session = sign_in(Role.SUPER_ADMIN)
    a = admin_user.c
    with container.engine.begin() as conn:
        others = (
            conn.execute(
                admin_user.update()
                .where(
                    a.role == "super_admin",
                    a.deleted_at.is_(None),
                    a.disabled.is_(False),
                    a.id != session.admin["id"],
                )
                .values(disabled=True)
                .returning(a.id)
            )
            .scalars()
            .all()
        )
    yield session
    with container.engine.begin() as conn:
        conn.execute(admin_user.update().where(a.id.in_(others)).values(disabled=False))


@pytest.fixture
def allowed_domains(container):
    """Sets `allowed_admin_email_domains` for a test, and puts back what was there."""
    with container.engine.begin() as conn:
        saved = conn.execute(
            sa.select(platform_setting).where(platform_setting.c.key == "allowed_admin_email_domains")
        ).first()

    def set_to(domains):
        with container.engine.begin() as conn:
            conn.execute(platform_setting.delete().where(platform_setting.c.key == "allowed_admin_email_domains"))
            conn.execute(platform_setting.insert().values(key="allowed_admin_email_domains", value=domains))

    yield set_to
    with container.engine.begin() as conn:
        conn.execute(platform_setting.delete().where(platform_setting.c.key == "allowed_admin_email_domains"))
        if saved is not None:
            conn.execute(platform_setting.insert().values(**saved._asdict()))


def test_create_list_update_and_delete_an_admin(boss, container, new_client):
    address = email()
    created = boss.post(ROOT, json={"email": address.upper(), "name": " Ada ", "role": "admin", "password": STRONG})
    assert created.status_code == 201, created.get_json()
    admin = created.get_json()
    assert set(admin) == {"id", "email", "name", "role", "disabled", "last_login_at", "created_at"}
    assert admin["email"] == address and admin["name"] == "Ada" and admin["role"] == "admin"
    assert admin["disabled"] is False and admin["last_login_at"] is None
    assert STRONG not in created.get_data(as_text=True)
    (event,) = events_of(container, "admin.create", admin["id"])
    assert event["actor"]["id"] == boss.admin["id"] and event["data"]["new"]["email"] == address
    assert row_of(container, admin["id"])["password_hash"].startswith("$argon2id$")

    # the new admin can sign in with that password
    client = new_client()
    assert client.post("/api/admin/auth/login", json={"email": address, "password": STRONG}).status_code == 200

    listed = boss.get(ROOT, query_string={"q": address}).get_json()
    assert listed["items"] == [{**admin, "last_login_at": listed["items"][0]["last_login_at"]}]
    assert listed["items"][0]["last_login_at"] is not None and listed["total"] == 1
    assert listed["next_cursor"] is None

    renamed = boss.patch(f"{ROOT}/{admin['id']}", json={"name": "Ada L."})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Ada L."
    update = events_of(container, "admin.update", admin["id"])[-1]
    assert update["data"]["previous"] == {"name": "Ada"} and update["data"]["new"] == {"name": "Ada L."}
    assert update["data"]["sessions_revoked"] == 0
    assert client.get(ME).status_code == 200  # a rename doesn't sign anyone out

    deleted = boss.delete(f"{ROOT}/{admin['id']}")
    assert deleted.status_code == 200, deleted.get_json()
    assert deleted.get_json()["id"] == admin["id"] and deleted.get_json()["sessions_revoked"] == 1
    assert client.get(ME).status_code == 401
    assert row_of(container, admin["id"])["deleted_at"] is not None  # soft: the row stays for the audit trail
    assert boss.get(ROOT, query_string={"q": address}).get_json()["items"] == []
    (gone,) = events_of(container, "admin.delete", admin["id"])
    assert gone["data"]["previous"]["email"] == address and gone["data"]["new"] is None
    assert boss.delete(f"{ROOT}/{admin['id']}").status_code == 404  # already deleted
    # the email is free again
    again = boss.post(ROOT, json={"email": address, "role": "viewer", "password": STRONG})
    assert again.status_code == 201 and again.get_json()["id"] != admin["id"]


def test_creation_refuses_weak_passwords_duplicates_and_bad_emails(boss, make_admin, container):
    existing = make_admin(Role.VIEWER)
    count = len(events_of(container, "admin.create"))
    cases = [
        ({"email": email(), "role": "admin", "password": "short"}, 400, "weak_password"),
        ({"email": email(), "role": "admin", "password": "aaaaaaaaaaaaaaaa"}, 400, "weak_password"),
        ({"email": existing["email"].upper(), "role": "admin", "password": STRONG}, 409, "admin_exists"),
        ({"email": "not-an-email", "role": "admin", "password": STRONG}, 400, "invalid_email"),
        ({"email": email(), "role": "root", "password": STRONG}, 400, "invalid_request"),
        ({"email": email(), "role": "admin"}, 400, "invalid_request"),
        ({"email": email(), "role": "admin", "password": STRONG, "is_super": True}, 400, "invalid_request"),
        ([], 400, "invalid_request"),
    ]
    for body, status, code in cases:
        response = boss.post(ROOT, json=body)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["error"]["code"] == code, body
        assert STRONG not in response.get_data(as_text=True)
    assert len(events_of(container, "admin.create")) == count


def test_two_creations_of_one_email_at_once_give_one_admin_and_a_409(boss, container):
    address = email()
    answer = {}

    def the_api_call():
        answer["response"] = boss.post(ROOT, json={"email": address, "role": "viewer", "password": STRONG})

    with container.engine.connect() as conn:
        transaction = conn.begin()
        admin_service.create_admin(conn, email=address, password=STRONG, role=Role.VIEWER)
        racer = threading.Thread(target=the_api_call)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # past its own duplicate check, its insert waits on the unique index
        transaction.commit()
    racer.join(10)
    response = answer["response"]
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "admin_exists"
    with container.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(admin_user).where(admin_user.c.email == address)
        ).scalar_one()
    assert count == 1


def test_creation_honours_the_allowed_email_domains(boss, allowed_domains):
    allowed_domains(["scenergy.ai"])
    outside = boss.post(ROOT, json={"email": email(), "role": "admin", "password": STRONG})
    assert outside.status_code == 400 and outside.get_json()["error"]["code"] == "email_domain_not_allowed"
    assert outside.get_json()["error"]["details"]["fields"][0]["field"] == "email"
    inside = boss.post(ROOT, json={"email": f"{new_id('t')}@Scenergy.AI", "role": "viewer", "password": STRONG})
    assert inside.status_code == 201, inside.get_json()


def test_a_role_change_signs_the_admin_out_at_once(boss, sign_in, make_admin, container):
    target = make_admin(Role.ADMIN)
    theirs = sign_in(admin=target)
    assert theirs.get(ME).status_code == 200
    response = boss.patch(f"{ROOT}/{target['id']}", json={"role": "viewer"})
    assert response.status_code == 200 and response.get_json()["role"] == "viewer"
    assert theirs.get(ME).status_code == 401
    event = events_of(container, "admin.update", target["id"])[-1]
    assert event["data"]["previous"] == {"role": "admin"} and event["data"]["new"] == {"role": "viewer"}
    assert event["data"]["sessions_revoked"] == 1
    # signing in again gives the new role
    assert sign_in(admin=target).get(ME).get_json()["admin"]["role"] == "viewer"


def test_disabling_signs_out_and_blocks_sign_in_until_enabled(boss, sign_in, make_admin, new_client, container):
    target = make_admin(Role.ADMIN)
    theirs = sign_in(admin=target)
    disabled = boss.patch(f"{ROOT}/{target['id']}", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.get_json()["disabled"] is True
    assert theirs.get(ME).status_code == 401
    login = {"email": target["email"], "password": target["password"]}
    assert new_client().post("/api/admin/auth/login", json=login).status_code == 401
    event = events_of(container, "admin.update", target["id"])[-1]
    assert event["data"]["new"] == {"disabled": True} and event["data"]["sessions_revoked"] == 1
    assert boss.get(ROOT, query_string={"q": target["email"]}).get_json()["items"][0]["disabled"] is True

    enabled = boss.patch(f"{ROOT}/{target['id']}", json={"disabled": False})
    assert enabled.status_code == 200 and enabled.get_json()["disabled"] is False
    assert new_client().post("/api/admin/auth/login", json=login).status_code == 200


def test_a_patch_that_changes_nothing_records_nothing(boss, make_admin, container):
    target = make_admin(Role.ADMIN)
    response = boss.patch(f"{ROOT}/{target['id']}", json={"role": "admin", "disabled": False})
    assert response.status_code == 200
    assert events_of(container, "admin.update", target["id"]) == []


def test_the_last_super_admin_cannot_be_demoted_disabled_or_deleted(sole_super_admin, container):
    me = sole_super_admin.admin["id"]
    for method, body in (("patch", {"role": "admin"}), ("patch", {"disabled": True}), ("delete", None)):
        call = getattr(sole_super_admin, method)
        response = call(f"{ROOT}/{me}", json=body) if body else call(f"{ROOT}/{me}")
        assert response.status_code == 409, (method, body, response.get_json())
        assert response.get_json()["error"]["code"] == "last_super_admin"
    row = row_of(container, me)
    assert row["role"] == "super_admin" and not row["disabled"] and row["deleted_at"] is None
    assert sole_super_admin.get(ME).status_code == 200
    # whoever asks (the rule lives in the service layer, not only in the self check)
    with pytest.raises(admin_service.AdminError) as refused, container.engine.begin() as conn:
        admin_service.delete_admin(conn, me, actor_id=new_id("adm"))
    assert refused.value.code == "last_super_admin"


def test_two_super_admins_demoting_each_other_at_once_leave_one(sole_super_admin, make_admin, container):
    first_id, second_id = sole_super_admin.admin["id"], make_admin(Role.SUPER_ADMIN)["id"]
    outcome = {}

    def the_other_one():
        try:
            with container.engine.begin() as conn:
                admin_service.update_admin(conn, first_id, actor_id=second_id, role=Role.ADMIN)
            outcome["second"] = "demoted"
        except admin_service.AdminError as exc:
            outcome["second"] = exc.code

    with container.engine.connect() as conn:
        transaction = conn.begin()
        admin_service.update_admin(conn, second_id, actor_id=first_id, role=Role.ADMIN)
        racer = threading.Thread(target=the_other_one)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # it waits for the first change to commit or roll back
        transaction.commit()
    racer.join(10)
    assert outcome == {"second": "last_super_admin"}
    assert row_of(container, first_id)["role"] == "super_admin" and row_of(container, second_id)["role"] == "admin"


def test_the_last_super_admin_may_promote_another_then_step_down_through_them(sole_super_admin, sign_in, make_admin):
    other = make_admin(Role.ADMIN)
    promoted = sole_super_admin.patch(f"{ROOT}/{other['id']}", json={"role": "super_admin"})
    assert promoted.status_code == 200
    successor = sign_in(admin=other)
    me = sole_super_admin.admin["id"]
    demoted = successor.patch(f"{ROOT}/{me}", json={"role": "admin"})
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "admin"
    assert sole_super_admin.get(ME).status_code == 401
    # now the successor is the last one
    response = successor.patch(f"{ROOT}/{other['id']}", json={"disabled": True})
    assert response.get_json()["error"]["code"] == "last_super_admin"


def test_an_admin_cannot_demote_disable_or_delete_themselves(boss, sign_in, container):
    sign_in(Role.SUPER_ADMIN)  # another super admin exists: only the self rule stands in the way
    me = boss.admin["id"]
    for method, body in (("patch", {"role": "viewer"}), ("patch", {"disabled": True}), ("delete", None)):
        call = getattr(boss, method)
        response = call(f"{ROOT}/{me}", json=body) if body else call(f"{ROOT}/{me}")
        assert response.status_code == 409, (method, body, response.get_json())
        assert response.get_json()["error"]["code"] == "cannot_change_self"
    assert row_of(container, me)["role"] == "super_admin"
    renamed = boss.patch(f"{ROOT}/{me}", json={"name": "Me, renamed"})
    assert renamed.status_code == 200 and boss.get(ME).status_code == 200


def test_revoke_sessions_ends_every_session_of_that_admin(boss, sign_in, make_admin, container):
    target = make_admin(Role.VIEWER)
    first, second = sign_in(admin=target), sign_in(admin=target)
    bystander = sign_in(Role.VIEWER)
    response = boss.post(f"{ROOT}/{target['id']}/revoke-sessions")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"admin_id": target["id"], "sessions_revoked": 2}
    assert first.get(ME).status_code == 401 and second.get(ME).status_code == 401
    assert bystander.get(ME).status_code == 200 and boss.get(ME).status_code == 200
    (event,) = events_of(container, "admin.revoke_sessions", target["id"])
    assert event["data"]["sessions_revoked"] == 2 and event["actor"]["id"] == boss.admin["id"]
    assert sign_in(admin=target).get(ME).status_code == 200  # not disabled: they may sign in again


@pytest.mark.parametrize(
    "admin_id", ["nope", "adm_", "adm_01jzzzzzzzzzzzzzzzzzzzzzzz", "cli_01jzzzzzzzzzzzzzzzzzzzzzzz"]
)
def test_unknown_or_malformed_ids_are_404(boss, admin_id):
    for response in (
        boss.patch(f"{ROOT}/{admin_id}", json={"name": "x"}),
        boss.delete(f"{ROOT}/{admin_id}"),
        boss.post(f"{ROOT}/{admin_id}/revoke-sessions"),
    ):
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["error"]["code"] == "admin_not_found"


def test_a_deleted_admin_is_not_found(boss, make_admin):
    target = make_admin(Role.VIEWER)
    assert boss.delete(f"{ROOT}/{target['id']}").status_code == 200
    assert boss.patch(f"{ROOT}/{target['id']}", json={"name": "ghost"}).status_code == 404
    assert boss.post(f"{ROOT}/{target['id']}/revoke-sessions").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"role": "owner"},
        {"role": None},
        {"disabled": "yes"},
        {"disabled": None},
        {"name": None},
        {"name": "x" * 201},
        {"name": "nul\u0000byte"},
        {"name": "lone \ud800 surrogate"},
        {"email": "new@scenergy.test"},
        {"password": "a brand new password"},
        [],
    ],
)
def test_invalid_patches_are_400_and_change_nothing(boss, make_admin, container, body):
    target = make_admin(Role.ADMIN)
    before = row_of(container, target["id"])
    response = boss.patch(f"{ROOT}/{target['id']}", json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_request"
    assert response.get_json()["error"]["details"]["fields"]
    assert row_of(container, target["id"]) == before


def test_the_list_searches_and_pages(boss, make_admin):
    marker = new_id("m")
    made = [make_admin(Role.VIEWER, email=f"{marker}.{i}@scenergy.test") for i in range(3)]
    first = boss.get(ROOT, query_string={"q": marker.upper(), "limit": 2}).get_json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
    second = boss.get(ROOT, query_string={"q": marker, "limit": 2, "cursor": first["next_cursor"]}).get_json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == [admin["id"] for admin in reversed(made)]  # newest first
    assert all("password" not in item and "password_hash" not in item for item in first["items"])
    supers = boss.get(ROOT, query_string={"role": "super_admin", "limit": 100}).get_json()["items"]
    assert boss.admin["id"] in {item["id"] for item in supers} and {item["role"] for item in supers} == {"super_admin"}
    # wildcards are searched for literally
    assert boss.get(ROOT, query_string={"q": "%"}).get_json()["total"] == 0
    bad = (
        {"limit": 0},
        {"limit": 101},
        {"cursor": "garbage!"},
        {"cursor": "WyJ4IiwieSJd"},
        {"sort": "email"},
        {"q": "a\x00"},
    )
    for query in bad:
        response = boss.get(ROOT, query_string=query)
        assert response.status_code == 400, (query, response.get_json())


def _every_route(target_id):
    return [
        ("get", ROOT, None),
        ("post", ROOT, {"email": email(), "role": "super_admin", "password": STRONG}),
        ("patch", f"{ROOT}/{target_id}", {"role": "super_admin"}),
        ("patch", f"{ROOT}/{target_id}", {"disabled": True}),
        ("delete", f"{ROOT}/{target_id}", None),
        ("post", f"{ROOT}/{target_id}/revoke-sessions", None),
    ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
def test_only_super_admins_manage_admins(sign_in, make_admin, container, role):
    target = make_admin(Role.VIEWER)
    target_session = sign_in(admin=target)
    caller = sign_in(role)
    with container.engine.connect() as conn:
        admins_before = conn.execute(sa.select(sa.func.count()).select_from(admin_user)).scalar_one()
    row_before = row_of(container, target["id"])
    caller_before = row_of(container, caller.admin["id"])
    for method, path, body in _every_route(target["id"]) + _every_route(caller.admin["id"]):
        call = getattr(caller, method)
        response = call(path, json=body) if body is not None else call(path)
        assert response.status_code == 403, (role, method, path, response.get_json())
        assert response.get_json()["error"]["code"] == "forbidden"
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(admin_user)).scalar_one() == admins_before
    assert row_of(container, target["id"]) == row_before
    assert row_of(container, caller.admin["id"]) == caller_before
    assert target_session.get(ME).status_code == 200 and caller.get(ME).status_code == 200
    assert live_sessions(container, target["id"]) == 1
    assert events_of(container, "admin.update", target["id"]) == []
    assert events_of(container, "admin.revoke_sessions", target["id"]) == []
    forbidden = events_of(container, "auth.forbidden", caller.admin["id"])
    assert len(forbidden) == 12  # each refusal is audited


def test_a_repeated_idempotency_key_creates_one_admin(boss, container):
    body = {"email": email(), "role": "viewer", "password": STRONG}
    headers = {"Idempotency-Key": new_id("key")}
    first = boss.post(ROOT, json=body, headers=headers)
    again = boss.post(ROOT, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == first.get_json()
    assert len(events_of(container, "admin.create", first.get_json()["id"])) == 1


def test_no_event_ever_holds_a_password_or_a_hash(boss, sign_in, make_admin, container):
    created = boss.post(ROOT, json={"email": email(), "role": "admin", "password": STRONG}).get_json()
    target = sign_in(admin={**created, "password": STRONG})
    boss.patch(f"{ROOT}/{created['id']}", json={"role": "viewer", "name": "Renamed"})
    boss.post(f"{ROOT}/{created['id']}/revoke-sessions")
    boss.delete(f"{ROOT}/{created['id']}")
    assert target.get(ME).status_code == 401
    hashes = []
    with container.engine.connect() as conn:
        hashes = list(conn.execute(sa.select(admin_user.c.password_hash)).scalars())
        payloads = [json.dumps(p) for p in conn.execute(sa.select(outbox.c.payload)).scalars()]
    assert payloads
    actions = {"create", "update", "revoke_sessions", "delete"}
    mine = [p for p in payloads if created["id"] in p]
    assert {json.loads(p)["type"].rsplit(".", 1)[1] for p in mine} >= actions
    for text in payloads:
        assert STRONG not in text and "$argon2" not in text and "password_hash" not in text
        assert not any(h in text for h in hashes)
