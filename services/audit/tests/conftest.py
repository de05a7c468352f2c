"""Fixtures of the audit tests: migrated databases on the real PostgreSQL, the service, a gRPC server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from audit.bootstrap import MIGRATIONS, Container, bootstrap
from audit.config import Settings
from audit.domain.chain import ChainSigner
from audit.entrypoints.grpc_server import build_server
from scenergy.audit.v1 import audit_pb2_grpc as pb_grpc
from scenergy.common.events import EventEnvelope, make_envelope, parse_envelope
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import Actor, ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN

CREDENTIAL_KEY = "test-service-credential-key-0123456789"
SIGNING_KEY = ChainSigner.generate_private_key()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        signing_key=SIGNING_KEY,
        **overrides,
    )


def event(
    action: str = "credit.grant",
    *,
    entity_id: str | None = None,
    actor: Actor = ADMIN,
    source: str = "credits",
    data: dict[str, Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """An envelope as a producer would publish it."""
    entity, verb = action.split(".")
    return make_envelope(
        type=f"{source}.{entity}.{verb}",
        source=source,
        entity_type=entity,
        entity_id=entity_id or new_id("cli"),
        data=data if data is not None else {"amount": 100, "reason": "Beta tester reward"},
        actor=actor,
        **options,
    )


def parsed(*envelopes: dict[str, Any]) -> list[EventEnvelope]:
    return [parse_envelope(e) for e in envelopes]


@pytest.fixture(scope="session")
def audit_database_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("audit", MIGRATIONS)


@pytest.fixture(scope="session")
def container(audit_database_url: str) -> Iterator[Container]:
    built = bootstrap(make_settings(audit_database_url), process="test")
    yield built
    built.close()


@pytest.fixture
def fresh_container(migrated_database: Callable[[str, str], str]) -> Iterator[Callable[..., Container]]:
    """A factory: a container on a database of its own (for tests that need a chain to themselves)."""
    made: list[Container] = []

    def make(**overrides: Any) -> Container:
        built = bootstrap(make_settings(migrated_database("audit", MIGRATIONS), **overrides), process="test")
        made.append(built)
        return built

    yield make
    for built in made:
        built.close()


@pytest.fixture(scope="session")
def grpc_target(container: Container) -> Iterator[str]:
    server = build_server(container, host="127.0.0.1", port=0).start()
    yield f"127.0.0.1:{server.port}"
    server.stop(grace_s=1)


@pytest.fixture(scope="session")
def stub(grpc_target: str) -> Iterator[pb_grpc.AuditServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield pb_grpc.AuditServiceStub(channel)


@pytest.fixture(scope="session")
def call_metadata() -> CallMetadata:
    return CallMetadata(ServiceCredential(CREDENTIAL_KEY), "admin-api")


@pytest.fixture(scope="session")
def make_event() -> Callable[..., dict[str, Any]]:
    return event


@pytest.fixture(scope="session")
def envelopes() -> Callable[..., list[EventEnvelope]]:
    return parsed
