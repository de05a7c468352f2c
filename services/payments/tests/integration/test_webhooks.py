"""The webhook endpoint: only correctly signed, recent, same-mode events are stored, each once."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from payments.adapters.tables import payment, stripe_event
from payments.bootstrap import Container
from payments.entrypoints.webhooks import create_app
from scenergy_dev.wire.stripe import StripeStore, sign_webhook, webhook_body

SECRET = "whsec_test_current_secret"
OLD_SECRET = "whsec_test_previous_secret"


def stored(container: Container, event_id: str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(sa.select(stripe_event).where(stripe_event.c.id == event_id)).first()


def paid_event(store: StripeStore, client_id: str, pack: dict[str, Any]) -> dict[str, Any]:
    session = store.add_checkout_session(client_id, pack["id"], pack["price_amount"])
    return store.event("checkout.session.completed", session)


@pytest.mark.parametrize(
    "tamper",
    [
        "body",
        "wrong_secret",
        "old_timestamp",
        "future_timestamp",
        "missing_header",
        "malformed_header",
        "no_v1",
        "not_utf8",
    ],
)
def test_the_signature_matrix_gets_400_and_stores_nothing(
    tamper: str,
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    event = paid_event(stripe_store, new_client(), pack)
    body = webhook_body(event)
    now = int(time.time())
    cases: dict[str, dict[str, Any]] = {
        "body": {
            "body": body.replace(b'"amount_total":2000', b'"amount_total":2'),
            "header": sign_webhook(body, SECRET),
        },
        "wrong_secret": {"secret": "whsec_someone_else"},
        "old_timestamp": {"header": sign_webhook(body, SECRET, timestamp=now - 301)},
        "future_timestamp": {"header": sign_webhook(body, SECRET, timestamp=now + 301)},
        "missing_header": {"header": ""},
        "malformed_header": {"header": "t=soon,v1=abc"},
        "no_v1": {"header": sign_webhook(body, SECRET, scheme="v0")},
        "not_utf8": {"body": b"\xff\xfe" + body, "header": sign_webhook(b"\xff\xfe" + body, SECRET)},
    }
    response = deliver(event, **cases[tamper])
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert stored(container, event["id"]) is None


def test_a_signature_with_the_previous_secret_is_accepted_during_a_rotation(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    event = paid_event(stripe_store, new_client(), pack)
    assert deliver(event, secret=OLD_SECRET).status_code == 200
    assert stored(container, event["id"]).status == "pending"


def test_a_live_event_is_refused_in_a_test_environment(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    session = stripe_store.add_checkout_session(new_client(), pack["id"], 2000)
    event = stripe_store.event("checkout.session.completed", session, livemode=True)
    assert deliver(event).status_code == 400
    assert stored(container, event["id"]) is None


def test_a_signed_event_postgresql_cannot_hold_gets_400_and_stores_nothing(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    event = paid_event(stripe_store, new_client(), pack)
    event["data"]["object"]["metadata"]["note"] = "nul \x00 inside"  # JSON allows \u0000; jsonb does not
    response = deliver(event)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "unstorable_event"
    assert stored(container, event["id"]) is None


def test_a_repeated_delivery_is_counted_and_stored_once(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
) -> None:
    event = paid_event(stripe_store, new_client(), pack)
    first, second = deliver(event), deliver(event)
    assert first.get_json()["duplicate"] is False and second.get_json()["duplicate"] is True
    row = stored(container, event["id"])
    assert row.deliveries == 2 and row.payload == event and row.object_id == event["data"]["object"]["id"]


def test_50_concurrent_deliveries_of_one_event_make_one_purchase(
    container: Container,
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
    ledger: Callable[[str], Any],
) -> None:
    client_id = new_client()
    event = paid_event(stripe_store, client_id, pack)
    body = webhook_body(event)
    server = make_server("127.0.0.1", 0, create_app(container), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    statuses: list[int] = []
    start = threading.Barrier(50)

    def post() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": sign_webhook(body, SECRET), "Content-Type": "application/json"},
        )
        start.wait()
        with urllib.request.urlopen(request, timeout=30) as response:
            statuses.append(response.status)

    threads = [threading.Thread(target=post) for _ in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()
    assert statuses == [200] * 50
    assert stored(container, event["id"]).deliveries == 50
    while container.processor.process_due():
        pass
    balance, transactions = ledger(client_id)
    assert balance == 100 and transactions == [("purchase", 100)]
    with container.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(payment.c.client_id == client_id)).scalar_one() == 1
