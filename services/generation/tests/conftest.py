"""Fixtures of the generation tests: migrated databases on the real PostgreSQL, the real credits service
over gRPC, a local object store, the offline or the Gemini-wire provider, isolated queues on RabbitMQ."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from credits.bootstrap import MIGRATIONS as CREDITS_MIGRATIONS
from credits.testing import running_credits
from generation.adapters.provider import OfflineProvider
from generation.adapters.storage import LocalStorage
from generation.bootstrap import MIGRATIONS, Container, bootstrap
from generation.config import Settings
from generation.domain.model import Product
from generation.service_layer.commands import SubmitJob
from scenergy.common.grpc_client import CallMetadata
from scenergy.common.identity import Actor, ActorType, ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.testing.actors import ADMIN
from scenergy.common.testing.plugin import delete_queues, unique_name
from scenergy.credits.v1 import credits_pb2 as credits_pb
from scenergy.credits.v1 import credits_pb2_grpc as credits_grpc
from scenergy.generation.v1 import generation_pb2_grpc as pb_grpc

CREDENTIAL_KEY = "test-service-credential-key-0123456789"


@pytest.fixture(scope="session")
def credits_target(migrated_database: Callable[[str, str], str]) -> Iterator[str]:
    """The real credits service, in this process, on its own database."""
    with running_credits(migrated_database("gencredits", CREDITS_MIGRATIONS), CREDENTIAL_KEY) as (_, address):
        yield address


@pytest.fixture(scope="session")
def credits_stub(credits_target: str) -> Iterator[credits_grpc.CreditsServiceStub]:
    with grpc.insecure_channel(credits_target) as channel:
        yield credits_grpc.CreditsServiceStub(channel)


@pytest.fixture(scope="session")
def call_metadata() -> CallMetadata:
    return CallMetadata(ServiceCredential(CREDENTIAL_KEY), "admin-api")


@pytest.fixture(scope="session")
def funded_client(credits_stub: credits_grpc.CreditsServiceStub, call_metadata: CallMetadata) -> Callable[[int], str]:
    """Open a credits account for a new client, granted `funds`, and return the client id."""

    def make(funds: int = 100) -> str:
        client_id = new_id("cli")
        credits_stub.OpenAccount(credits_pb.OpenAccountRequest(client_id=client_id), metadata=call_metadata(ADMIN))
        if funds:
            request = credits_pb.GrantRequest(
                client_id=client_id, amount=funds, reason="test funds", idempotency_key=new_id("key")
            )
            credits_stub.Grant(request, metadata=call_metadata(ADMIN))
        return client_id

    return make


@pytest.fixture(scope="session")
def balance_of(credits_stub: credits_grpc.CreditsServiceStub, call_metadata: CallMetadata) -> Callable[[str], Any]:
    def get(client_id: str) -> Any:
        return credits_stub.GetBalance(credits_pb.GetBalanceRequest(client_id=client_id), metadata=call_metadata(ADMIN))

    return get


@pytest.fixture(scope="session")
def generation_database_url(migrated_database: Callable[[str, str], str]) -> str:
    return migrated_database("generation", MIGRATIONS)


def make_settings(database_url: str, credits_addr: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "broker_url": "amqp://guest:guest@127.0.0.1:5672//",
        "service_credential_key": CREDENTIAL_KEY,
        "credits_addr": credits_addr,
        "retry_base_s": 0.05,
        "retry_cap_s": 0.5,
        "lease_s": 3.0,
        "settle_after_s": 0.5,
        "db_pool_size": 4,  # the test PostgreSQL is shared by parallel test processes
        "active_poll_cache_s": 0.0,  # tests see every change at once; test_active_poll_cache covers the cache
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def objects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objects")


@pytest.fixture(scope="session")
def container(generation_database_url: str, credits_target: str, objects_dir: Path) -> Iterator[Container]:
    settings = make_settings(generation_database_url, credits_target, local_storage_dir=str(objects_dir))
    storage = LocalStorage(objects_dir, base_url="http://127.0.0.1:8003", signing_key="test-objects-key")
    built = bootstrap(settings, process="test", provider=OfflineProvider(), storage=storage)
    yield built
    built.close()


@pytest.fixture
def make_container(
    generation_database_url: str, credits_target: str, objects_dir: Path
) -> Iterator[Callable[..., Container]]:
    """A container with other settings or adapters (same databases), closed after the test."""
    made: list[Container] = []

    def make(*, provider: Any = None, storage: Any = None, pace_window_s: float = 60.0, **overrides: Any) -> Container:
        overrides.setdefault("local_storage_dir", str(objects_dir))
        settings = make_settings(generation_database_url, credits_target, **overrides)
        storage = storage or LocalStorage(objects_dir, base_url="http://127.0.0.1:8003", signing_key="test-objects-key")
        built = bootstrap(
            settings,
            process="test",
            provider=provider or OfflineProvider(),
            storage=storage,
            pace_window_s=pace_window_s,
        )
        made.append(built)
        return built

    yield make
    for built in made:
        built.close()


@pytest.fixture
def jobs_queue(broker_url: str) -> Iterator[dict[str, str]]:
    """Settings overrides for an exchange and queue of this test's own on the real RabbitMQ."""
    names = {"jobs_exchange": unique_name("test.jobs"), "jobs_queue": unique_name("test.generation.jobs")}
    yield names
    delete_queues(broker_url, [names["jobs_queue"], names["jobs_queue"] + ".dead"])


@pytest.fixture(scope="session")
def job_request() -> Callable[..., SubmitJob]:
    """A valid submission: a client job when given a client id, else an admin-space job."""

    def make(client_id: str = "", **overrides: Any) -> SubmitJob:
        values: dict[str, Any] = {
            "client_id": client_id,
            "admin_space": not client_id,
            "products": [Product("prd_01sofa000000000000000000000", "Gray velvet sofa")],
            "room_type": "living_room",
            "style": "scandinavian",
            "lighting": "natural",
            "aspect_ratio": "16:9",
        }
        values.update(overrides)
        return SubmitJob(**values)

    return make


# The client-facing app submits client jobs as its user.
CLIENT_APP_USER = Actor(ActorType.USER, "usr_01testuser00000000000000000")


@pytest.fixture(scope="session")
def app_user() -> Actor:
    return CLIENT_APP_USER


@pytest.fixture(scope="session")
def grpc_target(container: Container) -> Iterator[str]:
    from generation.entrypoints.grpc_server import build_server

    server = build_server(container, host="127.0.0.1", port=0).start()
    yield f"127.0.0.1:{server.port}"
    server.stop(grace_s=1)


@pytest.fixture(scope="session")
def stub(grpc_target: str) -> Iterator[pb_grpc.GenerationServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield pb_grpc.GenerationServiceStub(channel)
