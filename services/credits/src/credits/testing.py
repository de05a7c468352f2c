"""The real credits service for other services' tests: in this process, on a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from credits.bootstrap import Container, bootstrap
from credits.config import Settings
from credits.entrypoints.grpc_server import build_server


@contextmanager
def running_credits(database_url: str, credential_key: str) -> Iterator[tuple[Container, str]]:
    """The credits container and the address of its gRPC server (a free port on 127.0.0.1)."""
    settings = Settings(
        database_url=database_url, broker_url="memory://", service_credential_key=credential_key, db_pool_size=4
    )  # the test PostgreSQL is shared by parallel test processes: a few connections each
    container = bootstrap(settings, process="test")
    server = build_server(container, host="127.0.0.1", port=0).start()
    try:
        yield container, f"127.0.0.1:{server.port}"
    finally:
        server.stop(grace_s=1)
        container.close()
