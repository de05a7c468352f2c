"""Benchmark of the audit log: ingest against a raw consumer, filtered pages and exports at 1M entries.

    .venv/bin/python bench/audit.py [--events 20000] [--entries 1000000]     (or: make bench-audit)

In one run, on a fresh database `bench_audit_<random>` of the PostgreSQL at BENCH_DATABASE_URL
(default: postgres@127.0.0.1:5432) and a fresh exchange `bench.audit.<random>` of the RabbitMQ at
BENCH_BROKER_URL (default: guest@127.0.0.1:5672), all dropped or deleted at the end:

1. Ingest. N realistic envelopes (credit grants, adjustments and refunds by ~50 admins, with the
   previous and new state, 3% failures) are published, persistent, to a fresh quorum queue; then the
   real sink (`build_consumer`, in a thread of this process) consumes them, and the clock runs from
   its start until the chain head reaches them all: `ingest_per_s`. Its peer is the least a consumer
   of these messages can do, `raw_ingest_per_s`: the same messages in a fresh queue of the same
   broker, a kombu consumer with the same prefetch (2 x batch size) that JSON-decodes each body,
   batches as the sink does (batch size or 50 ms) and stores each batch with ONE multi-row
   `INSERT ... ON CONFLICT (id) DO NOTHING` in one transaction into a plain table of the same
   database, then acks each message as the sink does. Same broker, database, batch size, prefetch,
   bodies and thread layout: what differs is the sink's own work (validation, redaction, the
   description, the hash chain and seal, the duplicate check, COPY). Ours and raw run alternately
   twice (ABAB) and the best of each counts, the machine being noisy. Each round gives its messages
   fresh event ids, so both tables grow alike and the sink never skips a duplicate. Then the chain is
   verified: `chain_ok`.
2. Filtered pages. The log is filled to `--entries` with one INSERT ... SELECT (synthetic hashes:
   this part measures queries, not the chain) of varied entries (~50 admins, 20 actions on credits,
   clients, users and jobs, ~20,000 entities, a year of dates, 3% failures, worded descriptions),
   then vacuumed and analyzed. 300 `ListEntries` calls (limit 50), one at a time, to the gRPC server
   in a process of its own, spread over filter kinds; p50, p99 and p99 per kind. A kind slower than
   the target gets the EXPLAIN ANALYZE of its slowest call's SQL on stderr.
3. Export. `ExportEntries` of the whole log (CSV, then JSON lines), each from a freshly started
   server process, so that its peak RSS (VmHWM) is the export's; the stream is counted and dropped.

Targets: ingest >= 0.5 x raw, page p99 <= 50 ms, export peak RSS < 200 MB. Each comparison is a key
ending in `_ratio`, higher is better (ours / raw; target / measured). Progress goes to stderr; the
last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import sys

# This script shares its name with the service's `audit` package: search its folder last, so that
# `audit` is the service (found through its editable install) and `benchlib` is still found.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
from benchlib import (
    ACTIONS,
    ADMINS,
    ENTITIES_PER_TYPE,
    ERRORS,
    REASONS,
    Database,
    ServerProcess,
    admin_id,
    child_env,
    entity_id,
    fill_audit_log,
    free_port,
    json_line,
    percentile,
    raise_on_sigterm,
)
from kombu import Connection, Message, Producer
from kombu.mixins import ConsumerMixin
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, event

from audit.bootstrap import MIGRATIONS, Container, bootstrap
from audit.config import Settings
from audit.domain.chain import ChainSigner
from audit.entrypoints.grpc_server import entry_filter, ts
from audit.entrypoints.sink import build_consumer
from audit.service_layer.verify import verify_chain
from audit.views import AuditViews
from scenergy.audit.v1 import audit_pb2 as pb
from scenergy.audit.v1 import audit_pb2_grpc as pb_grpc
from scenergy.common.db import drop_database, make_engine
from scenergy.common.events import make_envelope
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.identity import Actor, ActorType, Role, ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.messaging import QueueSpec, Topology, connect
from scenergy.common.migrations import upgrade
from scenergy.common.testing.actors import ADMIN

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
AUDIT_SERVICE = "scenergy.audit.v1.AuditService"
TARGET_INGEST_RATIO = 0.5
TARGET_PAGE_P99_MS = 50.0
TARGET_EXPORT_RSS_MB = 200.0
PAGE_LIMIT = 50
PAGE_CALLS = 300
POLL_S = 0.01
STALL_S = 60.0  # no progress for this long: the run is broken (e.g. messages dead-lettered)

TEXT_QUERIES = (
    "refund", "beta tester", "outage", "password", "suspended client", "migration", "granted",
    "duplicate charge", "generation job", "failed", "referral", "annual renewal",
)  # fmt: skip

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def wait_for(progress: Callable[[], int], goal: int, what: str) -> None:
    """Poll `progress` until it reaches `goal`; fail if it stops moving for STALL_S."""
    last, moved_at = -1, time.monotonic()
    while (now := progress()) < goal:
        if now != last:
            last, moved_at = now, time.monotonic()
        elif time.monotonic() - moved_at > STALL_S:
            raise RuntimeError(f"{what}: stuck at {now} of {goal} for {STALL_S:g} s")
        time.sleep(POLL_S)


# -- the messages ---------------------------------------------------------------------------------


def make_envelopes(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Credit events as the credits service publishes them: an admin grants, adjusts or refunds,
    with the account's previous and new state; 3% are failures."""
    admins = [
        Actor(ActorType.ADMIN, admin_id(n), Role.ADMIN, f"203.0.113.{n}", "Mozilla/5.0 (X11; Linux x86_64)")
        for n in range(ADMINS)
    ]
    envelopes = []
    for _ in range(count):
        verb = rng.choice(("grant", "grant", "adjust", "refund"))
        amount, balance, version = rng.randrange(1, 100) * 10, rng.randrange(0, 100_000), rng.randrange(1, 50)
        failed = rng.random() < 0.03
        code, message = rng.choice(ERRORS)
        envelopes.append(
            make_envelope(
                type=f"credits.credit.{verb}",
                source="credits",
                entity_type="credit",
                entity_id=entity_id("cli", rng.randrange(ENTITIES_PER_TYPE)),
                data={
                    "amount": amount,
                    "reason": rng.choice(REASONS),
                    "transaction_id": new_id("ctx"),
                    "previous": {"balance": balance, "version": version},
                    "new": None if failed else {"balance": balance + amount, "version": version + 1},
                },
                actor=rng.choice(admins),
                correlation_id=new_id("req"),
                outcome="failure" if failed else "success",
                error_code=code if failed else None,
                error_message=message if failed else "",
            )
        )
    return envelopes


def bodies(envelopes: list[dict[str, Any]], round_: int) -> list[bytes]:
    """The JSON bodies of a round: the same events, with ids of their own (the sink skips known ids)."""
    return [json.dumps({**e, "id": f"{e['id']}r{round_}"}).encode() for e in envelopes]


class Broker:
    """An exchange of the benchmark's own, one queue at a time bound to all of it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.topology = Topology(exchange_name=f"bench.audit.{secrets.token_hex(4)}")
        self._queues: list[str] = []

    def filled_queue(self, label: str, messages: list[bytes]) -> QueueSpec:
        """A fresh queue holding `messages` (published persistent; returns once the broker has them all)."""
        spec = QueueSpec(f"{self.topology.exchange_name}.{label}", ("#",))
        self._queues += [spec.name, f"{spec.name}.dead"]
        with Connection(self.url, connect_timeout=5) as conn:
            self.topology.with_queues(spec).declare(conn)
            producer = Producer(conn.default_channel, exchange=self.topology.exchange)
            for body in messages:
                producer.publish(
                    body,
                    routing_key="credits.credit.grant",
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                )
            queue = self.topology.queue(spec)(conn.default_channel)
            wait_for(lambda: int(queue.queue_declare(passive=True).message_count), len(messages), spec.name)
        return spec

    def delete_queue(self, spec: QueueSpec) -> None:
        with Connection(self.url, connect_timeout=5) as conn:
            for name in (spec.name, f"{spec.name}.dead"):
                conn.default_channel.queue_delete(name)

    def delete_all(self) -> None:
        with Connection(self.url, connect_timeout=5) as conn:
            channel = conn.default_channel
            for name in self._queues:
                channel.queue_delete(name)
            for name in (self.topology.exchange_name, f"{self.topology.exchange_name}.dlx"):
                channel.exchange_delete(name)


# -- ingest: the sink and its raw peer ------------------------------------------------------------


RAW_TABLE_SQL = """
CREATE TABLE raw_event (
    id text PRIMARY KEY,
    type text NOT NULL,
    source text NOT NULL,
    occurred_at timestamptz NOT NULL,
    outcome text NOT NULL,
    actor jsonb NOT NULL,
    entity jsonb NOT NULL,
    data jsonb NOT NULL
)
"""
RAW_COLUMNS = "(id, type, source, occurred_at, outcome, actor, entity, data)"
RAW_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s)"


class RawConsumer(ConsumerMixin):  # type: ignore[misc]
    """The least a consumer of these messages can do: decode, batch, one multi-row INSERT, ack.

    Batches like BatchEventConsumer: `batch_size` messages or what arrived within `max_wait_s`,
    with the same prefetch and the same polling interval.
    """

    def __init__(self, connection: Connection, topology: Topology, spec: QueueSpec, db: psycopg.Connection[Any],
                 *, batch_size: int, max_wait_s: float) -> None:  # fmt: skip
        self.connection = connection
        self._queue = topology.queue(spec)
        self._db = db
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
        self._pending: list[tuple[Message, dict[str, Any]]] = []
        self._oldest = 0.0
        self._statements = {batch_size: self._insert_sql(batch_size)}
        self.stored = 0

    @staticmethod
    def _insert_sql(rows: int) -> str:
        values = ", ".join([RAW_ROW] * rows)
        return f"INSERT INTO raw_event {RAW_COLUMNS} VALUES {values} ON CONFLICT (id) DO NOTHING"

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Any]:
        consumer = Consumer(
            queues=[self._queue], on_message=self.on_message, accept=["json"], prefetch_count=self._batch_size * 2
        )
        return [consumer]

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("safety_interval", min(self._max_wait_s, 1.0))
        super().run(_tokens, **kwargs)

    def on_message(self, message: Message) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append((message, json.loads(message.body)))
        if len(self._pending) >= self._batch_size:
            self.flush()

    def on_iteration(self) -> None:
        if self._pending and time.monotonic() - self._oldest >= self._max_wait_s:
            self.flush()

    def flush(self) -> None:
        batch, self._pending = self._pending, []
        params: list[Any] = []
        for _, e in batch:
            params += [e["id"], e["type"], e["source"], e["occurred_at"], e["outcome"],
                       Jsonb(e["actor"]), Jsonb(e["entity"]), Jsonb(e["data"])]  # fmt: skip
        statement = self._statements.get(len(batch)) or self._insert_sql(len(batch))
        with self._db.transaction():
            stored = self._db.execute(statement, params).rowcount
        for message, _ in batch:
            message.ack()
        self.stored += stored


def consume(consumer: ConsumerMixin, progress: Callable[[], int], goal: int, what: str) -> float:
    """Run `consumer` in a thread until `progress()` reaches `goal`; the seconds that took."""
    thread = threading.Thread(target=consumer.run, name=what, daemon=True)
    started = time.perf_counter()
    thread.start()
    try:
        wait_for(progress, goal, what)
        return time.perf_counter() - started
    finally:
        consumer.should_stop = True
        thread.join(timeout=15)


def run_ours(container: Container, broker: Broker, spec: QueueSpec, count: int) -> float:
    start = container.store.head()[0]  # also warms a pooled connection, as the raw run's is
    with connect(broker.url) as conn:  # as the sink's main() connects
        consumer = build_consumer(container, conn, topology=broker.topology, spec=spec)
        seconds = consume(consumer, lambda: container.store.head()[0] - start, count, "sink")
    return count / seconds


def run_raw(db: Database, broker: Broker, spec: QueueSpec, count: int, settings: Settings) -> float:
    with db.connect() as pg, connect(broker.url) as conn:
        consumer = RawConsumer(
            conn,
            broker.topology,
            spec,
            pg,
            batch_size=settings.batch_size,
            max_wait_s=settings.batch_max_wait_ms / 1000,
        )
        seconds = consume(consumer, lambda: consumer.stored, count, "raw")
    return count / seconds


def ingest(args: argparse.Namespace, db: Database, broker: Broker, container: Container) -> dict[str, Any]:
    with db.connect(autocommit=True) as pg:
        pg.execute(RAW_TABLE_SQL)
    log(f"making {args.events:,} envelopes")
    envelopes = make_envelopes(args.events, random.Random(1))
    rates: dict[str, list[float]] = {"ours": [], "raw": []}
    for round_ in (1, 2):
        messages = bodies(envelopes, round_)
        for name in ("ours", "raw"):
            spec = broker.filled_queue(f"{name}{round_}", messages)
            log(f"round {round_}, {name}: {len(messages):,} messages in {spec.name}; consuming")
            if name == "ours":
                rate = run_ours(container, broker, spec, len(messages))
            else:
                rate = run_raw(db, broker, spec, len(messages), container.settings)
            rates[name].append(rate)
            broker.delete_queue(spec)
            log(f"round {round_}, {name}: {rate:,.0f} events/s (load {os.getloadavg()[0]:.2f})")
    log("verifying the chain")
    report = verify_chain(container.store)
    ours, raw = max(rates["ours"]), max(rates["raw"])
    return {
        "ingest_per_s": ours,
        "raw_ingest_per_s": raw,
        "ingest_vs_raw_ratio": ours / raw,
        "ingest_runs_per_s": [round(r) for r in rates["ours"]],
        "raw_ingest_runs_per_s": [round(r) for r in rates["raw"]],
        "chain_ok": report.ok,
        "chain_entries_checked": report.entries_checked,
    }


# -- a million entries ----------------------------------------------------------------------------


def fill(db: Database, entries: int) -> int:
    """Bring the log to `entries` rows (benchlib.fill_audit_log); returns the number of rows."""
    with db.connect(autocommit=True) as pg:
        return fill_audit_log(pg, entries, log)


# -- the gRPC server ------------------------------------------------------------------------------


@dataclass
class Server:
    process: ServerProcess
    target: str

    @property
    def pid(self) -> int:
        return self.process.proc.pid


def start_server(db: Database, broker_url: str, key: str, signing_key: str, name: str) -> Server:
    grpc_port, http_port = free_port(), free_port()
    env = child_env(
        DATABASE_URL=db.url,
        BROKER_URL=broker_url,
        SERVICE_CREDENTIAL_KEY=key,
        AUDIT_SIGNING_KEY=signing_key,
        BIND_HOST="127.0.0.1",
        GRPC_PORT=str(grpc_port),
        HTTP_PORT=str(http_port),
        LOG_LEVEL="WARNING",
    )
    # -P: whatever the working directory, `audit` must be the service, not this script.
    process = ServerProcess(name, [sys.executable, "-P", "-m", "audit.entrypoints.grpc_server"], env)
    target = f"127.0.0.1:{grpc_port}"
    try:
        process.wait_grpc_ready(target, timeout=90)
    except BaseException:
        process.stop()
        raise
    return Server(process, target)


def memory_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/<pid>/status (VmRSS: now, VmHWM: peak), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


# -- filtered pages -------------------------------------------------------------------------------


@dataclass
class PageCall:
    kind: str
    filter: pb.EntryFilter
    page: int = 1  # pages before it are fetched untimed, for the cursor
    cursor: str = ""
    seconds: float = 0.0


def plan_pages(rng: random.Random, calls: int) -> list[PageCall]:
    """`calls` page calls spread evenly over the filter kinds, in a shuffled order."""
    now = datetime.now(UTC)

    def week() -> dict[str, Any]:
        start = now - timedelta(days=365) + timedelta(days=rng.uniform(0, 358))
        return {"occurred_from": ts(start), "occurred_to": ts(start + timedelta(days=7))}

    def admin() -> str:
        return admin_id(rng.randrange(ADMINS))

    def entity() -> dict[str, str]:
        action, prefix, *_ = rng.choice(ACTIONS)
        return {"entity_type": action.split(".")[0], "entity_id": entity_id(prefix, rng.randrange(ENTITIES_PER_TYPE))}

    kinds: dict[str, Callable[[], dict[str, Any]]] = {
        "none": lambda: {},
        "admin": lambda: {"actor_id": admin()},
        "action": lambda: {"action": rng.choice(ACTIONS)[0]},
        "action_prefix": lambda: {"action": rng.choice(ACTIONS)[0].split(".")[0]},
        "entity": entity,
        "date": week,
        "failure": lambda: {"outcome": "failure"},
        "text": lambda: {"query": rng.choice(TEXT_QUERIES)},
        "admin_date": lambda: {"actor_id": admin(), **week()},
    }
    pageable = ("none", "admin", "action", "date", "failure", "text")
    plan = []
    for i in range(calls):
        kind = (*kinds, "paging")[i % (len(kinds) + 1)]
        if kind == "paging":
            plan.append(PageCall(kind, pb.EntryFilter(**kinds[rng.choice(pageable)]()), page=rng.choice((2, 3))))
        else:
            plan.append(PageCall(kind, pb.EntryFilter(**kinds[kind]())))
    rng.shuffle(plan)
    return plan


def time_pages(server: Server, key: str, plan: list[PageCall]) -> None:
    """Make each call of the plan, one at a time; fills in its cursor and seconds."""
    call_metadata = CallMetadata(ServiceCredential(key), "admin-api")
    channel = make_channel(server.target, retry_service=AUDIT_SERVICE)
    try:
        list_entries = pb_grpc.AuditServiceStub(channel).ListEntries

        def fetch(call: PageCall, cursor: str) -> tuple[str, float]:
            request = pb.ListEntriesRequest(filter=call.filter, limit=PAGE_LIMIT, cursor=cursor)
            metadata = call_metadata(ADMIN)
            started = time.perf_counter()
            response = list_entries(request, metadata=metadata, timeout=30)
            return response.next_cursor, time.perf_counter() - started

        for call in plan[:20]:  # warm-up: connections, caches; not counted
            fetch(call, "")
        for call in plan:
            cursor = ""
            for _ in range(call.page - 1):
                cursor, _ = fetch(call, cursor)
                if not cursor:
                    break
            call.cursor = cursor
            _, call.seconds = fetch(call, cursor)
    finally:
        channel.close()


def explain(engine: Engine, call: PageCall) -> str:
    """EXPLAIN ANALYZE of the SQL the service runs for this call (captured from AuditViews itself)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        AuditViews(engine).list_entries(entry_filter(call.filter), limit=PAGE_LIMIT, cursor=call.cursor)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
    return "\n".join(str(r[0]) for r in rows)


def describe_filter(f: pb.EntryFilter) -> str:
    shown = {field.name: value for field, value in f.ListFields()}
    for name in ("occurred_from", "occurred_to"):
        if name in shown:
            shown[name] = shown[name].ToDatetime().date().isoformat()
    return json.dumps(shown, default=str)


def pages(db: Database, server: Server, key: str) -> dict[str, Any]:
    plan = plan_pages(random.Random(7), PAGE_CALLS)
    log(f"{len(plan)} ListEntries calls (limit {PAGE_LIMIT}) over {len({c.kind for c in plan})} filter kinds")
    time_pages(server, key, plan)
    every = sorted(c.seconds * 1000 for c in plan)
    figures: dict[str, Any] = {
        "page_calls": len(plan),
        "page_p50_ms": percentile(every, 50),
        "page_p99_ms": percentile(every, 99),
        "page_max_ms": every[-1],
    }
    figures["page_p99_ratio"] = TARGET_PAGE_P99_MS / figures["page_p99_ms"]
    engine = make_engine(db.url, application_name="bench-audit-explain", statement_timeout_ms=60_000)
    try:
        for kind in dict.fromkeys(c.kind for c in plan):
            calls = [c for c in plan if c.kind == kind]
            ms = sorted(c.seconds * 1000 for c in calls)
            figures[f"page_p50_ms_{kind}"] = percentile(ms, 50)
            figures[f"page_p99_ms_{kind}"] = percentile(ms, 99)
            log(f"  {kind:14} p50 {percentile(ms, 50):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   ({len(ms)} calls)")
            if percentile(ms, 99) > TARGET_PAGE_P99_MS:
                slowest = max(calls, key=lambda c: c.seconds)
                log(
                    f"{kind} misses the {TARGET_PAGE_P99_MS:g} ms target; its slowest call "
                    f"({slowest.seconds * 1000:.1f} ms, page {slowest.page}, filter {describe_filter(slowest.filter)}):\n"
                    + explain(engine, slowest)
                )
    finally:
        engine.dispose()
    return figures


# -- export ---------------------------------------------------------------------------------------


def export(db: Database, broker_url: str, key: str, signing_key: str, fmt: str) -> dict[str, Any]:
    """One export of the whole log from a fresh server process: its time, size and peak memory."""
    server = start_server(db, broker_url, key, signing_key, f"audit-export-{fmt}")
    try:
        rss_before = memory_mb(server.pid, "VmRSS")
        metadata = CallMetadata(ServiceCredential(key), "admin-api")(ADMIN)
        size = lines = 0
        log(f"exporting as {fmt} (server pid {server.pid}, RSS {rss_before:.0f} MB)")
        with grpc.insecure_channel(server.target) as channel:
            stream = pb_grpc.AuditServiceStub(channel).ExportEntries(
                pb.ExportEntriesRequest(format=fmt), metadata=metadata, timeout=3600
            )
            started = time.perf_counter()
            for chunk in stream:
                size += len(chunk.data)
                lines += chunk.data.count(b"\n")
            seconds = time.perf_counter() - started
        peak = memory_mb(server.pid, "VmHWM")
    finally:
        server.process.stop()
    rows = lines - 1 if fmt == "csv" else lines  # the CSV has a header; no field holds a line break
    prefix = "export" if fmt == "csv" else f"export_{fmt}"
    log(f"{fmt}: {rows:,} rows, {size / 1e6:,.0f} MB in {seconds:.1f} s; peak RSS {peak:.0f} MB")
    return {
        f"{prefix}_rows": rows,
        f"{prefix}_mb": size / 1e6,
        f"{prefix}_s": seconds,
        f"{prefix}_rows_per_s": rows / seconds,
        f"{prefix}_peak_rss_mb": peak,
        f"{prefix}_rss_before_mb": rss_before,
        f"{prefix}_peak_rss_ratio": TARGET_EXPORT_RSS_MB / peak,
    }


# -- the run --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    db = Database.named(f"bench_audit_{secrets.token_hex(4)}", "bench-audit")
    broker = Broker(os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL))
    key = secrets.token_urlsafe(32)
    settings = Settings(
        database_url=db.url,
        broker_url=broker.url,
        service_credential_key=key,
        signing_key=ChainSigner.generate_private_key(),
    )
    figures: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "events": args.events,
        "entries": args.entries,
        "batch_size": settings.batch_size,
        "load_1m_start": os.getloadavg()[0],
    }
    with ExitStack() as cleanup:
        cleanup.callback(_quietly, "drop the database", drop_database, db.url)
        log(f"creating and migrating {db.name}")
        upgrade(MIGRATIONS, db.url)
        if not args.skip_ingest:
            cleanup.callback(_quietly, "delete the queues and exchanges", broker.delete_all)
            container = bootstrap(settings, process="sink")
            cleanup.callback(container.close)
            figures.update(ingest(args, db, broker, container))
            figures["load_1m_after_ingest"] = os.getloadavg()[0]
        if args.skip_queries and args.skip_export:
            return figures
        figures["entries_stored"] = fill(db, args.entries)
        if not args.skip_queries:
            server = start_server(db, broker.url, key, settings.signing_key, "audit-grpc")
            try:
                figures.update(pages(db, server, key))
            finally:
                server.process.stop()
            figures["load_1m_after_queries"] = os.getloadavg()[0]
        if not args.skip_export:
            for fmt in ("csv", *(() if args.skip_jsonl else ("jsonl",))):
                figures.update(export(db, broker.url, key, settings.signing_key, fmt))
            figures["load_1m_after_export"] = os.getloadavg()[0]
    return figures


def _quietly(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Cleanup must go on past one failed step, and never hide the error that caused it."""
    log(f"cleanup: {what}")
    try:
        fn(*args)
    except Exception as exc:
        log(f"could not {what}: {exc!r}")


def summary(figures: dict[str, Any]) -> Iterator[str]:
    verdict = {True: "meets", False: "misses"}
    if "ingest_per_s" in figures:
        ratio = figures["ingest_vs_raw_ratio"]
        yield (
            f"ingest: {figures['ingest_per_s']:,.0f} events/s vs raw {figures['raw_ingest_per_s']:,.0f}/s = "
            f"{ratio:.2f}x ({verdict[ratio >= TARGET_INGEST_RATIO]} the {TARGET_INGEST_RATIO}x target); "
            f"chain {'ok' if figures['chain_ok'] else 'BROKEN'}"
        )
    if "page_p99_ms" in figures:
        p99 = figures["page_p99_ms"]
        yield (
            f"pages at {figures['entries_stored']:,} entries: p50 {figures['page_p50_ms']:.1f} ms, p99 {p99:.1f} ms "
            f"({verdict[p99 <= TARGET_PAGE_P99_MS]} the {TARGET_PAGE_P99_MS:g} ms target)"
        )
    for prefix in ("export", "export_jsonl"):
        if f"{prefix}_rows" in figures:
            peak = figures[f"{prefix}_peak_rss_mb"]
            yield (
                f"{prefix}: {figures[f'{prefix}_rows']:,} rows, {figures[f'{prefix}_mb']:,.0f} MB in "
                f"{figures[f'{prefix}_s']:.1f} s, peak RSS {peak:.0f} MB "
                f"({verdict[peak < TARGET_EXPORT_RSS_MB]} the {TARGET_EXPORT_RSS_MB:g} MB target)"
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events per ingest run")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the log for pages and export")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-jsonl", action="store_true", help="export as CSV only")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    raise_on_sigterm()
    started = time.monotonic()
    try:
        figures = run(args)
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        sys.exit(130)
    figures["elapsed_s"] = time.monotonic() - started
    log("done")
    for line in summary(figures):
        print(line)
    print(json_line(figures), flush=True)
    if figures.get("chain_ok") is False:
        sys.exit(1)  # the figures stand, but the chain they come from is broken


if __name__ == "__main__":
    main()
