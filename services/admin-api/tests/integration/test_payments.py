"""Payments through the gateway, against the real payments service: webhooks delivered to its webhook
app and processed by its processor, its purchases and refunds in the real credits service, and
Stripe's API played by the local wire server (through the stripe library)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

import payments.bootstrap as payments_bootstrap
from admin_api.clients.platform import Platform
from admin_api.testing import tag
from payments.adapters.tables import credit_pack
from payments.entrypoints.grpc_server import build_server as build_payments_server
from payments.entrypoints.webhooks import create_app as create_webhook_app
from scenergy.common.identity import Role
from scenergy_dev.wire.stripe import StripeWireServer, sign_webhook, webhook_body

ROOT = "/api/admin/payments"
UNKNOWN_PAYMENT = "pay_01jd0000000000000000000000"
UNKNOWN_EVENT = "evt_0000000000000000000000unknown"
PACK = {"id": "pack_gw_100", "name": "100 credits", "credits": 100, "price_amount": 2000, "currency": "usd"}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pack(payments_container: Any) -> dict[str, Any]:
    """A credit pack made straight in the payments database: 100 credits for $20.00."""
    with payments_container.engine.begin() as conn:
        conn.execute(pg_insert(credit_pack).values(**PACK).on_conflict_do_nothing())
    return PACK


@pytest.fixture
def deliver(payments_container: Any) -> Callable[[dict[str, Any]], None]:
    """POST a Stripe event to the payments webhook app, signed like Stripe, then process what is due."""
    client = create_webhook_app(payments_container).test_client()
    secret = payments_container.settings.webhook_secrets[0]

    def post(event: dict[str, Any]) -> None:
        body = webhook_body(event)
        response = client.post(
            "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": sign_webhook(body, secret), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()
        while payments_container.processor.process_due():
            pass

    return post


@pytest.fixture
def buy(stripe_server: StripeWireServer, deliver: Callable[..., None], pack: dict[str, Any]) -> Callable[..., Any]:
    """A paid Checkout Session of a client in Stripe, announced by its webhook and processed:
    (session, event)."""

    def make(client_id: str, *, pack_id: str | None = None, customer: str | None = None, amount: int = 2000) -> Any:
        session = stripe_server.add_checkout_session(client_id, pack_id or pack["id"], amount, customer=customer)
        event = stripe_server.event("checkout.session.completed", session)
        deliver(event)
        return session, event

    return make


def payment_of(session: Any, client_id: str) -> dict[str, Any]:
    """The client's one payment, as the list shows it."""
    response = session.get(f"{ROOT}/transactions", query_string={"client_id": client_id, "include_total": "true"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"]) == 1, body
    return body["items"][0]  # type: ignore[no-any-return]


def balance(session: Any, client_id: str) -> int:
    return session.get(f"/api/admin/clients/{client_id}/credits").get_json()["balance"]  # type: ignore[no-any-return]


def usd(items: list[dict[str, Any]]) -> int:
    return sum(m["amount"] for m in items if m["currency"] == "usd")


@pytest.fixture
def platform_with_payments_at(container: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the gateway's payments stub elsewhere for one test."""
    made: list[Platform] = []

    def point(address: str) -> None:
        s = container.settings
        platform = Platform.connect(
            credits_addr=s.credits_addr,
            audit_addr=s.audit_addr,
            generation_addr=s.generation_addr,
            payments_addr=address,
            credential_key=s.service_credential_key,
            deadline_s=1.0,
        )
        made.append(platform)
        monkeypatch.setattr(container, "platform", platform)

    yield point
    for platform in made:
        platform.close()


@pytest.fixture
def payments_without_stripe(payments_container: Any) -> Iterator[str]:
    """A second payments gRPC server on the same database, without Stripe configured (as in the
    embedded run): its address."""
    settings = dataclasses.replace(payments_container.settings, stripe_api_key=None, db_pool_size=2)
    built = payments_bootstrap.bootstrap(settings, process="test-no-stripe")
    server = build_payments_server(built, host="127.0.0.1", port=0).start()
    yield f"127.0.0.1:{server.port}"
    server.stop(grace_s=1)
    built.close()


# --- the overview, a purchase, its events and its customer ------------------------------------


def test_a_paid_checkout_shows_everywhere_with_the_client_name(sign_in, directory_client, stripe_server, buy, pack):
    viewer = sign_in(Role.VIEWER)
    before = viewer.get(ROOT)
    assert before.status_code == 200, before.get_json()
    name = f"Nordic Oak {tag()}"
    client_id = directory_client(name)
    email = f"{tag()}@nordic-oak.example"
    customer = stripe_server.add_customer(email=email, name=name)
    session, event = buy(client_id, customer=customer["id"])

    # the overview counts it
    after = viewer.get(ROOT).get_json()
    assert after["payments_30d"] == before.get_json()["payments_30d"] + 1
    assert usd(after["revenue_today"]) == usd(before.get_json()["revenue_today"]) + 2000
    assert usd(after["revenue_30d"]) >= usd(after["revenue_7d"]) >= usd(after["revenue_today"]) >= 2000
    assert after["mrr"] == [] and after["last_event_at"] is not None
    assert set(after) >= {"refunds_30d", "failed_webhooks", "disputed_payments", "last_reconciled_at", "open_drift"}

    # the list, with the client's name from the directory
    payment = payment_of(viewer, client_id)
    assert payment["client_name"] == name and payment["status"] == "paid" and not payment["disputed"]
    assert payment["amount"] == {"amount": 2000, "currency": "usd"} and payment["credits"] == 100
    assert payment["checkout_session_id"] == session["id"] and payment["payment_intent_id"] == session["payment_intent"]
    assert payment["customer_id"] == customer["id"] and payment["credit_pack_id"] == pack["id"]
    assert payment["purchase_transaction_id"] and payment["paid_at"]
    listed = viewer.get(f"{ROOT}/transactions", query_string={"status": "paid", "limit": 100}).get_json()
    assert payment["id"] in {p["id"] for p in listed["items"]}
    assert all(p["status"] == "paid" for p in listed["items"])
    refunded = viewer.get(f"{ROOT}/transactions", query_string={"status": "refunded", "client_id": client_id})
    assert refunded.get_json()["items"] == []
    window = {"paid_from": "2000-01-01T00:00:00Z", "paid_to": "2000-01-02T00:00:00Z", "client_id": client_id}
    assert viewer.get(f"{ROOT}/transactions", query_string=window).get_json()["items"] == []

    # the detail: Stripe ids, the ledger's purchase, its events
    detail = viewer.get(f"{ROOT}/transactions/{payment['id']}")
    assert detail.status_code == 200, detail.get_json()
    d = detail.get_json()
    assert d["payment"] == payment and d["refunds"] == [] and d["degraded"] == []
    purchase = d["credit_transaction"]
    assert purchase["id"] == payment["purchase_transaction_id"] and purchase["type"] == "purchase"
    assert purchase["amount"] == 100 and purchase["client_id"] == client_id
    assert [e["id"] for e in d["events"]] == [event["id"]] and d["events"][0]["status"] == "processed"
    assert balance(viewer, client_id) == 100

    # the event
    events = viewer.get(f"{ROOT}/events", query_string={"type": "checkout.session.completed", "include_total": "true"})
    assert events.status_code == 200
    assert event["id"] in {e["id"] for e in events.get_json()["items"]} and events.get_json()["total"] >= 1
    processed = viewer.get(f"{ROOT}/events", query_string={"status": "processed", "limit": 100}).get_json()["items"]
    assert all(e["status"] == "processed" for e in processed)
    one = viewer.get(f"{ROOT}/events/{event['id']}").get_json()
    assert one["payload"]["id"] == event["id"] and one["payload"]["data"]["object"]["id"] == session["id"]
    assert one["status"] == "processed" and one["payment_id"] == payment["id"] and one["object_id"] == session["id"]
    assert one["deliveries"] == 1 and one["attempts"] == 1 and one["outcome"] and one["last_error"] is None
    assert "payload" not in events.get_json()["items"][0]

    # its Stripe customer, found by email prefix, customer id or client id
    for search in (email[:8], customer["id"], client_id):
        found = viewer.get(f"{ROOT}/customers", query_string={"search": search}).get_json()["items"]
        (mine,) = [c for c in found if c["stripe_customer_id"] == customer["id"]]
        assert mine["client_id"] == client_id and mine["client_name"] == name and mine["email"] == email
        assert mine["payments"] == 1 and mine["total_paid"] == [{"amount": 2000, "currency": "usd"}]
    assert viewer.get(f"{ROOT}/customers", query_string={"search": "nobody-at-all@"}).get_json()["items"] == []

    # the dashboard's payments block
    dashboard = viewer.get("/api/admin/dashboard").get_json()
    assert usd(dashboard["payments"]["revenue_today"]) >= 2000
    assert dashboard["payments"]["failed_webhooks"] == after["failed_webhooks"]
    assert {h["service"]: h["status"] for h in dashboard["system_health"]}["payments"] == "healthy"


def test_list_pages_walk_by_cursor(sign_in, directory_client, buy):
    viewer = sign_in(Role.VIEWER)
    client_id = directory_client(f"Three Buys {tag()}")
    for _ in range(3):
        buy(client_id)
    seen, cursor = [], None
    for _ in range(5):
        query = {"client_id": client_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = viewer.get(f"{ROOT}/transactions", query_string=query).get_json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3
    first = viewer.get(f"{ROOT}/events", query_string={"limit": 1}).get_json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = viewer.get(f"{ROOT}/events", query_string={"limit": 1, "cursor": first["next_cursor"]}).get_json()
    assert second["items"][0]["id"] != first["items"][0]["id"]


# --- refunds -----------------------------------------------------------------------------------


def test_refunds_as_super_admin_partial_then_the_rest_then_too_much(sign_in, directory_client, buy, stripe_server):
    client_id = directory_client(f"Refunded Rugs {tag()}")
    session, _ = buy(client_id)
    super_admin = sign_in(Role.SUPER_ADMIN)
    payment = payment_of(super_admin, client_id)
    path = f"{ROOT}/transactions/{payment['id']}/refund"

    for role in (Role.ADMIN, Role.VIEWER):
        refused = sign_in(role).post(path, json={"amount": 500, "reason": "customer asked"})
        assert refused.status_code == 403, (role, refused.get_json())
    assert payment_of(super_admin, client_id)["amount_refunded"] == 0

    key = {"Idempotency-Key": f"refund-{tag()}"}
    partial = super_admin.post(path, json={"amount": 500, "reason": "customer asked"}, headers=key)
    assert partial.status_code == 200, partial.get_json()
    d = partial.get_json()
    assert d["payment"]["status"] == "partially_refunded" and d["payment"]["amount_refunded"] == 500
    assert d["payment"]["credits_refunded"] == 25 and d["payment"]["charge_id"]
    (record,) = d["refunds"]
    assert record["amount"] == 500 and record["status"] == "succeeded" and record["stripe_refund_id"].startswith("re_")
    assert record["requested_by"] == super_admin.admin["id"] and record["reason"] == "customer asked"
    assert balance(super_admin, client_id) == 75

    # the same request again (a lost answer): replayed, no second refund at Stripe
    again = super_admin.post(path, json={"amount": 500, "reason": "customer asked"}, headers=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    sent = [r for r in stripe_server.requests if r.method == "POST" and r.path == "/v1/refunds"]
    mine = [r for r in sent if r.params.get("payment_intent") == session["payment_intent"]]
    assert len(mine) == 1 and mine[0].idempotency_key.startswith(f"refund-{payment['id']}-gw_")

    rest = super_admin.post(path, json={"reason": "the rest as well"})
    assert rest.status_code == 200, rest.get_json()
    r = rest.get_json()
    assert r["payment"]["status"] == "refunded" and r["payment"]["amount_refunded"] == 2000
    assert r["payment"]["credits_refunded"] == 100 and [x["amount"] for x in r["refunds"]] == [500, 1500]
    assert balance(super_admin, client_id) == 0

    too_much = super_admin.post(path, json={"amount": 1, "reason": "one cent more"})
    assert too_much.status_code == 409, too_much.get_json()
    assert "remains" in too_much.get_json()["error"]["message"]
    assert super_admin.get(f"{ROOT}/transactions", query_string={"status": "refunded", "client_id": client_id}).get_json()["items"]  # fmt: skip
    overview = super_admin.get(ROOT).get_json()
    assert usd(overview["refunds_30d"]) >= 2000


def test_refund_input_is_checked_before_anything_moves(sign_in, directory_client, buy):
    client_id = directory_client(f"Careful Chairs {tag()}")
    buy(client_id)
    super_admin = sign_in(Role.SUPER_ADMIN)
    payment = payment_of(super_admin, client_id)
    path = f"{ROOT}/transactions/{payment['id']}/refund"
    for bad in (
        {"amount": 0, "reason": "zero"},
        {"amount": -5, "reason": "negative"},
        {"amount": 500},
        {"amount": 500, "reason": ""},
        {"amount": 500, "reason": "x" * 501},
        {"amount": "all", "reason": "text"},
        {"amount": 500, "reason": "ok", "currency": "usd"},
    ):
        assert super_admin.post(path, json=bad).status_code == 400, bad
    assert super_admin.post(f"{ROOT}/transactions/not-a-payment/refund", json={"reason": "why"}).status_code == 400
    assert super_admin.post(f"{ROOT}/transactions/{UNKNOWN_PAYMENT}/refund", json={"reason": "why"}).status_code == 404
    assert payment_of(super_admin, client_id)["amount_refunded"] == 0 and balance(super_admin, client_id) == 100


def test_refunds_and_reconciliation_without_stripe_are_503(
    sign_in, directory_client, buy, payments_without_stripe, platform_with_payments_at
):
    client_id = directory_client(f"No Stripe {tag()}")
    buy(client_id)
    super_admin = sign_in(Role.SUPER_ADMIN)
    payment = payment_of(super_admin, client_id)
    platform_with_payments_at(payments_without_stripe)
    refund = super_admin.post(f"{ROOT}/transactions/{payment['id']}/refund", json={"reason": "customer asked"})
    assert refund.status_code == 503, refund.get_json()
    assert refund.get_json()["error"]["code"] == "stripe_unavailable"
    assert "STRIPE_API_KEY" in refund.get_json()["error"]["message"]
    reconcile = super_admin.post(f"{ROOT}/reconciliation", json={})
    assert reconcile.status_code == 503 and reconcile.get_json()["error"]["code"] == "stripe_unavailable"
    assert payment_of(super_admin, client_id)["amount_refunded"] == 0  # reads still answer


# --- webhook events: a failed one, retried --------------------------------------------------


def test_a_failed_event_is_retried_once_its_pack_exists(sign_in, directory_client, buy, stripe_server):
    client_id = directory_client(f"Early Bird {tag()}")
    pack_id = f"pack_{tag()}"
    _, event = buy(client_id, pack_id=pack_id, amount=1000)
    viewer = sign_in(Role.VIEWER)

    failed = viewer.get(f"{ROOT}/events", query_string={"status": "failed", "limit": 100}).get_json()["items"]
    assert event["id"] in {e["id"] for e in failed} and all(e["status"] == "failed" for e in failed)
    detail = viewer.get(f"{ROOT}/events/{event['id']}").get_json()
    assert detail["status"] == "failed" and pack_id in detail["last_error"] and detail["next_attempt_at"] is None
    assert viewer.get(ROOT).get_json()["failed_webhooks"] >= 1
    assert viewer.get(f"{ROOT}/transactions", query_string={"client_id": client_id}).get_json()["items"] == []

    path = f"{ROOT}/events/{event['id']}/retry"
    for role in (Role.ADMIN, Role.VIEWER):
        assert sign_in(role).post(path, json={"reason": "pack added"}).status_code == 403, role

    super_admin = sign_in(Role.SUPER_ADMIN)
    still = super_admin.post(path, json={"reason": "too early"})
    assert still.status_code == 200 and still.get_json()["status"] == "failed"

    pack = {"id": pack_id, "name": "50 credits", "credits": 50, "price": {"amount": 1000, "currency": "usd"}}
    assert super_admin.post(f"{ROOT}/packs", json=pack).status_code == 201
    retried = super_admin.post(path, json={"reason": "the pack exists now"})
    assert retried.status_code == 200, retried.get_json()
    r = retried.get_json()
    assert (
        r["status"] == "processed" and r["payment_id"] and r["last_error"] is None and r["payload"]["id"] == event["id"]
    )
    assert payment_of(viewer, client_id)["credits"] == 50 and balance(viewer, client_id) == 50

    assert super_admin.post(path, json={}).status_code == 409  # only failed events are retried
    assert super_admin.post(f"{ROOT}/events/{UNKNOWN_EVENT}/retry", json={}).status_code == 404
    assert super_admin.post(f"{ROOT}/events/not-an-event/retry", json={}).status_code == 400
    assert super_admin.post(path, json={"reason": "x" * 501}).status_code == 400
    assert viewer.get(f"{ROOT}/events/{UNKNOWN_EVENT}").status_code == 404


# --- credit packs ------------------------------------------------------------------------------


def test_credit_packs_are_created_and_changed_by_super_admins_only(sign_in):
    super_admin, admin, viewer = sign_in(Role.SUPER_ADMIN), sign_in(Role.ADMIN), sign_in(Role.VIEWER)
    pack_id = f"pack_{tag()}"
    body = {
        "id": pack_id,
        "name": "500 credits",
        "credits": 500,
        "price": {"amount": 7900, "currency": "USD"},
        "stripe_price_id": "price_1Abc",
    }
    for session in (admin, viewer):
        assert session.post(f"{ROOT}/packs", json=body).status_code == 403
    for bad in (
        {**body, "credits": 0},
        {**body, "credits": 10_000_001},
        {**body, "price": {"amount": -1, "currency": "usd"}},
        {**body, "price": {"amount": 100, "currency": "dollars"}},
        {**body, "id": "Pack 500"},
        {**body, "name": ""},
        {**body, "stripe_price_id": "price 1"},
        {**body, "discount": 10},
        {k: v for k, v in body.items() if k != "price"},
    ):
        assert super_admin.post(f"{ROOT}/packs", json=bad).status_code == 400, bad

    created = super_admin.post(f"{ROOT}/packs", json=body)
    assert created.status_code == 201, created.get_json()
    pack = created.get_json()
    assert pack["id"] == pack_id and pack["active"] and pack["price"] == {"amount": 7900, "currency": "usd"}
    assert pack["stripe_price_id"] == "price_1Abc" and pack["credits"] == 500 and pack["created_at"]
    assert super_admin.post(f"{ROOT}/packs", json=body).status_code == 409
    generated = super_admin.post(f"{ROOT}/packs", json={k: v for k, v in body.items() if k != "id"})
    assert generated.status_code == 201 and generated.get_json()["id"].startswith("pack_")
    assert pack_id in {p["id"] for p in viewer.get(f"{ROOT}/packs").get_json()["items"]}

    path = f"{ROOT}/packs/{pack_id}"
    assert admin.patch(path, json={"active": False}).status_code == 403
    assert viewer.patch(path, json={"active": False}).status_code == 403
    for bad in ({}, {"name": None}, {"active": "perhaps"}, {"name": ""}, {"credits": 1}, {"stripe_price_id": "a b"}):
        assert super_admin.patch(path, json=bad).status_code == 400, bad
    off = super_admin.patch(path, json={"active": False, "name": "500 credits (old)"})
    assert off.status_code == 200, off.get_json()
    assert not off.get_json()["active"] and off.get_json()["name"] == "500 credits (old)"
    assert pack_id not in {p["id"] for p in viewer.get(f"{ROOT}/packs").get_json()["items"]}
    every = viewer.get(f"{ROOT}/packs", query_string={"include_inactive": "true"}).get_json()["items"]
    assert pack_id in {p["id"] for p in every}
    unlinked = super_admin.patch(path, json={"stripe_price_id": ""})
    assert unlinked.status_code == 200 and unlinked.get_json()["stripe_price_id"] is None
    assert unlinked.get_json()["name"] == "500 credits (old)" and not unlinked.get_json()["active"]
    assert super_admin.patch(f"{ROOT}/packs/pack_nothing_here", json={"active": True}).status_code == 404
    assert super_admin.patch(f"{ROOT}/packs/Not-A-Pack", json={"active": True}).status_code == 400
    assert viewer.get(f"{ROOT}/packs", query_string={"include_inactive": "maybe"}).status_code == 400


# --- reconciliation ----------------------------------------------------------------------------


def test_reconciliation_heals_a_payment_whose_webhook_never_came(
    sign_in, directory_client, stripe_server, pack, payments_container
):
    super_admin, admin, viewer = sign_in(Role.SUPER_ADMIN), sign_in(Role.ADMIN), sign_in(Role.VIEWER)
    with payments_container.engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM reconciliation_run")).scalar_one()
    if runs == 0:
        missing = viewer.get(f"{ROOT}/reconciliation")
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"

    client_id = directory_client(f"Silent Webhook {tag()}")
    session = stripe_server.add_checkout_session(client_id, pack["id"], pack["price_amount"])  # no webhook

    assert admin.post(f"{ROOT}/reconciliation", json={"heal": True}).status_code == 403
    assert viewer.post(f"{ROOT}/reconciliation", json={"heal": True}).status_code == 403
    for bad in ({"days": 0}, {"days": 91}, {"heal": "maybe"}, {"since": 3}):
        assert super_admin.post(f"{ROOT}/reconciliation", json=bad).status_code == 400, bad

    looked = super_admin.post(f"{ROOT}/reconciliation", json={"days": 1})
    assert looked.status_code == 200, looked.get_json()
    report = looked.get_json()
    (found,) = [d for d in report["drift"] if d["stripe_id"] == session["id"]]
    assert found["kind"] == "missing_purchase" and not found["healed"] and report["status"] == "drift"
    assert report["days"] == 1 and report["sessions_checked"] >= 1 and report["finished_at"]
    assert viewer.get(f"{ROOT}/transactions", query_string={"client_id": client_id}).get_json()["items"] == []

    healed = super_admin.post(f"{ROOT}/reconciliation", json={"days": 1, "heal": True})
    assert healed.status_code == 200, healed.get_json()
    report = healed.get_json()
    (fixed,) = [d for d in report["drift"] if d["stripe_id"] == session["id"]]
    assert fixed["healed"] and fixed["payment_id"].startswith("pay_") and report["healed"] >= 1
    payment = payment_of(viewer, client_id)
    assert payment["id"] == fixed["payment_id"] and payment["checkout_session_id"] == session["id"]
    assert balance(viewer, client_id) == 100

    last = viewer.get(f"{ROOT}/reconciliation")
    assert last.status_code == 200 and last.get_json()["id"] == report["id"]
    assert viewer.get(ROOT).get_json()["last_reconciled_at"] is not None


# --- roles, bad input, a service that is down ----------------------------------------------------


def test_a_viewer_reads_every_payments_screen_and_gets_403_on_every_mutation(sign_in, directory_client, buy):
    client_id = directory_client(f"Look Only {tag()}")
    _, event = buy(client_id)
    viewer = sign_in(Role.VIEWER)
    payment = payment_of(viewer, client_id)
    for path in (
        ROOT,
        f"{ROOT}/transactions",
        f"{ROOT}/transactions/{payment['id']}",
        f"{ROOT}/events",
        f"{ROOT}/events/{event['id']}",
        f"{ROOT}/packs",
        f"{ROOT}/customers",
    ):
        assert viewer.get(path).status_code == 200, path
    mutations = [
        ("post", f"{ROOT}/transactions/{payment['id']}/refund", {"reason": "customer asked"}),
        ("post", f"{ROOT}/events/{event['id']}/retry", {}),
        ("post", f"{ROOT}/packs", {"name": "x", "credits": 1, "price": {"amount": 1, "currency": "usd"}}),
        ("patch", f"{ROOT}/packs/{PACK['id']}", {"active": False}),
        ("post", f"{ROOT}/reconciliation", {"heal": True}),
    ]
    for method, path, body in mutations:
        response = getattr(viewer, method)(path, json=body)
        assert response.status_code == 403, (method, path, response.status_code)
    assert payment_of(viewer, client_id)["amount_refunded"] == 0
    assert PACK["id"] in {p["id"] for p in viewer.get(f"{ROOT}/packs").get_json()["items"]}


@pytest.mark.parametrize(
    ("path", "query"),
    [
        (f"{ROOT}/transactions", {"limit": 1000}),
        (f"{ROOT}/transactions", {"limit": 0}),
        (f"{ROOT}/transactions", {"status": "lost"}),
        (f"{ROOT}/transactions", {"client_id": "acme"}),
        (f"{ROOT}/transactions", {"cursor": "not-a-cursor"}),
        (f"{ROOT}/transactions", {"paid_from": "yesterday"}),
        (f"{ROOT}/transactions", {"paid_from": "2026-01-02T00:00:00Z", "paid_to": "2026-01-01T00:00:00Z"}),
        (f"{ROOT}/transactions", {"include_total": "perhaps"}),
        (f"{ROOT}/transactions/not-a-payment", {}),
        (f"{ROOT}/transactions/{UNKNOWN_EVENT}", {}),
        (f"{ROOT}/events", {"limit": 1000}),
        (f"{ROOT}/events", {"status": "lost"}),
        (f"{ROOT}/events", {"type": "Checkout Session"}),
        (f"{ROOT}/events", {"cursor": "bm90IGEgY3Vyc29y"}),
        (f"{ROOT}/events/not-an-event", {}),
        (f"{ROOT}/events/{UNKNOWN_PAYMENT}", {}),
        (f"{ROOT}/packs", {"include_inactive": "maybe"}),
        (f"{ROOT}/customers", {"limit": 1000}),
        (f"{ROOT}/customers", {"search": "x" * 201}),
    ],
)
def test_bad_input_is_400(sign_in, path, query):
    viewer = sign_in(Role.VIEWER)
    response = viewer.get(path, query_string=query)
    assert response.status_code == 400, (path, query, response.get_json())
    assert response.get_json()["error"]["code"] in ("invalid_request", "invalid_argument")


def test_unknown_payments_are_404(sign_in):
    viewer = sign_in(Role.VIEWER)
    response = viewer.get(f"{ROOT}/transactions/{UNKNOWN_PAYMENT}")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_with_payments_down_the_dashboard_renders_and_payments_answer_503(sign_in, platform_with_payments_at):
    admin = sign_in(Role.ADMIN)
    platform_with_payments_at("127.0.0.1:1")
    dashboard = admin.get("/api/admin/dashboard")
    assert dashboard.status_code == 200
    body = dashboard.get_json()
    assert body["payments"] is None and body["credits"] is not None and body["totals"] is not None
    health = {h["service"]: h["status"] for h in body["system_health"]}
    assert health["payments"] == "down" and health["credits"] == "healthy"
    down = admin.get(f"{ROOT}/transactions")
    assert down.status_code == 503 and down.get_json()["error"]["code"] == "service_unavailable"
