"""Credits and the audit log through the gateway, and the dashboard."""

from __future__ import annotations

import csv
import io

from scenergy.common.identity import Role


def test_a_grant_shows_in_the_transactions_and_the_audit_log_with_state_ip_and_agent(
    sign_in, directory_client, relay_to_audit
):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client()
    response = admin.post(
        f"/api/admin/clients/{client_id}/credits/grant",
        json={"amount": 100, "reason": "Beta tester reward"},
        headers={"User-Agent": "Mozilla/5.0 (pytest)"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["balance"]["balance"] == 100 and body["transaction"]["type"] == "grant"
    assert body["balance"]["client_name"] == "Acme Furniture"

    transactions = admin.get(f"/api/admin/clients/{client_id}/credits/transactions").get_json()["items"]
    assert [(t["amount"], t["type"], t["admin_user_id"]) for t in transactions] == [(100, "grant", admin.admin["id"])]

    relay_to_audit()
    entries = admin.get("/api/admin/audit", query_string={"entity_id": client_id, "action": "credit.grant"}).get_json()
    (entry,) = entries["items"]
    assert entry["actor_id"] == admin.admin["id"] and entry["actor_role"] == "admin"
    assert entry["ip_address"] == "127.0.0.1" and entry["user_agent"] == "Mozilla/5.0 (pytest)"
    assert entry["description"] == "Granted 100 credits (Beta tester reward)"
    assert "new_state" not in entry  # the list is a summary; the states and the diff are in the detail
    detail = admin.get(f"/api/admin/audit/{entry['id']}").get_json()
    changes = {c["path"]: c for c in detail["changes"]}
    assert (changes["/balance"]["before"], changes["/balance"]["after"]) == (0, 100)


def test_the_idempotency_key_makes_a_retried_grant_count_once(sign_in, directory_client):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client()
    first = admin.post(
        f"/api/admin/clients/{client_id}/credits/grant",
        json={"amount": 5, "reason": "retry test"},
        headers={"Idempotency-Key": "grant-once-1"},
    )
    again = admin.post(
        f"/api/admin/clients/{client_id}/credits/grant",
        json={"amount": 5, "reason": "retry test"},
        headers={"Idempotency-Key": "grant-once-1"},
    )
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    other = admin.post(
        f"/api/admin/clients/{client_id}/credits/grant",
        json={"amount": 6, "reason": "retry test"},
        headers={"Idempotency-Key": "grant-once-1"},
    )
    assert other.status_code == 409
    assert admin.get(f"/api/admin/clients/{client_id}/credits").get_json()["balance"] == 5


def test_adjustments_check_the_version_and_bad_input_changes_nothing(sign_in, directory_client):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client()
    admin.post(f"/api/admin/clients/{client_id}/credits/grant", json={"amount": 50, "reason": "seed"})
    version = admin.get(f"/api/admin/clients/{client_id}/credits").get_json()["version"]
    ok = admin.patch(
        f"/api/admin/clients/{client_id}/credits", json={"amount": -20, "reason": "typo", "expected_version": version}
    )
    assert ok.status_code == 200 and ok.get_json()["balance"]["balance"] == 30
    stale = admin.patch(
        f"/api/admin/clients/{client_id}/credits", json={"amount": -1, "reason": "typo", "expected_version": version}
    )
    assert stale.status_code == 409
    for bad in (
        {"amount": 0, "reason": "zero"},
        {"amount": "ten", "reason": "x"},
        {"amount": 5},
        {"amount": 5, "reason": "ok", "x": 1},
    ):
        response = admin.patch(f"/api/admin/clients/{client_id}/credits", json=bad)
        assert response.status_code == 400, bad
    assert (
        admin.post(f"/api/admin/clients/{client_id}/credits/grant", json={"amount": -5, "reason": "neg"}).status_code
        == 400
    )
    assert admin.get(f"/api/admin/clients/{client_id}/credits").get_json()["balance"] == 30
    assert (
        admin.post(
            "/api/admin/clients/cli_doesnotexist1/credits/grant", json={"amount": 5, "reason": "nobody"}
        ).status_code
        == 404
    )


def test_balances_summary_and_transaction_filters(sign_in, directory_client):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client("Modern Home Co")
    admin.post(f"/api/admin/clients/{client_id}/credits/grant", json={"amount": 70, "reason": "welcome"})
    listing = admin.get("/api/admin/credits", query_string={"sort": "-last_activity", "limit": 100}).get_json()
    assert listing["summary"]["accounts"] >= 1
    mine = [b for b in listing["items"] if b["client_id"] == client_id]
    assert mine and mine[0]["client_name"] == "Modern Home Co" and mine[0]["balance"] == 70
    grants = admin.get(
        "/api/admin/credits/transactions", query_string=[("client_id", client_id), ("type", "grant"), ("type", "usage")]
    ).get_json()
    assert [t["amount"] for t in grants["items"]] == [70]
    assert admin.get("/api/admin/credits/transactions", query_string={"type": "bogus"}).status_code == 400
    assert admin.get("/api/admin/credits", query_string={"limit": 1000}).status_code == 400


def test_audit_export_streams_csv_and_is_itself_audited(sign_in, directory_client, relay_to_audit):
    admin = sign_in(Role.VIEWER)
    writer = sign_in(Role.ADMIN)
    client_id = directory_client()
    writer.post(f"/api/admin/clients/{client_id}/credits/grant", json={"amount": 3, "reason": "=cmd|' /C calc'!A0"})
    relay_to_audit()
    response = admin.get("/api/admin/audit/export", query_string={"format": "csv", "entity_id": client_id})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert [r["action"] for r in rows] == ["account.open", "credit.grant"]  # oldest first
    exports = admin.get(
        "/api/admin/audit", query_string={"action": "audit.export", "admin": admin.admin["id"]}
    ).get_json()
    assert exports["items"], "the export is recorded"
    assert admin.get("/api/admin/audit/export", query_string={"format": "xlsx"}).status_code == 400


def test_the_dashboard_renders_and_reports_each_service(sign_in, directory_client, relay_to_audit):
    admin = sign_in(Role.ADMIN)
    client_id = directory_client()
    relay_to_audit()  # what earlier tests left in the outboxes goes first: the grant is then the newest
    admin.post(f"/api/admin/clients/{client_id}/credits/grant", json={"amount": 9, "reason": "dashboard"})
    relay_to_audit()
    body = admin.get("/api/admin/dashboard").get_json()
    assert body["totals"]["clients"] >= 1
    assert body["credits"]["accounts"] >= 1
    assert any(e["entity_id"] == client_id for e in body["recent_activity"])
    assert {h["service"]: h["status"] for h in body["system_health"]} == {
        "admin-api-database": "healthy",
        "credits": "healthy",
        "audit": "healthy",
        "generation": "healthy",
        "payments": "healthy",
    }
