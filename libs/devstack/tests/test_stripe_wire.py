"""The Stripe wire server, driven by the real `stripe` library, and the webhook signing helper."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from scenergy_dev.wire.stripe import API_VERSION, StripeWireServer, decode_form, sign_webhook, webhook_body

SECRET = "whsec_test_wire"


@pytest.fixture
def server() -> Iterator[StripeWireServer]:
    with StripeWireServer() as wire:
        yield wire


def _client(server: StripeWireServer, *, api_key: str | None = None, retries: int = 0) -> Iterator[stripe.StripeClient]:
    # Our own HTTP client, so its requests session is closed at teardown (no unclosed-socket ResourceWarning).
    http = stripe.RequestsClient()
    yield stripe.StripeClient(
        api_key or server.api_key,
        base_addresses={"api": server.base_url},
        max_network_retries=retries,
        http_client=http,
    )
    http.close()


@pytest.fixture
def client(server: StripeWireServer) -> Iterator[stripe.StripeClient]:
    yield from _client(server)


def _charge_of(server: StripeWireServer, session: dict[str, Any]) -> str:
    return str(server.get(session["payment_intent"])["latest_charge"])


# --- objects and expansion -----------------------------------------------------------------------------------------


def test_retrieve_session_with_expansions(server: StripeWireServer, client: stripe.StripeClient) -> None:
    customer = server.add_customer("ada@example.com", "Ada")
    session = server.add_checkout_session("user-1", "pack_100", 1500, customer=customer["id"])

    plain = client.v1.checkout.sessions.retrieve(session["id"])
    assert isinstance(plain, stripe.checkout.Session)
    assert plain.id.startswith("cs_test_") and plain.payment_intent == session["payment_intent"]
    assert plain.client_reference_id == "user-1"
    assert plain.metadata is not None and plain.metadata["credit_pack"] == "pack_100"
    assert plain.customer_details is not None and plain.customer_details.email == "ada@example.com"

    expanded = client.v1.checkout.sessions.retrieve(
        session["id"], params={"expand": ["payment_intent", "payment_intent.latest_charge"]}
    )
    intent = expanded.payment_intent
    assert isinstance(intent, stripe.PaymentIntent) and intent.id.startswith("pi_")
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge) and charge.id.startswith("ch_")
    assert (charge.amount, charge.amount_refunded, charge.refunded) == (1500, 0, False)
    assert charge.payment_intent == intent.id and charge.customer == customer["id"]
    # The library sends arrays indexed (expand[0]=…), and the Stripe-Version it pins.
    assert server.requests[-1].params["expand"] == ["payment_intent", "payment_intent.latest_charge"]
    assert server.requests[-1].header("Stripe-Version") == API_VERSION == stripe.api_version

    assert client.v1.payment_intents.retrieve(intent.id).latest_charge == charge.id
    assert client.v1.customers.retrieve(customer["id"]).email == "ada@example.com"


def test_open_session_has_no_payment_intent(server: StripeWireServer, client: stripe.StripeClient) -> None:
    session = server.add_checkout_session("user-1", "pack_100", 1500, status="open")
    got = client.v1.checkout.sessions.retrieve(session["id"], params={"expand": ["payment_intent"]})
    assert got.payment_intent is None and got.payment_status == "unpaid"


def test_missing_object_and_unknown_path(server: StripeWireServer, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.charges.retrieve("ch_nope")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    assert "No such charge: 'ch_nope'" in str(missing.value)

    with pytest.raises(stripe.InvalidRequestError) as bad_expand:
        client.v1.charges.list(params={"expand": ["customer"]})  # lists expand `data.…`
    assert bad_expand.value.param == "expand"

    request = urllib.request.Request(
        f"{server.base_url}/v1/nothing_here", headers={"Authorization": f"Bearer {server.api_key}"}
    )
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(request, timeout=5)
    with unknown.value as response:
        body = json.load(response)
    assert unknown.value.code == 404
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["code"] == "resource_missing"
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in body["error"]["message"]


def test_unknown_parameters_are_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.checkout.sessions.list(params={"client_reference_id": "user-1"})  # type: ignore[arg-type]
    assert unknown.value.param == "client_reference_id"
    with pytest.raises(stripe.InvalidRequestError) as typo:
        client.v1.charges.list(params={"created": {"from": 1}})  # type: ignore[arg-type]
    assert typo.value.param == "created[from]"
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        client.v1.charges.list(params={"limit": 101})
    assert too_many.value.param == "limit"


# --- lists ---------------------------------------------------------------------------------------------------------


def test_list_filters_on_created_newest_first(server: StripeWireServer, client: stripe.StripeClient) -> None:
    sessions = [
        server.add_checkout_session(f"user-{i}", "pack_100", 1000 + i, created=1_700_000_000 + i) for i in range(5)
    ]

    page = client.v1.checkout.sessions.list(params={"created": {"gte": 1_700_000_001, "lte": 1_700_000_003}})
    assert [s.id for s in page.data] == [sessions[3]["id"], sessions[2]["id"], sessions[1]["id"]]
    assert page.has_more is False and page.url == "/v1/checkout/sessions"
    assert server.requests[-1].params["created"] == {"gte": "1700000001", "lte": "1700000003"}

    newer = client.v1.checkout.sessions.list(params={"created": {"gt": 1_700_000_003}})
    assert [s.id for s in newer] == [sessions[4]["id"]]
    by_intent = client.v1.checkout.sessions.list(params={"payment_intent": sessions[2]["payment_intent"]})
    assert [s.id for s in by_intent] == [sessions[2]["id"]]


def test_pagination_and_auto_paging(server: StripeWireServer, client: stripe.StripeClient) -> None:
    sessions = [server.add_checkout_session(f"user-{i}", "pack_100", 1000, created=1_700_000_000 + i) for i in range(5)]
    newest_first = [s["id"] for s in reversed(sessions)]

    first = client.v1.checkout.sessions.list(params={"limit": 2})
    assert [s.id for s in first] == newest_first[:2] and first.has_more is True
    second = client.v1.checkout.sessions.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert [s.id for s in second] == newest_first[2:4] and second.has_more is True
    back = client.v1.checkout.sessions.list(params={"limit": 2, "ending_before": second.data[0].id})
    assert [s.id for s in back] == newest_first[:2] and back.has_more is False

    before = len(server.requests)
    assert [s.id for s in client.v1.checkout.sessions.list(params={"limit": 2}).auto_paging_iter()] == newest_first
    pages = server.requests[before:]
    assert len(pages) == 3
    assert [r.params.get("starting_after") for r in pages] == [None, newest_first[1], newest_first[3]]

    # Same `created` everywhere: creation order still gives a stable, total order.
    for _ in range(3):
        server.add_refund(_charge_of(server, sessions[0]), 100, created=1_700_000_100)
    refunds = client.v1.refunds.list(params={"limit": 1}).auto_paging_iter()
    assert len({r.id for r in refunds}) == 3


def test_charge_refund_customer_and_event_lists(server: StripeWireServer, client: stripe.StripeClient) -> None:
    ada = server.add_customer("ada@example.com")
    server.add_customer("bob@example.com")
    first = server.add_checkout_session("user-1", "pack_100", 1500, customer=ada["id"], created=1_700_000_000)
    second = server.add_checkout_session("user-2", "pack_500", 5000, created=1_700_000_500)
    refund = server.add_refund(_charge_of(server, first), 500)

    charges = client.v1.charges.list(params={"created": {"gte": 1_700_000_100}})
    assert [c.id for c in charges] == [_charge_of(server, second)]
    assert [c.id for c in client.v1.charges.list(params={"customer": ada["id"]})] == [_charge_of(server, first)]
    assert [r.id for r in client.v1.refunds.list(params={"charge": _charge_of(server, first)})] == [refund["id"]]
    assert client.v1.refunds.list(params={"charge": _charge_of(server, second)}).data == []
    assert [c.id for c in client.v1.customers.list(params={"email": "ada@example.com"})] == [ada["id"]]

    paid = server.event("checkout.session.completed", first, created=1_700_000_001)
    refunded = server.event("charge.refunded", server.get(_charge_of(server, first)), created=1_700_000_002)
    assert [e.id for e in client.v1.events.list(params={"type": "charge.*"})] == [refunded["id"]]
    assert [e.id for e in client.v1.events.list(params={"created": {"lt": 1_700_000_002}})] == [paid["id"]]
    got = client.v1.events.retrieve(paid["id"])
    assert isinstance(got, stripe.Event) and got.data.object["client_reference_id"] == "user-1"


# --- refunds -------------------------------------------------------------------------------------------------------


def test_partial_refunds_then_the_rest_then_one_too_many(server: StripeWireServer, client: stripe.StripeClient) -> None:
    session = server.add_checkout_session("user-1", "pack_100", 1500)
    charge_id = _charge_of(server, session)

    partial = client.v1.refunds.create(
        params={"charge": charge_id, "amount": 500, "reason": "requested_by_customer", "metadata": {"admin": "u-7"}}
    )
    assert partial.id.startswith("re_") and (partial.amount, partial.status) == (500, "succeeded")
    assert partial.metadata is not None and partial.metadata["admin"] == "u-7"
    assert partial.payment_intent == session["payment_intent"]
    assert server.requests[-1].params["metadata"] == {"admin": "u-7"}
    assert server.requests[-1].idempotency_key  # the library sends one on every POST

    rest = client.v1.refunds.create(params={"payment_intent": session["payment_intent"]})  # default: what remains
    assert rest.amount == 1000 and rest.charge == charge_id

    charge = client.v1.charges.retrieve(charge_id, params={"expand": ["refunds"]})
    assert (charge.amount_refunded, charge.refunded) == (1500, True)
    assert charge.refunds is not None and [r.id for r in charge.refunds.data] == [rest.id, partial.id]
    assert "refunds" not in client.v1.charges.retrieve(charge_id)  # included only when expanded, as in Stripe

    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": charge_id, "amount": 1})
    assert again.value.http_status == 400 and again.value.code == "charge_already_refunded"
    assert len(client.v1.refunds.list(params={"charge": charge_id}).data) == 2


def test_refund_beyond_what_remains_is_refused(server: StripeWireServer, client: stripe.StripeClient) -> None:
    charge_id = _charge_of(server, server.add_checkout_session("user-1", "pack_100", 1500))
    server.add_refund(charge_id, 1000)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"charge": charge_id, "amount": 600})
    assert too_much.value.param == "amount"
    assert "Refund amount ($6.00) is greater than unrefunded amount on charge ($5.00)" in str(too_much.value)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"charge": charge_id, "reason": "changed_mind"})  # type: ignore[typeddict-item]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.refunds.create(params={"charge": "ch_missing"})
    assert missing.value.code == "resource_missing" and missing.value.param == "charge"
    assert server.get(charge_id)["amount_refunded"] == 1000


def test_disputed_charge_cannot_be_refunded(server: StripeWireServer, client: stripe.StripeClient) -> None:
    charge_id = _charge_of(server, server.add_checkout_session("user-1", "pack_100", 1500))
    dispute = server.add_dispute(charge_id, 1500, "fraudulent")
    assert dispute["id"].startswith("dp_") and server.get(charge_id)["disputed"] is True
    assert client.v1.disputes.retrieve(dispute["id"]).reason == "fraudulent"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create(params={"charge": charge_id})
    assert refused.value.code == "charge_disputed"


def test_idempotent_replay_and_conflict(server: StripeWireServer, client: stripe.StripeClient) -> None:
    charge_id = _charge_of(server, server.add_checkout_session("user-1", "pack_100", 1500))
    params: stripe.params.RefundCreateParams = {"charge": charge_id, "amount": 400}

    first = client.v1.refunds.create(params=params, options={"idempotency_key": "admin-refund-1"})
    replay = client.v1.refunds.create(params=params, options={"idempotency_key": "admin-refund-1"})
    assert replay.id == first.id
    assert replay.last_response is not None and replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert [r.idempotency_key for r in server.requests[-2:]] == ["admin-refund-1", "admin-refund-1"]
    assert [r.id for r in client.v1.refunds.list()] == [first.id]
    assert server.get(charge_id)["amount_refunded"] == 400

    with pytest.raises(stripe.IdempotencyError) as conflict:
        client.v1.refunds.create(
            params={"charge": charge_id, "amount": 300}, options={"idempotency_key": "admin-refund-1"}
        )
    assert conflict.value.http_status == 400 and "admin-refund-1" in str(conflict.value)
    assert len(client.v1.refunds.list().data) == 1


# --- auth and faults -----------------------------------------------------------------------------------------------


def test_wrong_api_key_is_refused(server: StripeWireServer) -> None:
    for client in _client(server, api_key="sk_test_someone_elses_key"):
        with pytest.raises(stripe.AuthenticationError) as refused:
            client.v1.customers.list()
        assert refused.value.http_status == 401 and "Invalid API Key provided: sk_test_" in str(refused.value)
        assert "someone_elses" not in str(refused.value)  # masked, as Stripe does
    assert server.requests[-1].header("Authorization") == "Bearer sk_test_someone_elses_key"


def test_injected_failures_map_to_library_errors(server: StripeWireServer, client: stripe.StripeClient) -> None:
    server.fail_next(500)
    with pytest.raises(stripe.APIError) as server_error:
        client.v1.customers.list()
    assert server_error.value.http_status == 500

    server.fail_next(429, retry_after=2)
    with pytest.raises(stripe.RateLimitError) as limited:
        client.v1.customers.list()
    assert limited.value.http_status == 429
    assert limited.value.error is not None and limited.value.error.code == "rate_limit"  # RateLimitError has no .code
    assert limited.value.headers is not None and limited.value.headers["Retry-After"] == "2"

    assert len(server.requests) == 2  # max_network_retries=0: no retries
    assert client.v1.customers.list().data == []  # the queue is drained


def test_library_retries(server: StripeWireServer) -> None:
    """With max_network_retries=2: 5xx is retried with the same Idempotency-Key; 429 only when Stripe says so."""
    charge_id = _charge_of(server, server.add_checkout_session("user-1", "pack_100", 1500))
    for client in _client(server, retries=2):
        server.fail_next(500, count=2)
        refund = client.v1.refunds.create(params={"charge": charge_id, "amount": 100})
        attempts = server.requests[-3:]
        assert len(server.requests) == 3 and refund.amount == 100
        assert len({r.idempotency_key for r in attempts}) == 1 and attempts[0].idempotency_key

        server.fail_next(429)
        with pytest.raises(stripe.RateLimitError):
            client.v1.refunds.list()
        assert len(server.requests) == 4

        server.fail_next(429, should_retry=True)
        assert len(client.v1.refunds.list().data) == 1
        assert len(server.requests) == 6


def test_default_client_does_not_retry(server: StripeWireServer) -> None:
    """stripe 16's StripeClient leaves max_network_retries None, which its HTTP client reads as 0."""
    http = stripe.RequestsClient()
    try:
        client = stripe.StripeClient(server.api_key, base_addresses={"api": server.base_url}, http_client=http)
        server.fail_next(500)
        with pytest.raises(stripe.APIError):
            client.v1.customers.list()
        assert len(server.requests) == 1
    finally:
        http.close()


# --- webhooks ------------------------------------------------------------------------------------------------------


def test_signed_webhook_is_accepted_by_the_library(server: StripeWireServer) -> None:
    session = server.add_checkout_session("user-1", "pack_100", 1500)
    event = server.event("checkout.session.completed", session)
    assert event["id"].startswith("evt_") and event["object"] == "event" and event["pending_webhooks"] == 1
    assert event["api_version"] == API_VERSION and event["livemode"] is False
    assert set(event["request"]) == {"id", "idempotency_key"}

    body = webhook_body(event)
    assert b" " not in body.split(b'"client_reference_id"')[0]  # compact
    constructed = stripe.Webhook.construct_event(body, sign_webhook(body, SECRET), SECRET)
    assert constructed.type == "checkout.session.completed"
    assert constructed.data.object["id"] == session["id"]
    assert constructed.data.object["metadata"]["credit_pack"] == "pack_100"

    indented = webhook_body(event, indent=2)  # Stripe's own deliveries are indented: verify the raw bytes
    assert stripe.WebhookSignature.verify_header(indented, sign_webhook(indented, SECRET), SECRET)


def test_bad_webhook_signatures_are_refused(server: StripeWireServer) -> None:
    event = server.event("charge.refunded", {"id": "ch_x", "object": "charge", "amount_refunded": 500})
    body = webhook_body(event)
    header = sign_webhook(body, SECRET)
    refusals = {
        "tampered body": (body.replace(b"500", b"900"), header, SECRET),
        "wrong secret": (body, header, "whsec_other"),
        "old timestamp": (body, sign_webhook(body, SECRET, timestamp=int(time.time()) - 301), SECRET),
        "no v1 signature": (body, sign_webhook(body, SECRET, scheme="v0"), SECRET),
        "no header": (body, "", SECRET),
    }
    for case, (payload, signature, secret) in refusals.items():
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(payload, signature, secret)
            pytest.fail(case)

    # The header format itself: t=<unix>,v1=<hex sha256>.
    timestamp, _, signature = sign_webhook(b"{}", SECRET, timestamp=1_700_000_000).partition(",")
    assert timestamp == "t=1700000000" and signature.startswith("v1=") and len(signature) == 3 + 64


def test_decode_form() -> None:
    pairs = [
        ("metadata[0]", "kept as a key"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("items[0][price]", "p"),
        ("created[gte]", "1"),
        ("amount", "5"),
    ]
    assert decode_form(pairs) == {
        "metadata": {"0": "kept as a key"},
        "expand": ["a", "b"],
        "items": [{"price": "p"}],
        "created": {"gte": "1"},
        "amount": "5",
    }
