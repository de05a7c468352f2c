"""Bring the platform up (`run`) or only migrate its databases (`migrate`), following `services.SERVICES`."""

from __future__ import annotations

import importlib.util
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

import grpc
from kombu import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from scenergy.common.db import create_database_if_missing
from scenergy.common.migrations import upgrade
from scenergy_dev.credential import credential_key, stored_secret
from scenergy_dev.errors import DevstackError
from scenergy_dev.postgres import DatabaseServer, EmbeddedPostgres, VarDirLock, masked
from scenergy_dev.probes import grpc_serving, http_ok
from scenergy_dev.seed import SeedContext
from scenergy_dev.services import SERVICES, Listener, PortPlan, Protocol, RunContext, Service, plan_ports
from scenergy_dev.supervisor import Output, Supervisor

READY_LINE = "Scenergy platform is ready. Press Ctrl-C to stop."
BROKER_DATABASE = "scenergy_broker"
STARTUP_TIMEOUT_S = 120.0
# Defaults for every process that the caller's environment may override: local-only binding, and
# small database pools so all services fit in the embedded server's 100 connections.
PROCESS_ENV_DEFAULTS = {"BIND_HOST": "127.0.0.1", "DB_POOL_SIZE": "5"}


class StopRequested(BaseException):
    """SIGINT or SIGTERM arrived: a normal way to end a run, not an error."""


@dataclass(frozen=True)
class Backing:
    """Where the databases live for this run."""

    server: DatabaseServer | None  # None when every service has its own DATABASE_URL_<SERVICE>
    embedded_data: Path | None = None  # the embedded server's data directory, when it is the one in use

    def database_url(self, env: Mapping[str, str], service: Service) -> str:
        own = env.get(f"DATABASE_URL_{service.env_prefix}", "").strip()
        if own:
            return own
        assert self.server is not None
        return self.server.url_for(service.database)

    def describe(self) -> str:
        if self.embedded_data is not None:
            return f"embedded PostgreSQL, data in {self.embedded_data}"
        if self.server is not None:
            return f"PostgreSQL at {masked(self.server.url)} (DATABASE_URL)"
        return "PostgreSQL from DATABASE_URL_<SERVICE>"


def _open_backing(env: Mapping[str, str], postgres: EmbeddedPostgres, *, need_broker: bool, out: Output) -> Backing:
    """The server named by DATABASE_URL, else the embedded one (started here unless already running)."""
    for name in ("DATABASE_URL", *(f"DATABASE_URL_{s.env_prefix}" for s in SERVICES)):
        if value := env.get(name, "").strip():
            try:
                make_url(value)
            except ArgumentError:
                raise DevstackError(f"{name} is not a database URL") from None  # the value may hold a password
    if server_url := env.get("DATABASE_URL", "").strip():
        return Backing(DatabaseServer(server_url))
    own_urls = all(env.get(f"DATABASE_URL_{s.env_prefix}", "").strip() for s in SERVICES)
    broker_elsewhere = not need_broker or bool(env.get("BROKER_URL", "").strip())
    if own_urls and broker_elsewhere:
        return Backing(None)
    out.say(f"starting the embedded PostgreSQL (data in {postgres.pgdata})")
    return Backing(postgres.start(), postgres.pgdata)


def _migrate(env: Mapping[str, str], backing: Backing, out: Output) -> None:
    for service in SERVICES:
        if service.migrations is None:
            continue
        url = backing.database_url(env, service)
        try:
            upgrade(service.migrations, url)
        except OperationalError as exc:
            raise DevstackError(f"cannot migrate {service.name} at {masked(url)}: {exc.orig or exc}") from None
        out.say(f"migrated {service.name} (database {make_url(url).database})")


def _broker_url(env: Mapping[str, str], backing: Backing) -> str:
    """BROKER_URL, else kombu's SQLAlchemy transport on the platform's PostgreSQL."""
    explicit = env.get("BROKER_URL", "").strip()
    if explicit:
        return explicit
    assert backing.server is not None
    url = backing.server.url_for(BROKER_DATABASE)
    create_database_if_missing(url)
    broker = "sqla+" + url
    with Connection(broker, connect_timeout=5) as connection:
        # kombu creates its tables on a channel's first query. Doing it once here keeps the processes
        # that connect together at startup from racing on CREATE TABLE.
        connection.default_channel.session  # noqa: B018
    return broker


def _check_modules() -> None:
    for service in SERVICES:
        for process in service.processes:
            if importlib.util.find_spec(process.module.split(".")[0]) is None:
                raise DevstackError(f"{process.name} needs the {service.name} package; run `make install`")


def _check_ports_free(plan: PortPlan, host: str) -> None:
    for listener in plan.listeners:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # The servers set SO_REUSEADDR too, so a port lingering in TIME_WAIT is not "taken".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, listener.number))
            except OSError as exc:
                raise DevstackError(
                    f"port {listener.number} on {host} ({listener.process.name} {listener.port.protocol}) is not "
                    f"available: {exc.strerror}. Stop what uses it, or pick another port with "
                    f"{listener.override}=<port>"
                ) from None


def _probe_host(bind_host: str) -> str:
    """Where to reach a process that listens on `bind_host`: loopback when it listens everywhere."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(bind_host, bind_host)


def _process_env(
    base: Mapping[str, str],
    service: Service,
    plan: PortPlan,
    *,
    database_url: str,
    broker_url: str,
    key: str,
    secrets: Mapping[str, str],
    var_dir: Path,
) -> dict[str, str]:
    env = {**PROCESS_ENV_DEFAULTS, **base}
    env.update(
        DATABASE_URL=database_url,
        BROKER_URL=broker_url,
        SERVICE_CREDENTIAL_KEY=key,
        PYTHONUNBUFFERED="1",  # lines reach the prefixed output as they are written
    )
    env.update(secrets)
    env.update(plan.service_env(service))
    env.update(plan.grpc_addresses(_probe_host(env["BIND_HOST"])))
    if service.extra_env is not None:
        ports = {name: int(value) for name, value in plan.service_env(service).items()}
        context = RunContext(var_dir=var_dir, ports=ports, host=_probe_host(env["BIND_HOST"]))
        env.update({k: v for k, v in service.extra_env(context).items() if not base.get(k)})
    return env


def _probe(listener: Listener, host: str) -> tuple[bool, str]:
    if listener.port.protocol is Protocol.GRPC:
        return grpc_serving(f"{host}:{listener.number}")
    for path in ("/healthz", "/readyz"):
        ok, detail = http_ok(f"http://{host}:{listener.number}{path}")
        if not ok:
            return False, f"{path}: {detail}"
    return True, "ok"


def _wait_until_healthy(plan: PortPlan, host: str, supervisor: Supervisor, out: Output) -> None:
    pending = {listener: "no answer yet" for listener in plan.listeners}
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while pending:
        for listener in list(pending):
            ok, detail = _probe(listener, host)
            if ok:
                del pending[listener]
                out.say(f"{listener.process.name} answers on {listener.port.protocol} port {listener.number}")
            else:
                pending[listener] = detail
        if not pending:
            return
        if (exited := supervisor.next_exit(0.25)) is not None:
            raise DevstackError(f"{exited[0]} exited during startup (exit code {exited[1]}); see its output above")
        if time.monotonic() > deadline:
            waiting = "; ".join(
                f"{x.process.name} {x.port.protocol} :{x.number}: {detail}" for x, detail in pending.items()
            )
            raise DevstackError(f"not healthy after {STARTUP_TIMEOUT_S:.0f}s: {waiting}")


def _seed(
    plan: PortPlan, host: str, key: str, *, database_urls: Mapping[str, str], var_dir: Path, env: Mapping[str, str]
) -> list[str]:
    addresses = {x.service.name: f"{host}:{x.number}" for x in plan.listeners if x.port.protocol is Protocol.GRPC}
    http_urls: dict[str, str] = {}
    for x in plan.listeners:
        if x.port.protocol is Protocol.HTTP:
            http_urls.setdefault(x.service.name, f"http://{host}:{x.number}")
    context = SeedContext(
        credential_key=key,
        grpc_addresses=addresses,
        http_urls=http_urls,
        database_urls=database_urls,
        var_dir=var_dir,
        env=env,
    )
    lines: list[str] = []
    for service in SERVICES:
        if service.seed is None:
            continue
        try:
            lines += service.seed(context)
        except grpc.RpcError as exc:
            raise DevstackError(
                f"seeding {service.name}'s demo data failed: {exc.code().name}: {exc.details()}"  # type: ignore[attr-defined]
            ) from None
    return lines


def _summary(
    plan: PortPlan, host: str, *, backing: Backing, broker_url: str, key_source: str, seeded: list[str]
) -> list[str]:
    lines = ["", "What runs where:"]
    for service in SERVICES:
        for process in service.processes:
            parts = []
            for x in plan.by_process[process.name]:
                if x.port.protocol is Protocol.GRPC:
                    parts.append(f"gRPC {host}:{x.number}")
                else:
                    parts.append(f"http://{host}:{x.number} (/healthz /readyz /metrics)")
            lines.append(f"  {process.name:<24} {'  '.join(parts)}")
    lines += [
        f"  {'database':<24} {backing.describe()}",
        f"  {'broker':<24} {masked(broker_url)}",
        f"  {'service credential key':<24} from {key_source}",
    ]
    if seeded:  # what each service's seed step reported: demo data, and where to sign in
        lines += ["Demo data:", *(f"  {line}" for line in seeded)]
    return [*lines, ""]


def _bring_up_and_watch(
    env: Mapping[str, str], var_dir: Path, supervisor: Supervisor, postgres: EmbeddedPostgres, out: Output
) -> int:
    plan = plan_ports(env)
    bind_host = env.get("BIND_HOST", "").strip() or PROCESS_ENV_DEFAULTS["BIND_HOST"]
    host = _probe_host(bind_host)
    _check_modules()
    _check_ports_free(plan, bind_host)
    key, key_source = credential_key(env, var_dir)
    backing = _open_backing(env, postgres, need_broker=True, out=out)
    _migrate(env, backing, out)
    broker_url = _broker_url(env, backing)
    for service in SERVICES:
        database_url = backing.database_url(env, service)
        secrets = {
            s.variable: stored_secret(env, var_dir, s.variable, generate=s.generate, min_length=s.min_length)[0]
            for s in service.secrets
        }
        for process in service.processes:
            process_env = _process_env(
                env,
                service,
                plan,
                database_url=database_url,
                broker_url=broker_url,
                key=key,
                secrets=secrets,
                var_dir=var_dir,
            )
            supervisor.start(process.name, [sys.executable, "-m", process.module], process_env)
    _wait_until_healthy(plan, host, supervisor, out)
    database_urls = {service.name: backing.database_url(env, service) for service in SERVICES}
    seeded = _seed(plan, host, key, database_urls=database_urls, var_dir=var_dir, env=env)
    for line in _summary(plan, host, backing=backing, broker_url=broker_url, key_source=key_source, seeded=seeded):
        out.say(line)
    out.say(READY_LINE)
    while (exited := supervisor.next_exit(1.0)) is None:
        pass
    out.say(f"error: {exited[0]} exited unexpectedly (exit code {exited[1]}); stopping the platform")
    return 1


def _stop_postgres(postgres: EmbeddedPostgres, out: Output) -> bool:
    """Stop the embedded server if it runs; False (reported) when it would not stop."""
    try:
        if postgres.stop():
            out.say("embedded PostgreSQL stopped")
        return True
    except DevstackError as exc:
        out.say(f"error: {exc}")
        return False


def run(var_dir: Path, env: Mapping[str, str], stream: TextIO | None = None) -> int:
    """Run the whole platform until SIGINT/SIGTERM (exit 0) or until a process dies (exit 1)."""
    out = Output(stream or sys.stdout, [p.name for s in SERVICES for p in s.processes])
    var_dir = var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    lock = VarDirLock(var_dir)
    if not lock.acquire():
        out.say(f"error: another runner (pid {lock.holder()}) is using {var_dir}; stop it or pass another --var-dir")
        return 1

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        raise StopRequested(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = Supervisor(out)
    postgres = EmbeddedPostgres(var_dir / "pg")
    code = 1
    try:
        code = _bring_up_and_watch(env, var_dir, supervisor, postgres, out)
    except StopRequested as stop:
        out.say(f"{stop} received; stopping the platform")
        code = 0
    except DevstackError as exc:
        out.say(f"error: {exc}")
        code = 1
    finally:
        # Shutdown must finish once begun: every step below is bounded, so further signals are ignored.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop()
        # Holding the var dir's lock makes a server running on its data ours, even one left behind by
        # a runner that was killed: stop it after the processes that used it.
        if not _stop_postgres(postgres, out):
            code = 1
        lock.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _with_databases(
    var_dir: Path, env: Mapping[str, str], stream: TextIO | None, action: Callable[[Backing, Output], None]
) -> int:
    """Run `action` against the databases (the embedded server is started, and stopped after, if needed)."""
    out = Output(stream or sys.stdout, [])
    var_dir = var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    lock = VarDirLock(var_dir)
    # A running platform owns the embedded server: work through it and leave it running.
    owner = lock.acquire()
    postgres = EmbeddedPostgres(var_dir / "pg")
    code = 1
    try:
        if not owner and postgres.running_pid() is None:
            raise DevstackError(f"a runner (pid {lock.holder()}) is starting or stopping in {var_dir}; try again")
        action(_open_backing(env, postgres, need_broker=False, out=out), out)
        code = 0
    except DevstackError as exc:
        out.say(f"error: {exc}")
    finally:
        if owner:
            if not _stop_postgres(postgres, out):
                code = 1
            lock.release()
    return code


def migrate(var_dir: Path, env: Mapping[str, str], stream: TextIO | None = None) -> int:
    """Create and migrate every service's database, then stop the embedded PostgreSQL if this started it."""
    return _with_databases(var_dir, env, stream, lambda backing, out: _migrate(env, backing, out))


def create_admin(var_dir: Path, env: Mapping[str, str], stream: TextIO | None = None) -> int:
    """`make create-admin EMAIL=… ROLE=… PASSWORD=…`: an admin account in the gateway's database."""
    from admin_api.service_layer.admins import AdminError
    from admin_api.service_layer.admins import create_admin as create
    from scenergy.common.db import make_engine
    from scenergy.common.identity import Actor, Role

    email, role, password = env.get("EMAIL", "").strip(), env.get("ROLE", "admin").strip(), env.get("PASSWORD", "")
    if not email or not password:
        (stream or sys.stdout).write("error: EMAIL and PASSWORD are required (ROLE: super_admin, admin or viewer)\n")
        return 2
    if role not in {r.value for r in Role}:
        (stream or sys.stdout).write(f"error: ROLE must be super_admin, admin or viewer, not {role!r}\n")
        return 2
    service = next(s for s in SERVICES if s.name == "admin-api")

    def action(backing: Backing, out: Output) -> None:
        url = backing.database_url(env, service)
        create_database_if_missing(url)
        upgrade(service.migrations or "", url)
        engine = make_engine(url, application_name="devstack-create-admin", pool_size=1)
        try:
            with engine.begin() as conn:
                admin = create(conn, email=email, password=password, role=Role(role), actor=Actor.system("devstack"))
        except AdminError as exc:
            raise DevstackError(str(exc)) from None
        finally:
            engine.dispose()
        out.say(f"created {admin['role']} {admin['email']} ({admin['id']})")

    return _with_databases(var_dir, env, stream, action)
