"""Fixtures of the gateway tests: its database, real credits, audit, generation and payments gRPC servers (payments
talking to a local Stripe wire server), signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import audit.bootstrap as audit_bootstrap
import credits.bootstrap as credits_bootstrap
import generation.bootstrap as generation_bootstrap
import payments.bootstrap as payments_bootstrap
from admin_api.bootstrap import MIGRATIONS, Container, bootstrap
from admin_api.config import Settings
from admin_api.service_layer.admins import create_admin
from admin_api.web import create_app
from audit.config import Settings as AuditSettings
from audit.domain.chain import ChainSigner
from audit.entrypoints.grpc_server import build_server as build_audit_server
from credits.testing import running_credits
from generation.adapters.provider import OfflineProvider
from generation.adapters.storage import LocalStorage
from generation.config import Settings as GenerationSettings
from generation.entrypoints.grpc_server import build_server as build_generation_server
from payments.adapters.stripe_api import LibraryStripeApi
from payments.config import Settings as PaymentsSettings
from payments.entrypoints.grpc_server import build_server as build_payments_server
from scenergy.common.identity import Role
from scenergy.common.ids import new_id
from scenergy_dev.wire.stripe import StripeWireServer

CREDENTIAL_KEY = "test-service-credential-key-0123456789"
PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec_test_gateway_payments"


@pytest.fixture(scope="session")
def credits_service(migrated_database: Callable[[str, str], str]) -> Iterator[tuple[credits_bootstrap.Container, str]]:
    with running_credits(migrated_database("credits", credits_bootstrap.MIGRATIONS), CREDENTIAL_KEY) as running:
        yield running


@pytest.fixture(scope="session")
def credits_container(credits_service: tuple[credits_bootstrap.Container, str]) -> credits_bootstrap.Container:
    return credits_service[0]


@pytest.fixture(scope="session")
def audit_container(migrated_database: Callable[[str, str], str]) -> Iterator[audit_bootstrap.Container]:
    url = migrated_database("audit", audit_bootstrap.MIGRATIONS)
    settings = AuditSettings(
        database_url=url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        signing_key=ChainSigner.generate_private_key(),
    )
    built = audit_bootstrap.bootstrap(settings, process="test")
    yield built
    built.close()


@pytest.fixture(scope="session")
def credits_address(credits_service: tuple[credits_bootstrap.Container, str]) -> str:
    return credits_service[1]


@pytest.fixture(scope="session")
def generation_container(
    migrated_database: Callable[[str, str], str], credits_address: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[generation_bootstrap.Container]:
    """The generation service on its own database, with the offline model and a local object store;
    its credit holds go to the same credits server the gateway calls. Tests run jobs with its runner."""
    url = migrated_database("generation", generation_bootstrap.MIGRATIONS)
    objects: Path = tmp_path_factory.mktemp("objects")
    settings = GenerationSettings(
        database_url=url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        credits_addr=credits_address,
        local_storage_dir=str(objects),
        retry_base_s=0.05,
        retry_cap_s=0.5,
        db_pool_size=5,  # the test PostgreSQL is shared: keep to a few connections
        active_poll_cache_s=0.0,  # the tests see every change of the active-jobs list at once
    )
    storage = LocalStorage(objects, base_url="http://127.0.0.1:8003", signing_key="test-objects-key")
    built = generation_bootstrap.bootstrap(settings, process="test", provider=OfflineProvider(), storage=storage)
    yield built
    built.close()


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[StripeWireServer]:
    """Stripe's API for the payments service's refunds and reconciliation; tests add sessions to it and
    build their webhook events with it."""
    with StripeWireServer() as server:
        yield server


@pytest.fixture(scope="session")
def payments_container(
    migrated_database: Callable[[str, str], str], credits_address: str, stripe_server: StripeWireServer
) -> Iterator[payments_bootstrap.Container]:
    """The payments service on its own database; its purchases and refunds go to the same credits server
    the gateway calls, its refunds and reconciliation to the Stripe wire server (through the stripe
    library). Tests deliver webhooks to its webhook app and process them with its processor."""
    url = migrated_database("payments", payments_bootstrap.MIGRATIONS)
    settings = PaymentsSettings(
        database_url=url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        credits_addr=credits_address,
        webhook_secrets=(WEBHOOK_SECRET,),
        retry_base_s=0.05,
        retry_cap_s=0.2,
        db_pool_size=5,  # the test PostgreSQL is shared: keep to a few connections
    )
    stripe_api = LibraryStripeApi(stripe_server.api_key, api_base=stripe_server.base_url, max_retries=0)
    built = payments_bootstrap.bootstrap(settings, process="test", stripe_api=stripe_api)
    yield built
    built.close()
    stripe_api.close()


@pytest.fixture(scope="session")
def service_addresses(
    credits_address: str, audit_container: Any, generation_container: Any, payments_container: Any
) -> Iterator[dict[str, str]]:
    audit_server = build_audit_server(audit_container, host="127.0.0.1", port=0).start()
    generation_server = build_generation_server(generation_container, host="127.0.0.1", port=0).start()
    payments_server = build_payments_server(payments_container, host="127.0.0.1", port=0).start()
    yield {
        "credits": credits_address,
        "audit": f"127.0.0.1:{audit_server.port}",
        "generation": f"127.0.0.1:{generation_server.port}",
        "payments": f"127.0.0.1:{payments_server.port}",
    }
    audit_server.stop(grace_s=1)
    generation_server.stop(grace_s=1)
    payments_server.stop(grace_s=1)


@pytest.fixture(scope="session")
def gateway_database_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("admin_api", MIGRATIONS)


@pytest.fixture(scope="session")
def settings(gateway_database_url: str, service_addresses: dict[str, str]) -> Settings:
    return Settings(
        database_url=gateway_database_url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        credits_addr=service_addresses["credits"],
        audit_addr=service_addresses["audit"],
        generation_addr=service_addresses["generation"],
        payments_addr=service_addresses["payments"],
        login_max_failures_per_account=5,
        login_max_failures_per_ip=1000,  # tests sign in from one address; the per-IP test lowers it
    )


@pytest.fixture(scope="session")
def container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings, process="test")
    yield built
    built.close()


@pytest.fixture(scope="session")
def app(container: Container) -> Flask:
    app = create_app(container)
    app.config["TESTING"] = True
    return app


@dataclass
class Session:
    client: FlaskClient
    admin: dict[str, Any]
    csrf: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf, **extra}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers(**kw.pop("headers", {})), **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.client.patch(path, headers=self.headers(**kw.pop("headers", {})), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(**kw.pop("headers", {})), **kw)


@pytest.fixture
def new_client(app: Flask) -> Callable[[], FlaskClient]:
    def make() -> FlaskClient:
        client = app.test_client()
        # https: the session cookie is Secure, and a browser sends it only over TLS.
        client.environ_base.update({"wsgi.url_scheme": "https"})
        return client

    return make


@pytest.fixture
def make_admin(container: Container) -> Callable[..., dict[str, Any]]:
    def make(role: Role = Role.ADMIN, *, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        with container.engine.begin() as conn:
            admin = create_admin(conn, email=email or f"{new_id('t')}@scenergy.test", password=password, role=role)
        return {**admin, "password": password}

    return make


@pytest.fixture
def sign_in(new_client: Callable[[], FlaskClient], make_admin: Callable[..., dict[str, Any]]) -> Callable[..., Session]:
    def sign(role: Role = Role.ADMIN, admin: dict[str, Any] | None = None) -> Session:
        admin = admin or make_admin(role)
        client = new_client()
        response = client.post("/api/admin/auth/login", json={"email": admin["email"], "password": admin["password"]})
        assert response.status_code == 200, response.get_json()
        return Session(client, admin, response.get_json()["csrf_token"])

    return sign


@pytest.fixture
def directory_client(container: Container, credits_container: Any) -> Callable[..., str]:
    """A client in the directory with an open credits account (as POST /clients makes one)."""
    from admin_api.adapters.tables import client
    from credits.domain import commands
    from scenergy.common.testing.actors import ADMIN

    def make(name: str = "Acme Furniture") -> str:
        client_id = new_id("cli")
        with container.engine.begin() as conn:
            conn.execute(client.insert().values(id=client_id, name=name, slug=client_id.replace("_", "-")))
        credits_container.service.open_account(commands.OpenAccount(client_id, 0), ADMIN)
        return client_id

    return make


@pytest.fixture
def relay_to_audit(credits_container: Any, container: Container, audit_container: Any) -> Callable[[], int]:
    """Deliver what credits and the gateway wrote to their outboxes to the audit log (relay + sink, minus the broker)."""
    import sqlalchemy as sa

    from scenergy.common.events import parse_envelope
    from scenergy.common.outbox import outbox_table

    table = outbox_table(sa.MetaData())

    def relay() -> int:
        delivered = 0
        for engine in (credits_container.engine, container.engine):
            with engine.begin() as conn:
                rows = conn.execute(
                    sa.select(table.c.seq, table.c.payload).where(table.c.published_at.is_(None)).order_by(table.c.seq)
                ).all()
                if rows:
                    audit_container.service.ingest([parse_envelope(r.payload) for r in rows])
                    conn.execute(
                        table.update().where(table.c.seq.in_([r.seq for r in rows])).values(published_at=sa.func.now())
                    )
                    delivered += len(rows)
        return delivered

    return relay
