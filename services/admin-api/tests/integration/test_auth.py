"""Sign-in and sessions: cookies, CSRF, throttling and lockout, revocation, audit events."""

from __future__ import annotations

from admin_api.adapters.tables import admin_user
from admin_api.testing import events_of
from scenergy.common.identity import Role


def test_login_sets_a_hardened_cookie_and_returns_the_admin_and_csrf_token(new_client, make_admin, container):
    admin = make_admin(Role.VIEWER)
    client = new_client()
    response = client.post(
        "/api/admin/auth/login",
        json={"email": admin["email"].upper(), "password": admin["password"]},
        headers={"User-Agent": "pytest-browser"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["admin"] == {"id": admin["id"], "email": admin["email"], "name": "", "role": "viewer"}
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/admin/auth/me").get_json()["admin"]["id"] == admin["id"]
    (event,) = events_of(container, "auth.login", admin["id"])
    assert event["outcome"] == "success" and event["actor"]["user_agent"] == "pytest-browser"
    for header in ("Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options"):
        assert header in response.headers


def test_unknown_email_and_wrong_password_get_the_same_answer(new_client, make_admin, container):
    admin = make_admin()
    client = new_client()
    wrong = client.post("/api/admin/auth/login", json={"email": admin["email"], "password": "nope nope nope"})
    unknown = client.post("/api/admin/auth/login", json={"email": "nobody@scenergy.test", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["error"] == unknown.get_json()["error"]
    assert "Set-Cookie" not in wrong.headers
    (failure,) = events_of(container, "auth.login", admin["id"])
    assert failure["outcome"] == "failure" and failure["error"]["code"] == "invalid_credentials"
    assert client.get("/api/admin/auth/me").status_code == 401


def test_bad_login_bodies_are_400_with_field_errors(new_client):
    client = new_client()
    for body in ({}, {"email": "a@b.c"}, {"email": "a@b.c", "password": "x", "role": "super_admin"}, "nope"):
        response = client.post("/api/admin/auth/login", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] == "invalid_request"
        assert response.get_json()["error"]["details"]["fields"]


def test_brute_force_is_throttled_then_locked_out(new_client, make_admin, container):
    admin = make_admin()
    client = new_client()
    for _ in range(5):
        assert (
            client.post("/api/admin/auth/login", json={"email": admin["email"], "password": "guess guess"}).status_code
            == 401
        )
    locked = client.post("/api/admin/auth/login", json={"email": admin["email"], "password": admin["password"]})
    assert locked.status_code == 429  # even the right password waits out the lockout
    assert int(locked.headers["Retry-After"]) > 0
    assert events_of(container, "auth.login", admin["email"])[-1]["error"]["code"] == "throttled"


def test_logout_ends_the_session_and_a_replayed_cookie_gets_401(sign_in):
    session = sign_in()
    cookie = session.client.get_cookie("scenergy_session", path="/api/admin").value
    assert session.post("/api/admin/auth/logout").status_code == 200
    replay = session.client
    replay.set_cookie("scenergy_session", cookie, path="/api/admin", secure=True)  # an attacker kept a copy
    assert replay.get_cookie("scenergy_session", path="/api/admin").value == cookie
    assert replay.get("/api/admin/auth/me").status_code == 401


def test_a_mutation_without_the_csrf_header_is_refused_and_audited(sign_in, container):
    session = sign_in()
    response = session.client.post("/api/admin/auth/logout")  # no X-CSRF-Token
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "csrf_failed"
    assert session.get("/api/admin/auth/me").status_code == 200  # still signed in: nothing happened
    forbidden = events_of(container, "auth.forbidden", session.admin["id"])
    assert forbidden[-1]["error"]["code"] == "csrf_failed"


def test_a_password_change_revokes_the_other_sessions(sign_in, make_admin):
    admin = make_admin()
    first, second = sign_in(admin=admin), sign_in(admin=admin)
    weak = first.post("/api/admin/auth/password", json={"current_password": admin["password"], "new_password": "short"})
    assert weak.status_code == 400 and weak.get_json()["error"]["code"] == "weak_password"
    changed = first.post(
        "/api/admin/auth/password",
        json={"current_password": admin["password"], "new_password": "a much better passphrase 42"},
    )
    assert changed.status_code == 200
    assert first.get("/api/admin/auth/me").status_code == 200
    assert second.get("/api/admin/auth/me").status_code == 401


def test_a_disabled_admin_is_signed_out_at_once(sign_in, container):
    session = sign_in()
    with container.engine.begin() as conn:
        conn.execute(admin_user.update().where(admin_user.c.id == session.admin["id"]).values(disabled=True))
    assert session.get("/api/admin/auth/me").status_code == 401


def test_identity_headers_from_the_browser_are_ignored(new_client):
    client = new_client()
    spoofed = {"X-Scenergy-Credential": "forged", "X-Admin-Id": "adm_root", "X-Admin-Role": "super_admin"}
    assert client.get("/api/admin/auth/me", headers=spoofed).status_code == 401
