"""Benchmark of the credits write path: `Debit` through the gRPC API, against the two limits it stands on.

    .venv/bin/python bench/credits.py [--seconds 8] [--threads 8]      (or: make bench-credits)

In one run, on a fresh database `bench_credits_<random>` of the PostgreSQL at BENCH_DATABASE_URL
(default: postgres@127.0.0.1:5432), dropped at the end:

- full path: debits of 1 through the real credits gRPC server (its own process), closed loop,
  (a) spread over 10,000 clients and (b) on one hot client;
- limit 1, raw SQL: the ledger's own statement (POST_SQL, with the parameters the service sends)
  executed with psycopg in autocommit, spread and hot;
- limit 2, empty gRPC: a no-op method on a GrpcServer configured like the credits server (same
  interceptor and credential check, same worker count), called with the same metadata;
- latency: an open loop at 500 debits/s offered, timed from each call's scheduled start.

For each full-path phase it also reads the server's group-commit counters from its /metrics: posts
per statement, and batches that changed nothing (whose posts then ran alone).

Every client runs the same number of threads in this process. The credential is signed once per
thread and re-signed every 30 s (it is valid for 60 s); each call carries its own request id.
Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import sys

# This script shares its name with the service's `credits` package: search its folder last, so that
# `credits` is the service (found through its editable install) and `benchlib` is still found.
sys.path.append(sys.path.pop(0))

import argparse
import itertools
import json
import os
import random
import secrets
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import grpc
import psycopg
from benchlib import (
    CpuSnapshot,
    Result,
    ServerProcess,
    child_env,
    closed_loop,
    cpu_snapshot,
    cpu_used,
    free_port,
    json_line,
    open_loop,
    raise_on_sigterm,
    stop_all,
)
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from credits.adapters.ledger import POST_SQL, IdempotencyClaim, PostgresLedger
from credits.bootstrap import MIGRATIONS
from credits.config import Settings
from credits.domain import commands
from credits.service_layer.handlers import CreditsService
from credits.service_layer.ledger_check import check_ledger
from scenergy.common import context
from scenergy.common.db import driver_sql, drop_database, make_engine, sqlalchemy_url
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.grpc_server import CREDENTIAL_HEADER, REQUEST_ID_HEADER, GrpcServer
from scenergy.common.identity import Actor, ServiceCredential
from scenergy.common.logging import configure_logging
from scenergy.common.migrations import upgrade
from scenergy.credits.v1 import credits_pb2 as pb
from scenergy.credits.v1 import credits_pb2_grpc as pb_grpc

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CREDITS_SERVICE = "scenergy.credits.v1.CreditsService"
EMPTY_SERVICE = "bench.Empty"
EMPTY_METHOD = f"/{EMPTY_SERVICE}/Call"
CALLER = "bench"
ACTOR = Actor.system("generation")
RESIGN_S = 30.0
DEADLINE_S = 5.0
SEED_BALANCE = 1_000_000_000
HOT_CLIENT = "cli_benchhot0000"
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0
MAX_ERROR_SHARE = 0.01

# POST_SQL in psycopg's own placeholder style, so the raw limit skips SQLAlchemy's per-call work.
RAW_POST_SQL = driver_sql(POST_SQL)


_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


class Signer:
    """CallMetadata's credential, signed once and reused for RESIGN_S: signing per call would spend
    the load generator's CPU on something the server never pays for."""

    def __init__(self, key: str) -> None:
        self._call_metadata = CallMetadata(ServiceCredential(key), CALLER)
        self._token = ""
        self._signed_at = -RESIGN_S

    def __call__(self, request_id: str) -> tuple[tuple[str, str], ...]:
        now = time.monotonic()
        if now - self._signed_at >= RESIGN_S:
            self._token = dict(self._call_metadata(ACTOR, request_id))[CREDENTIAL_HEADER]
            self._signed_at = now
        return ((CREDENTIAL_HEADER, self._token), (REQUEST_ID_HEADER, request_id))


class _CapturingLedger(PostgresLedger):
    """Keeps the parameters the service hands to POST_SQL instead of executing it."""

    captured: dict[str, Any]

    def _post(self, conn: Connection, params: dict[str, Any], claim: IdempotencyClaim) -> Any:
        self.captured = dict(params)
        return None


class DebitParams:
    """POST_SQL parameters of a debit of 1, as the service sends them, built cheaply per call.

    A template comes from the service's own code path; per call only what differs between debits is
    replaced. Ids unique within the run and the request hash computed once per client keep the load
    generator's CPU (which shares the machine with PostgreSQL) out of the limit being measured.
    """

    def __init__(self, engine: Engine, clients: list[str]) -> None:
        ledger = _CapturingLedger(engine)
        with context.bound(request_id="template", actor=ACTOR):
            CreditsService(ledger).debit(commands.Debit(clients[0], 1, "template"), ACTOR)
        self._template = ledger.captured
        self._envelope = self._template["envelope"]
        for name in ("client_id", "transaction_id", "idempotency_key"):
            assert name in self._envelope["data"], f"the debit event no longer carries {name}"
        self._hashes = {c: commands.Debit(c, 1, "k").fingerprint() for c in clients}

    def __call__(self, client_id: str, key: str, request_id: str, transaction_id: str, event_id: str) -> dict:
        envelope = dict(self._envelope)
        envelope["id"] = event_id
        envelope["occurred_at"] = datetime.now(UTC).isoformat()
        envelope["correlation_id"] = request_id
        envelope["entity"] = {"type": "credit", "id": client_id}
        envelope["data"] = {
            **self._envelope["data"],
            "client_id": client_id,
            "transaction_id": transaction_id,
            "idempotency_key": key,
        }
        params = dict(self._template)
        params.update(
            client_id=client_id,
            idempotency_key=key,
            request_hash=self._hashes[client_id],
            transaction_id=transaction_id,
            request_id=request_id,
            event_id=event_id,
            metadata=json.dumps(self._template["metadata"]),
            envelope=json.dumps(envelope),
        )
        return params


# -- the three kinds of load ----------------------------------------------------------------------


def raw_sql_op(libpq_url: str, params: DebitParams, clients: list[str], tag: str) -> Callable[[int], Callable]:
    def make(thread: int) -> Callable[[], None]:
        conn = psycopg.connect(libpq_url, autocommit=True, application_name="bench-raw")
        cursor = conn.cursor()
        pick = random.Random(thread).choice
        counter = itertools.count()

        def op() -> None:
            n = next(counter)
            unique = f"{tag}{thread}x{n:x}"
            cursor.execute(
                RAW_POST_SQL,
                params(pick(clients), f"bench-{unique}", unique, f"ctx_{unique}", f"evt_{unique}"),
            )
            if cursor.fetchone() is None:
                raise RuntimeError("the debit changed nothing")

        op.close = conn.close  # type: ignore[attr-defined]
        return op

    return make


def debit_op(channel: grpc.Channel, key: str, clients: list[str], tag: str) -> Callable[[int], Callable]:
    def make(thread: int) -> Callable[[], None]:
        debit = pb_grpc.CreditsServiceStub(channel).Debit
        sign = Signer(key)
        pick = random.Random(thread).choice
        counter = itertools.count()

        def op() -> None:
            unique = f"{tag}{thread}x{next(counter):x}"
            request = pb.DebitRequest(client_id=pick(clients), amount=1, idempotency_key=f"bench-{unique}")
            if debit(request, metadata=sign(unique), timeout=DEADLINE_S).replayed:
                raise RuntimeError("a fresh key was answered as a replay")

        return op

    return make


def empty_op(channel: grpc.Channel, key: str) -> Callable[[int], Callable]:
    def make(thread: int) -> Callable[[], None]:
        call = channel.unary_unary(EMPTY_METHOD)
        sign = Signer(key)
        counter = itertools.count()

        def op() -> None:
            call(b"", metadata=sign(f"e{thread}x{next(counter):x}"), timeout=DEADLINE_S)

        return op

    return make


def debit_open_loop(channel: grpc.Channel, key: str, clients: list[str], args: argparse.Namespace) -> Result:
    debit = pb_grpc.CreditsServiceStub(channel).Debit
    sign = Signer(key)
    pick = random.Random(0).choice
    counter = itertools.count()

    def start(done: Callable[[str | None], None]) -> None:
        unique = f"o{next(counter):x}"
        request = pb.DebitRequest(client_id=pick(clients), amount=1, idempotency_key=f"bench-{unique}")
        future = debit.future(request, metadata=sign(unique), timeout=DEADLINE_S)
        future.add_done_callback(lambda f: done(None if f.exception() is None else describe(f.exception())))

    # Two seconds behind schedule, p99 is long lost: stop there rather than queue ever more calls.
    return open_loop(start, rate=args.rate, seconds=args.latency_seconds, warmup=args.warmup, max_lag=2.0)


def describe(exc: BaseException | None) -> str:
    """One line for an error (a gRPC error's repr spans several)."""
    if isinstance(exc, grpc.RpcError) and hasattr(exc, "code"):
        return f"{exc.code().name}: {exc.details()}"
    return repr(exc)


# -- the empty server (a subprocess of this script) ---------------------------------------------


def serve_empty() -> None:
    """A GrpcServer set up as the credits server is (same settings, interceptor and credential
    check), with one no-op method and no database behind it."""
    settings = Settings.from_env()
    configure_logging("bench-empty", settings.log_level)

    def register(server: grpc.Server) -> list[str]:
        noop = grpc.unary_unary_rpc_method_handler(lambda request, ctx: b"")
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(EMPTY_SERVICE, {"Call": noop}),))
        return [EMPTY_SERVICE]

    GrpcServer(
        credential=ServiceCredential(settings.service_credential_key),
        register=register,
        host=settings.bind_host,
        port=settings.grpc_port,
        max_workers=settings.grpc_max_workers,
    ).start().serve_until_signalled(grace_s=1)


# -- the run --------------------------------------------------------------------------------------


def seed(libpq_url: str, clients: list[str]) -> None:
    """Open and fund every account in two statements, each balance matched by a grant (version 1),
    so that the ledger check holds."""
    with psycopg.connect(libpq_url) as conn:
        conn.execute(
            "INSERT INTO credit_balance (id, client_id, balance, version, last_activity_at)"
            " SELECT 'bal_' || substr(c, 5), c, %s, 1, now() FROM unnest(%s::text[]) AS c",
            (SEED_BALANCE, clients),
        )
        conn.execute(
            "INSERT INTO credit_transaction (id, client_id, amount, balance_after, version, type, description,"
            " created_at) SELECT 'ctx_' || substr(client_id, 5), client_id, balance, balance, 1, 'grant',"
            " 'benchmark seed', updated_at FROM credit_balance"
        )
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def checked(name: str, result: Result, *, strict: bool = True) -> Result:
    """Refuse a closed-loop phase whose errors would make its rate meaningless (in the open loop,
    failures already count in the latencies)."""
    if strict and (result.ok == 0 or result.errors > MAX_ERROR_SHARE * result.ok):
        raise RuntimeError(f"{name}: {result.ok} ok, {result.errors} errors; first: {result.first_error}")
    errors = f", {result.errors} errors (first: {result.first_error})" if result.errors else ""
    log(f"{name}: {result.rate:,.0f}/s, p50 {result.ms(50):.1f} ms, p99 {result.ms(99):.1f} ms{errors}")
    return result


def run(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    base = make_url(sqlalchemy_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)))
    target_db = base.set(database=f"bench_credits_{secrets.token_hex(4)}")
    url = target_db.render_as_string(hide_password=False)
    libpq_url = target_db.set(drivername="postgresql").render_as_string(hide_password=False)
    spread = [f"cli_bench{i:08d}" for i in range(args.accounts)]
    key = secrets.token_urlsafe(32)
    results: dict[str, Result] = {}

    with ExitStack() as cleanup:
        cleanup.callback(_quietly, "drop the database", drop_database, url)
        ports = {name: (free_port(), free_port()) for name in ("credits", "empty")}
        servers: dict[str, ServerProcess] = {}
        cleanup.callback(_quietly, "stop the servers", lambda: stop_all(list(servers.values())))
        for name, argv in (
            # -P: whatever the working directory, `credits` must be the service, not this script.
            ("credits", [sys.executable, "-P", "-m", "credits.entrypoints.grpc_server"]),
            ("empty", [sys.executable, os.path.abspath(__file__), "--serve-empty"]),
        ):
            grpc_port, http_port = ports[name]
            env = child_env(
                DATABASE_URL=url,
                BROKER_URL="memory://",
                SERVICE_CREDENTIAL_KEY=key,
                BIND_HOST="127.0.0.1",
                GRPC_PORT=str(grpc_port),
                HTTP_PORT=str(http_port),
            )
            servers[name] = ServerProcess(name, argv, env)
        # The servers import while the database is prepared: they touch it only when called.
        log(f"creating and migrating {target_db.database}")
        upgrade(MIGRATIONS, url)
        engine = make_engine(url, application_name="bench-credits")
        cleanup.callback(engine.dispose)
        seed(libpq_url, [*spread, HOT_CLIENT])
        params = DebitParams(engine, [*spread, HOT_CLIENT])
        log("waiting for the servers")
        for name, server in servers.items():
            server.wait_grpc_ready(f"127.0.0.1:{ports[name][0]}", timeout=90)
        credits_channel = make_channel(f"127.0.0.1:{ports['credits'][0]}", retry_service=CREDITS_SERVICE)
        empty_channel = make_channel(f"127.0.0.1:{ports['empty'][0]}", retry_service=EMPTY_SERVICE)
        cleanup.callback(credits_channel.close)
        cleanup.callback(empty_channel.close)

        probe_conn = psycopg.connect(libpq_url, autocommit=True, application_name="bench-probe")
        cleanup.callback(probe_conn.close)

        def probe() -> CpuSnapshot:
            """CPU so far of this process, the servers and the database's backends (not this one)."""
            backends = probe_conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
            return cpu_snapshot(
                {
                    "client": [os.getpid()],
                    "server": [s.proc.pid for s in servers.values()],
                    "db": [r[0] for r in backends],
                }
            )

        load = {"threads": args.threads, "seconds": args.seconds, "warmup": args.warmup, "probe": probe}
        log(f"{args.threads} threads, {args.warmup:g} s warm-up + {args.seconds:g} s per phase")
        # Each path right next to its limit, so drift of a noisy machine hits both alike.
        phases: list[tuple[str, Callable[[int], Callable]]] = [
            ("empty_grpc", empty_op(empty_channel, key)),
            ("raw_spread", raw_sql_op(libpq_url, params, spread, "rs")),
            ("full_spread", debit_op(credits_channel, key, spread, "fs")),
            ("raw_hot", raw_sql_op(libpq_url, params, [HOT_CLIENT], "rh")),
            ("full_hot", debit_op(credits_channel, key, [HOT_CLIENT], "fh")),
        ]
        batching: dict[str, dict[str, float]] = {}
        for name, make_op in phases:
            before = batch_counters(ports["credits"][1])
            results[name] = checked(name, closed_loop(make_op, **load))
            batching[name] = batch_counters(ports["credits"][1], since=before)
        log(f"open loop: {args.rate:g} debits/s offered for {args.latency_seconds:g} s")
        before = batch_counters(ports["credits"][1])
        results["open"] = checked("open loop", debit_open_loop(credits_channel, key, spread, args), strict=False)
        batching["open"] = batch_counters(ports["credits"][1], since=before)

        log("checking the ledger")
        report = check_ledger(engine)
        for violation in report.violations[:10]:
            log(f"ledger violation: {violation}")

    return figures_and_table(args, results, batching, report.ok, report.transactions_checked)


BATCH_SERIES = (
    "credits_ledger_batch_size_sum",
    "credits_ledger_batch_size_count",
    "credits_ledger_batch_fallbacks_total",
)


def batch_counters(http_port: int, since: dict[str, float] | None = None) -> dict[str, float]:
    """The server's group-commit counters from its /metrics (less those of `since`): posts, statements
    and statements that changed nothing."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {name: 0.0 for name in BATCH_SERIES}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in values:
            values[name] = float(value)
    if since is not None:
        values = {name: values[name] - since[name] for name in BATCH_SERIES}
    return values


def _quietly(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Cleanup must go on past one failed step, and never hide the error that caused it."""
    log(f"cleanup: {what}")
    try:
        fn(*args)
    except Exception as exc:
        log(f"could not {what}: {exc!r}")


CLOSED_PHASES = {
    "full_spread": "full gRPC Debit, spread",
    "full_hot": "full gRPC Debit, hot client",
    "raw_spread": "raw SQL POST_SQL, spread",
    "raw_hot": "raw SQL POST_SQL, hot row",
    "empty_grpc": "empty gRPC call",
}


def figures_and_table(
    args: argparse.Namespace,
    results: dict[str, Result],
    batching: dict[str, dict[str, float]],
    ledger_ok: bool,
    transactions: int,
) -> tuple[dict[str, Any], str]:
    empty = results["empty_grpc"].rate
    spread_limit = min(results["raw_spread"].rate, empty)
    hot_limit = min(results["raw_hot"].rate, empty)
    open_ = results["open"]
    figures: dict[str, Any] = {
        "threads": args.threads,
        "seconds": args.seconds,
        "accounts": args.accounts,
        "cpus": os.cpu_count(),
        "signing": "once per thread, renewed every 30 s",
    }
    cpu_rows = []
    for name in CLOSED_PHASES:
        result = results[name]
        figures[f"{name}_per_s"] = result.rate
        figures[f"{name}_p50_ms"] = result.ms(50)
        figures[f"{name}_p99_ms"] = result.ms(99)
        # Where the machine's CPU went, per op: what each process costs, and what else ran meanwhile.
        assert result.probed is not None
        cpu = cpu_used(*result.probed)
        for group in ("client", "server", "db"):
            figures[f"{name}_cpu_ms_{group}"] = 1000 * cpu[group] / result.ok
        figures[f"{name}_other_cores"] = cpu["other"] / cpu["elapsed"]
        if name.startswith("full_"):  # posts per statement, and statements that changed nothing
            posts, statements, fallbacks = (batching[name][series] for series in BATCH_SERIES)
            figures[f"{name}_posts_per_statement"] = posts / statements if statements else None
            figures[f"{name}_batch_fallbacks"] = fallbacks
        cpu_rows.append(
            [figures[f"{name}_cpu_ms_{g}"] for g in ("client", "server", "db")] + [figures[f"{name}_other_cores"]]
        )
    figures.update(
        spread_limit_per_s=spread_limit,
        hot_limit_per_s=hot_limit,
        spread_vs_limit_ratio=results["full_spread"].rate / spread_limit,
        hot_vs_limit_ratio=results["full_hot"].rate / hot_limit,
        limit_ratio_target=TARGET_RATIO,
    )
    at = f"at_{args.rate:g}"  # at_500 by default
    figures.update(
        {
            f"completed_{at}_per_s": open_.rate,
            f"p50_{at}_ms": open_.ms(50),
            f"p99_{at}_ms": open_.ms(99),
            f"p99_{at}_target_ratio": TARGET_P99_MS / open_.ms(99),
            f"failed_{at}": open_.errors,
            f"posts_per_statement_{at}": (
                batching["open"][BATCH_SERIES[0]] / batching["open"][BATCH_SERIES[1]]
                if batching["open"][BATCH_SERIES[1]]
                else None
            ),
            # Non-zero: the load generator itself could not keep to the schedule (it shares the CPUs).
            f"max_send_lag_{at}_ms": 1000 * open_.max_send_lag,
        }
    )
    figures.update(
        errors=sum(r.errors for name, r in results.items() if name != "open"),
        ledger_ok=ledger_ok,
        transactions_checked=transactions,
    )

    lines = [
        f"credits write path: {args.threads} client threads, {args.seconds:g} s per phase, "
        f"{args.accounts:,} spread accounts, {os.cpu_count()} CPUs",
        f"{'':30} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7}   CPU ms per op: {'client':>6} {'server':>6} {'db':>6}"
        f"   other cores",
    ]
    for name, (client, server, db, other) in zip(CLOSED_PHASES, cpu_rows, strict=True):
        r = results[name]
        lines.append(
            f"{CLOSED_PHASES[name]:30} {r.rate:7,.0f} {r.ms(50):7.2f} {r.ms(99):7.2f}   {'':14} "
            f"{client:6.2f} {server:6.2f} {db:6.2f}   {other:11.2f}"
        )
    verdict = {True: "meets", False: "misses"}
    spread_ratio, hot_ratio = figures["spread_vs_limit_ratio"], figures["hot_vs_limit_ratio"]
    lines += [
        f"spread vs its limit {spread_limit:,.0f}/s: {spread_ratio:.2f}x "
        f"({verdict[spread_ratio >= TARGET_RATIO]} the {TARGET_RATIO}x target)",
        f"hot vs its limit {hot_limit:,.0f}/s: {hot_ratio:.2f}x ({verdict[hot_ratio >= TARGET_RATIO]} the target)",
        f"open loop at {args.rate:g}/s offered: {open_.rate:,.0f}/s done, p50 {open_.ms(50):.2f} ms, "
        f"p99 {open_.ms(99):.2f} ms ({verdict[open_.ms(99) <= TARGET_P99_MS]} the {TARGET_P99_MS:g} ms target), "
        f"{open_.errors} failed, sender up to {1000 * open_.max_send_lag:.1f} ms late",
        f"ledger check: {'ok' if ledger_ok else 'VIOLATIONS'} ({transactions:,} transactions)",
    ]
    return figures, "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per closed-loop phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each phase")
    parser.add_argument("--threads", type=int, default=8, help="client threads in every closed-loop phase")
    parser.add_argument("--rate", type=float, default=500.0, help="debits/s offered in the open loop")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="measured seconds of the open loop")
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts of the spread phases")
    parser.add_argument("--serve-empty", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve_empty:
        serve_empty()
        return
    raise_on_sigterm()
    try:
        figures, table = run(args)
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        sys.exit(130)
    log("done")
    print(table)
    print(json_line(figures), flush=True)
    if not figures["ledger_ok"]:
        sys.exit(1)  # the figures stand, but the ledger they come from is broken


if __name__ == "__main__":
    main()
