"""Fixtures of the payments tests: a migrated database on the real PostgreSQL, the real credits service
over gRPC, the webhook app, Stripe events built by the local Stripe wire store and signed with HMAC."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from credits.bootstrap import MIGRATIONS as CREDITS_MIGRATIONS
from credits.testing import running_credits
from payments.adapters.tables import credit_pack
from payments.bootstrap import MIGRATIONS, Container, bootstrap
from payments.config import Settings
from payments.entrypoints.webhooks import create_app
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2 as credits_pb
from scenergy.credits.v1 import credits_pb2_grpc as credits_grpc
from scenergy_dev.wire.stripe import StripeStore, sign_webhook, webhook_body

CREDENTIAL_KEY = "test-service-credential-key-0123456789"
SECRET = "whsec_test_current_secret"
OLD_SECRET = "whsec_test_previous_secret"


@pytest.fixture(scope="session")
def credits_target(migrated_database: Callable[[str, str], str]) -> Iterator[str]:
    """The real credits service, in this process, on its own database."""
    with running_credits(migrated_database("paycredits", CREDITS_MIGRATIONS), CREDENTIAL_KEY) as (_, address):
        yield address


@pytest.fixture(scope="session")
def credits_stub(credits_target: str) -> Iterator[credits_grpc.CreditsServiceStub]:
    with grpc.insecure_channel(credits_target) as channel:
        yield credits_grpc.CreditsServiceStub(channel)


@pytest.fixture(scope="session")
def call_metadata() -> CallMetadata:
    return CallMetadata(ServiceCredential(CREDENTIAL_KEY), "admin-api")


@pytest.fixture(scope="session")
def new_client(credits_stub: credits_grpc.CreditsServiceStub, call_metadata: CallMetadata) -> Callable[[], str]:
    def make() -> str:
        client_id = new_id("cli")
        credits_stub.OpenAccount(credits_pb.OpenAccountRequest(client_id=client_id), metadata=call_metadata(ADMIN))
        return client_id

    return make


@pytest.fixture(scope="session")
def ledger(credits_stub: credits_grpc.CreditsServiceStub, call_metadata: CallMetadata) -> Callable[[str], Any]:
    """(balance, [(type, amount), …] oldest first) of a client."""

    def read(client_id: str) -> tuple[int, list[tuple[str, int]]]:
        balance = credits_stub.GetBalance(
            credits_pb.GetBalanceRequest(client_id=client_id), metadata=call_metadata(ADMIN)
        ).balance
        items = credits_stub.ListTransactions(
            credits_pb.ListTransactionsRequest(client_id=client_id, limit=100), metadata=call_metadata(ADMIN)
        ).items
        return balance, sorted((t.type, t.amount) for t in items)

    return read


@pytest.fixture(scope="session")
def payments_database_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("payments", MIGRATIONS)


def make_settings(database_url: str, credits_addr: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "broker_url": "memory://",
        "service_credential_key": CREDENTIAL_KEY,
        "credits_addr": credits_addr,
        "webhook_secrets": (SECRET, OLD_SECRET),
        "retry_base_s": 0.05,
        "retry_cap_s": 0.2,
        "db_pool_size": 4,  # the test PostgreSQL is shared by parallel test processes
        "credits_deadline_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def container(payments_database_url: str, credits_target: str) -> Iterator[Container]:
    built = bootstrap(make_settings(payments_database_url, credits_target), process="test")
    yield built
    built.close()


@pytest.fixture
def make_container(payments_database_url: str, credits_target: str) -> Iterator[Callable[..., Container]]:
    made: list[Container] = []

    def make(**overrides: Any) -> Container:
        credits = overrides.pop("credits", None)
        built = bootstrap(
            make_settings(payments_database_url, credits_target, **overrides), process="test", credits=credits
        )
        made.append(built)
        return built

    yield make
    for built in made:
        built.close()


@pytest.fixture(scope="session")
def pack(container: Container) -> dict[str, Any]:
    """A credit pack: 100 credits for $20.00."""
    values = {"id": "pack_test_100", "name": "100 credits", "credits": 100, "price_amount": 2000, "currency": "usd"}
    with container.engine.begin() as conn:
        conn.execute(sa.dialects.postgresql.insert(credit_pack).values(**values).on_conflict_do_nothing())
    return values


@pytest.fixture
def stripe_store() -> StripeStore:
    return StripeStore()


@pytest.fixture
def deliver(container: Container) -> Callable[..., Any]:
    """POST a Stripe event to the webhook app, signed like Stripe (or with what a test gives)."""
    client = create_app(container).test_client()

    def post(
        event: dict[str, Any], *, secret: str = SECRET, header: str | None = None, body: bytes | None = None
    ) -> Any:
        raw = body if body is not None else webhook_body(event)
        signature = header if header is not None else sign_webhook(raw, secret)
        return client.post(
            "/webhooks/stripe", data=raw, headers={"Stripe-Signature": signature, "Content-Type": "application/json"}
        )

    return post


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[Any]:
    from scenergy_dev.wire.stripe import StripeWireServer

    with StripeWireServer() as server:
        yield server


@pytest.fixture(scope="session")
def api_container(payments_database_url: str, credits_target: str, stripe_server: Any) -> Iterator[Container]:
    """A container whose Stripe API is the local wire server (refunds, reconciliation)."""
    from payments.adapters.stripe_api import LibraryStripeApi

    api = LibraryStripeApi(stripe_server.api_key, api_base=stripe_server.base_url, max_retries=0)
    built = bootstrap(make_settings(payments_database_url, credits_target), process="test", stripe_api=api)
    yield built
    api.close()
    built.close()


@pytest.fixture(scope="session")
def stub(api_container: Container) -> Iterator[Any]:
    from payments.entrypoints.grpc_server import build_server
    from scenergy.payments.v1 import payments_pb2_grpc

    server = build_server(api_container, host="127.0.0.1", port=0).start()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield payments_pb2_grpc.PaymentsServiceStub(channel)
    server.stop(grace_s=1)
