"""Applying events: any order gives the same ledger; a credits outage ends in exactly one purchase."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from payments.adapters.credits import GrpcCredits
from payments.adapters.tables import payment, stripe_event
from payments.bootstrap import Container
from scenergy_dev.wire.stripe import StripeStore

CREDENTIAL_KEY = "test-service-credential-key-0123456789"


def drain(container: Container) -> None:
    while container.processor.process_due():
        pass


def event_status(container: Container, event_id: str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(sa.select(stripe_event).where(stripe_event.c.id == event_id)).one()


def scenario(store: StripeStore, client_id: str, pack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A paid session, a partial refund of $5 of $20 (25 of 100 credits), as Stripe would announce them."""
    session = store.add_checkout_session(client_id, pack["id"], pack["price_amount"])
    completed = store.event("checkout.session.completed", session)
    charge_id = store.get(session["payment_intent"])["latest_charge"]
    refund = store.add_refund(charge_id, 500)
    charge = store.get(charge_id)
    return {
        "completed": completed,
        "charge_refunded": store.event("charge.refunded", charge),
        "refund_updated": store.event("refund.updated", refund),
    }


ORDERS = sorted(set(itertools.permutations(["completed", "charge_refunded", "refund_updated", "completed"])))


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
def test_every_order_of_delivery_gives_the_same_ledger(
    order: tuple[str, ...],
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
    ledger: Callable[[str], Any],
) -> None:
    client_id = new_client()
    events = scenario(stripe_store, client_id, pack)
    for name in order:
        assert deliver(events[name]).status_code == 200
        drain(container)  # process as they arrive: a refund first waits for its payment
    drain(container)
    balance, transactions = ledger(client_id)
    assert balance == 75 and transactions == [("purchase", 100), ("refund", -25)]
    with container.engine.connect() as conn:
        row = conn.execute(sa.select(payment).where(payment.c.client_id == client_id)).one()
    assert (row.amount_refunded, row.credits_refunded) == (500, 25)
    assert {event_status(container, e["id"]).status for e in events.values()} == {"processed"}


def test_several_partial_refunds_add_up_to_every_credit(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
    ledger: Callable[[str], Any],
) -> None:
    client_id = new_client()
    session = stripe_store.add_checkout_session(client_id, pack["id"], 2000)
    deliver(stripe_store.event("checkout.session.completed", session))
    charge_id = stripe_store.get(session["payment_intent"])["latest_charge"]
    for amount in (300, 200, 1500):  # 15 %, 25 %, then the rest
        refund = stripe_store.add_refund(charge_id, amount)
        deliver(stripe_store.event("refund.created", refund))
        drain(container)
    balance, transactions = ledger(client_id)
    assert balance == 0 and transactions == [("purchase", 100), ("refund", -75), ("refund", -15), ("refund", -10)]


def test_an_unknown_pack_or_client_fails_for_an_admin_to_see(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
) -> None:
    session = stripe_store.add_checkout_session(new_client(), "pack_nope", 2000)
    event = stripe_store.event("checkout.session.completed", session)
    deliver(event)
    drain(container)
    failed = event_status(container, event["id"])
    assert failed.status == "failed" and "pack_nope" in failed.last_error and failed.next_attempt_at is None


def test_unknown_event_types_are_stored_and_ignored(
    container: Container,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
) -> None:
    customer = stripe_store.add_customer("buyer@example.com")
    event = stripe_store.event("customer.created", customer)
    deliver(event)
    drain(container)
    assert event_status(container, event["id"]).status == "ignored"


class SwitchableCredits:
    """Credits that are down until switched on: the real client to a closed port, then to the real server."""

    def __init__(self, down: GrpcCredits, up: GrpcCredits) -> None:
        self.target = down
        self._down, self._up = down, up

    def restore(self) -> None:
        self.target = self._up

    def purchase(self, **kwargs: Any) -> str:
        return self.target.purchase(**kwargs)

    def refund(self, **kwargs: Any) -> str:
        return self.target.refund(**kwargs)


def test_credits_down_marks_the_event_failed_and_a_retry_makes_exactly_one_purchase(
    make_container: Callable[..., Container],
    credits_target: str,
    deliver: Callable[..., Any],
    stripe_store: StripeStore,
    new_client: Callable[[], str],
    pack: dict[str, Any],
    ledger: Callable[[str], Any],
) -> None:
    credits = SwitchableCredits(
        GrpcCredits("127.0.0.1:9", CREDENTIAL_KEY, deadline_s=0.5), GrpcCredits(credits_target, CREDENTIAL_KEY)
    )
    container = make_container(credits=credits)
    client_id = new_client()
    session = stripe_store.add_checkout_session(client_id, pack["id"], 2000)
    event = stripe_store.event("checkout.session.completed", session)
    deliver(event)
    assert container.processor.process_one(event["id"])
    failed = event_status(container, event["id"])
    assert failed.status == "failed" and "credits" in failed.last_error and failed.next_attempt_at is not None
    assert ledger(client_id) == (0, [])
    credits.restore()
    deadline = time.monotonic() + 10
    while event_status(container, event["id"]).status != "processed":
        assert time.monotonic() < deadline
        container.processor.process_due()
        time.sleep(0.05)
    deliver(event)  # Stripe delivers it again: nothing more happens
    drain(container)
    assert ledger(client_id) == (100, [("purchase", 100)])
