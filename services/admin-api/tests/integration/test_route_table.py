"""The permission table covers every route: a new route can't ship without deciding who may call it."""

from __future__ import annotations

import re

from admin_api.permissions import OPERATIONAL, PERMISSIONS, PUBLIC
from scenergy.common.identity import Role

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in OPERATIONAL or rule.rule.startswith("/api/admin/docs"):
            continue
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield method, rule.rule


def concrete(rule: str) -> str:
    """A URL for a rule, with a well-formed id in every placeholder."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: f"{m.group(1).split('_')[0][:3]}_01jd0000000000000000000000", rule)


def test_every_route_is_in_the_permission_table_and_every_entry_is_a_route(app):
    served = set(routes(app))
    missing = sorted(served - set(PERMISSIONS))
    assert missing == [], f"routes without a line in admin_api.permissions.PERMISSIONS: {missing}"
    stale = sorted(set(PERMISSIONS) - served)
    assert stale == [], f"permission lines without a route: {stale}"


def test_a_viewer_gets_403_on_every_mutation_and_nothing_changes(app, sign_in, capsys):
    viewer = sign_in(Role.VIEWER)
    mutations = [(m, r) for m, r in routes(app) if m not in ("GET",) and PERMISSIONS[(m, r)] is not PUBLIC]
    mutations = [(m, r) for m, r in mutations if r != "/api/admin/auth/logout" and r != "/api/admin/auth/password"]
    for method, rule in mutations:
        response = viewer.client.open(concrete(rule), method=method, json={}, headers=viewer.headers())
        assert response.status_code == 403, (method, rule, response.status_code)
    with capsys.disabled():
        print(f"\n{len(mutations)} mutating routes refused to a viewer")
    assert viewer.get("/api/admin/auth/me").status_code == 200


def test_without_a_session_every_route_but_sign_in_answers_401(app, new_client):
    client = new_client()
    for method, rule in routes(app):
        response = client.open(concrete(rule), method=method, json={})
        if PERMISSIONS[(method, rule)] is PUBLIC:
            assert response.status_code != 401, (method, rule)
        else:
            assert response.status_code == 401, (method, rule, response.status_code)


def test_every_mutation_route_is_closed_to_viewers_in_the_table():
    for (method, rule), roles in PERMISSIONS.items():
        if method != "GET" and roles is not PUBLIC:
            assert Role.VIEWER not in roles or rule in ("/api/admin/auth/logout", "/api/admin/auth/password"), rule


def test_the_openapi_document_says_what_each_route_needs(new_client):
    document = new_client().get("/api/admin/openapi.json").get_json()
    needs = {
        (method.upper(), path): [sorted(item) for item in op["security"]]
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert needs[("POST", "/api/admin/auth/login")] == []
    assert needs[("GET", "/api/admin/clients")] == [["session"]]
    assert needs[("POST", "/api/admin/clients")] == [["csrf", "session"]]
    assert all(v for (m, p), v in needs.items() if p != "/api/admin/auth/login")
