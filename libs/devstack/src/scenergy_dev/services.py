"""The one table of what the embedded runtime runs: each service, its migrations, its processes and ports.

Adding a service is one `Service(...)` entry in `SERVICES`. Every port a process listens on is read by
the process from its own variable (`GRPC_PORT`, `HTTP_PORT`, ...) and can be moved, for the embedded
run only, with `<SERVICE>_<VARIABLE>`: `CREDITS_GRPC_PORT`, `CREDITS_HTTP_PORT`, `CREDITS_WORKER_OPS_PORT`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scenergy.common.config import port as read_port
from scenergy_dev.errors import DevstackError
from scenergy_dev.seed import SeedContext, seed_credits


class Protocol(enum.StrEnum):
    GRPC = "grpc"  # probed with the standard gRPC health service
    HTTP = "http"  # probed with GET /healthz and /readyz


@dataclass(frozen=True)
class Port:
    variable: str  # what the process reads, e.g. GRPC_PORT
    default: int
    protocol: Protocol


@dataclass(frozen=True)
class Process:
    name: str  # also the prefix of its output lines
    module: str  # run as `python -m <module>`
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Secret:
    """A secret a service's processes read from `variable`; generated once for the embedded run."""

    variable: str
    generate: Callable[[], str]
    min_length: int = 16


@dataclass(frozen=True)
class RunContext:
    var_dir: Path
    ports: Mapping[str, int]  # the service's port variables, e.g. {"HTTP_PORT": 8003}
    host: str  # where a browser on this machine reaches the processes


def _generation_env(ctx: RunContext) -> dict[str, str]:
    # Images go to a folder under the var dir, served with signed URLs by generation-grpc's HTTP port.
    return {
        "LOCAL_STORAGE_DIR": str(ctx.var_dir / "objects"),
        "PUBLIC_BASE_URL": f"http://{ctx.host}:{ctx.ports['HTTP_PORT']}",
    }


def _webhook_secret() -> str:
    # What `stripe listen` prints for a local forwarder looks the same; tests sign with it.
    import secrets

    return "whsec_" + secrets.token_urlsafe(32)


def _seed_payments(ctx: SeedContext) -> list[str]:
    from scenergy_dev.seed_payments import seed_payments

    return seed_payments(ctx)


def _audit_signing_key() -> str:
    from audit.domain.chain import ChainSigner

    return ChainSigner.generate_private_key()


@dataclass(frozen=True)
class Service:
    name: str  # its database is scenergy_<name>, dashes as underscores
    migrations: str | None  # alembic script_location, e.g. "credits:migrations"
    processes: tuple[Process, ...]
    # Creates the service's demo data through its own API, idempotently, and returns what a person needs
    # to know about it; the runner prints these lines in its ready summary.
    seed: Callable[[SeedContext], list[str]] | None = None
    secrets: tuple[Secret, ...] = ()
    # Variables of the embedded run only (paths under the var dir, URLs of its own ports).
    extra_env: Callable[[RunContext], dict[str, str]] | None = None

    @property
    def env_prefix(self) -> str:
        return self.name.upper().replace("-", "_")

    @property
    def database(self) -> str:
        return "scenergy_" + self.name.replace("-", "_")


def _seed_generation(ctx: SeedContext) -> list[str]:
    from scenergy_dev.seed_generation import seed_generation

    return seed_generation(ctx)


def _seed_admin_api(ctx: SeedContext) -> list[str]:
    from scenergy_dev.seed_directory import seed_admin_api

    return seed_admin_api(ctx)


SERVICES: tuple[Service, ...] = (
    Service(
        name="credits",
        migrations="credits:migrations",
        processes=(
            Process(
                "credits-grpc",
                "credits.entrypoints.grpc_server",
                (Port("GRPC_PORT", 50051, Protocol.GRPC), Port("HTTP_PORT", 8001, Protocol.HTTP)),
            ),
            Process("credits-worker", "credits.entrypoints.worker", (Port("WORKER_OPS_PORT", 9101, Protocol.HTTP),)),
        ),
        seed=seed_credits,
    ),
    Service(
        name="audit",
        migrations="audit:migrations",
        processes=(
            Process(
                "audit-grpc",
                "audit.entrypoints.grpc_server",
                (Port("GRPC_PORT", 50052, Protocol.GRPC), Port("HTTP_PORT", 8002, Protocol.HTTP)),
            ),
            Process("audit-sink", "audit.entrypoints.sink", (Port("SINK_OPS_PORT", 9102, Protocol.HTTP),)),
            Process("audit-worker", "audit.entrypoints.worker", (Port("WORKER_OPS_PORT", 9112, Protocol.HTTP),)),
        ),
        secrets=(Secret("AUDIT_SIGNING_KEY", _audit_signing_key, min_length=32),),
    ),
    Service(
        name="admin-api",
        migrations="admin_api:migrations",
        processes=(
            Process("admin-api-http", "admin_api.entrypoints.http", (Port("HTTP_PORT", 8000, Protocol.HTTP),)),
            Process(
                "admin-api-worker", "admin_api.entrypoints.worker", (Port("WORKER_OPS_PORT", 9100, Protocol.HTTP),)
            ),
        ),
        seed=_seed_admin_api,
    ),
    Service(
        name="generation",
        migrations="generation:migrations",
        processes=(
            Process(
                "generation-grpc",
                "generation.entrypoints.grpc_server",
                (Port("GRPC_PORT", 50053, Protocol.GRPC), Port("HTTP_PORT", 8003, Protocol.HTTP)),
            ),
            Process(
                "generation-worker", "generation.entrypoints.worker", (Port("WORKER_OPS_PORT", 9103, Protocol.HTTP),)
            ),
            Process(
                "generation-runner", "generation.entrypoints.runner", (Port("RUNNER_OPS_PORT", 9113, Protocol.HTTP),)
            ),
        ),
        extra_env=_generation_env,
        seed=_seed_generation,  # after admin-api's: the demo jobs use its demo products
    ),
    Service(
        name="payments",
        migrations="payments:migrations",
        processes=(
            # The webhook endpoint first: the summary's payments URL is the service's first HTTP port.
            Process("payments-webhooks", "payments.entrypoints.webhooks", (Port("HTTP_PORT", 8004, Protocol.HTTP),)),
            Process(
                "payments-grpc",
                "payments.entrypoints.grpc_server",
                (Port("GRPC_PORT", 50054, Protocol.GRPC), Port("GRPC_OPS_PORT", 9114, Protocol.HTTP)),
            ),
            Process("payments-worker", "payments.entrypoints.worker", (Port("WORKER_OPS_PORT", 9104, Protocol.HTTP),)),
        ),
        secrets=(Secret("STRIPE_WEBHOOK_SECRET", _webhook_secret, min_length=20),),
        seed=_seed_payments,
    ),
)


@dataclass(frozen=True)
class Listener:
    """One port of one process, resolved for this run."""

    service: Service
    process: Process
    port: Port
    number: int

    @property
    def override(self) -> str:
        return f"{self.service.env_prefix}_{self.port.variable}"


@dataclass(frozen=True)
class PortPlan:
    listeners: tuple[Listener, ...]
    by_process: Mapping[str, tuple[Listener, ...]]

    def service_env(self, service: Service) -> dict[str, str]:
        """Every port variable of the service, so all its processes build the same Settings."""
        return {x.port.variable: str(x.number) for x in self.listeners if x.service is service}

    def grpc_addresses(self, host: str) -> dict[str, str]:
        """`<SERVICE>_ADDR` of every gRPC service, the variable a caller reads to find it."""
        return {
            f"{x.service.env_prefix}_ADDR": f"{host}:{x.number}"
            for x in self.listeners
            if x.port.protocol is Protocol.GRPC
        }


def plan_ports(env: Mapping[str, str], services: tuple[Service, ...] = SERVICES) -> PortPlan:
    """Resolve every port from its override variable or default; two listeners on one port is an error."""
    listeners: list[Listener] = []
    for service in services:
        for process in service.processes:
            for p in process.ports:
                name = f"{service.env_prefix}_{p.variable}"
                listeners.append(Listener(service, process, p, read_port(env, name, p.default)))
    seen: dict[int, Listener] = {}
    for listener in listeners:
        if listener.number == 0:
            raise DevstackError(f"{listener.override} must name a port, not 0")
        if (other := seen.get(listener.number)) is not None:
            raise DevstackError(
                f"port {listener.number} is given to both {other.override} and {listener.override}; change one of them"
            )
        seen[listener.number] = listener
    by_process = {
        process.name: tuple(x for x in listeners if x.process is process)
        for service in services
        for process in service.processes
    }
    return PortPlan(tuple(listeners), by_process)
