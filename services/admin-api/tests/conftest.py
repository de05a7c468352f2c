"""Fixtures of the gateway tests: its database, real credits and audit gRPC servers, signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import audit.bootstrap as audit_bootstrap
import credits.bootstrap as credits_bootstrap
from admin_api.bootstrap import MIGRATIONS, Container, bootstrap
from admin_api.config import Settings
from admin_api.service_layer.admins import create_admin
from admin_api.web import create_app
from audit.config import Settings as AuditSettings
from audit.domain.chain import ChainSigner
from audit.entrypoints.grpc_server import build_server as build_audit_server
from credits.config import Settings as CreditsSettings
from credits.entrypoints.grpc_server import build_server as build_credits_server
from scenergy.common.identity import Role
from scenergy.common.ids import new_id

CREDENTIAL_KEY = "test-service-credential-key-0123456789"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def credits_container(migrated_database: Callable[[str, str], str]) -> Iterator[credits_bootstrap.Container]:
    url = migrated_database("credits", credits_bootstrap.MIGRATIONS)
    settings = CreditsSettings(database_url=url, broker_url="memory://", service_credential_key=CREDENTIAL_KEY)
    built = credits_bootstrap.bootstrap(settings, process="test")
    yield built
    built.close()


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
def service_addresses(credits_container: Any, audit_container: Any) -> Iterator[dict[str, str]]:
    credits_server = build_credits_server(credits_container, host="127.0.0.1", port=0).start()
    audit_server = build_audit_server(audit_container, host="127.0.0.1", port=0).start()
    yield {"credits": f"127.0.0.1:{credits_server.port}", "audit": f"127.0.0.1:{audit_server.port}"}
    credits_server.stop(grace_s=1)
    audit_server.stop(grace_s=1)


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
