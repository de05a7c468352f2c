"""Fixtures of the credits tests: a migrated database on the real PostgreSQL, the service, a gRPC server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from credits.bootstrap import MIGRATIONS, Container, bootstrap
from credits.config import Settings
from credits.domain import commands
from credits.entrypoints.grpc_server import build_server
from credits.service_layer.handlers import CreditsService
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

CREDENTIAL_KEY = "test-service-credential-key-0123456789"


@pytest.fixture(scope="session")
def credits_database_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("credits", MIGRATIONS)


@pytest.fixture(scope="session")
def settings(credits_database_url: str) -> Settings:
    return Settings(
        database_url=credits_database_url,
        broker_url="memory://",
        service_credential_key=CREDENTIAL_KEY,
        db_pool_size=70,
        grpc_max_workers=64,
    )


@pytest.fixture(scope="session")
def container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings, process="test")
    yield built
    built.close()


@pytest.fixture(scope="session")
def service(container: Container) -> CreditsService:
    return container.service


@pytest.fixture
def open_client(service: CreditsService) -> Callable[..., str]:
    """Open a fresh account (optionally funded) and return its client id."""

    def make(funds: int = 0, credit_limit: int = 0) -> str:
        client_id = new_id("cli")
        service.open_account(commands.OpenAccount(client_id, credit_limit), ADMIN)
        if funds:
            service.grant(commands.Grant(client_id, funds, "test funds", new_id("key")), ADMIN)
        return client_id

    return make


@pytest.fixture(scope="session")
def grpc_target(container: Container) -> Iterator[str]:
    server = build_server(container, host="127.0.0.1", port=0).start()
    yield f"127.0.0.1:{server.port}"
    server.stop(grace_s=1)


@pytest.fixture(scope="session")
def stub(grpc_target: str) -> Iterator[pb_grpc.CreditsServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield pb_grpc.CreditsServiceStub(channel)


@pytest.fixture(scope="session")
def call_metadata() -> CallMetadata:
    return CallMetadata(ServiceCredential(CREDENTIAL_KEY), "admin-api")
