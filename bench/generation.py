"""Benchmark of the generation job queue against Celery, its enqueue-to-start latency, and the active-jobs poll at 1M jobs.

    .venv/bin/python bench/generation.py [--jobs 1500] [--past-jobs 1000000]     (or: make bench-generation)

In one run, on fresh databases `bench_gen_<random>` (the service's, migrated by its own migrations) and
`bench_gen_<random>_celery` (Celery's result backend) of the PostgreSQL at BENCH_DATABASE_URL (default:
postgres@127.0.0.1:5432), and on exchanges and queues named `bench.gen.<random>.*` of the RabbitMQ at
BENCH_BROKER_URL (default: guest@127.0.0.1:5672), all dropped or deleted at the end, even on failure:

1. Throughput, ours. Admin-space jobs (actor ADMIN: no credit holds, so no call to credits is ever made; every
   process built here gets a credits stand-in that raises if called, rather than a real credits server that
   would only take CPU from the two cores; the production gRPC server of part 4 points at a closed port), a
   zero-latency provider (a fixed 16x16 PNG, returned at once) and a LocalStorage in a temp dir. Real OS
   processes, each a subprocess of this script built from the service's own code: one `generation-worker`
   (`build_tasks`: the job relay woken by NOTIFY, the events relay, the scheduler, reaper, sweeper...) and one,
   then two, `generation-runner`s (`build_runner` + `run_consumers`, RUNNER_CONCURRENCY consumers each, the
   service's default 2). The production entrypoints build their provider from settings, hence the bench-side
   entries (`--serve-runner`, `--serve-worker`); the worker's events relay publishes to a queue of the bench's
   own instead of the platform's `audit.events`. --jobs jobs are submitted as fast as possible from
   --submit-threads threads through `container.commands.submit` in this process: the counterpart of Celery's
   `apply_async`, the call a producer makes (a gRPC hop would add a process Celery has no counterpart of). The
   clock runs from the first submit until every job is `completed` (one count query every 25 ms).
2. Throughput, the peer: the same work through Celery on the same RabbitMQ, with its SQLAlchemy result
   backend on the same PostgreSQL (`db+postgresql+psycopg://`, psycopg 3), `task_acks_late`,
   `worker_prefetch_multiplier=1`, a quorum queue and publisher confirms (the durability of our jobs queue),
   one then two worker processes (`celery worker --concurrency=1 --pool=prefork`, Celery's default pool; with
   `--pool=solo` its result backend opens a connection per result and was 2-4x slower here: --celery-pool solo),
   gossip, mingle, heartbeats and remote control off. Its task writes the same PNG through the same
   LocalStorage (temp file, fsync, rename, fsync of the folder) and returns its size. The same N go out with
   `apply_async` from the same number of threads; the clock runs until the backend's table holds N SUCCESS
   rows (one count query every 25 ms, as for ours: polling each AsyncResult would put a query per task on the
   database the peer depends on). Then the run's task ids are checked in that table, and a sample through
   Celery's own API. Ours and Celery's runs alternate (1 process each, then 2 each), so the drift of a busy
   machine hits both alike; --rounds 2 repeats each pair and keeps the best of each system.
   `throughput_ratio_1` and `_2` = ours / Celery (target >= 1). Each run also reports the CPU milliseconds per
   job of the system's processes (`*_cpu_ms_service`), of its database backends (`_db`), of this process
   (`_client`: submitting and polling) and the cores the rest of the machine took meanwhile (`_other_cores`).
3. Enqueue-to-start latency, one runner process (right after the one-process pair): an open loop submits admin
   jobs at --latency-rate (20/s) for --latency-seconds (30 s) after a warm-up second; each job's latency runs
   from the START of its submit call (wall clock) to its first attempt's `job_attempt.started_at` (the start of
   the claim's transaction; the same machine's clock), so it includes the submit itself (its own p50/p99 are
   `latency_submit_*`). Target p99 <= 100 ms: `enqueue_to_start_ratio` = 100 / p99.
4. The active-jobs poll at --past-jobs (1M) past jobs: the runners and the worker stop; generation_job is filled
   with one INSERT ... SELECT generate_series (completed 90%, error 4%, dead 2%, cancelled 4%, 10% admin-space,
   created over 90 days, each with the columns a finished job has) plus --active-jobs (20) pending and
   generating ones, then VACUUM ANALYZE. `ListActiveJobs` through the production gRPC server (`python -m
   generation.entrypoints.grpc_server`, a process of its own) from --poll-threads (8) threads in a closed loop
   for --poll-seconds (15 s); every other call sends the current etag (`if_none_match`) and must be answered
   `not_modified`, the others must list the active jobs. Target p99 <= 50 ms: `active_poll_ratio` = 50 / p99;
   `active_poll_not_modified_p99_ms` is the p99 of the etag calls. When it misses, the EXPLAIN ANALYZE of the
   view's statements goes to stderr.

Every comparison is a key ending in `_ratio`, higher is better (ours / theirs for rates, target / measured for
latencies). Progress goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import sys

# This script shares its name with the service's `generation` package: search its folder last, so that
# `generation` is the service (found through its editable install) and `benchlib` is still found.
sys.path.append(sys.path.pop(0))

import argparse
import itertools
import os
import re
import secrets
import shutil
import signal
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import grpc
import psycopg
from benchlib import (
    CpuSnapshot,
    Database,
    Result,
    ServerProcess,
    child_env,
    closed_loop,
    cpu_snapshot,
    cpu_used,
    free_port,
    json_line,
    open_loop,
    percentile,
    raise_on_sigterm,
    scalar,
    stop_all,
)
from kombu import Connection
from sqlalchemy import event

from generation.adapters.credits import HoldResult
from generation.adapters.jobstore import JOBS_CHANNEL
from generation.adapters.storage import LocalStorage, asset_key
from generation.bootstrap import MIGRATIONS, Container, bootstrap
from generation.config import Settings
from generation.domain.model import Product
from generation.domain.ports import GeneratedImage, ImageRequest, Usage
from generation.domain.pricing import CURRENT_PRICES, DEFAULT_MODEL
from generation.entrypoints.runner import build_runner, run_consumers
from generation.entrypoints.worker import build_tasks
from generation.service_layer.commands import SubmitJob
from generation.views import ACTIVE_LIMIT
from scenergy.common.db import create_database_if_missing, drop_database
from scenergy.common.grpc_client import CallMetadata, make_channel
from scenergy.common.identity import ServiceCredential
from scenergy.common.ids import new_id
from scenergy.common.logging import configure_logging
from scenergy.common.messaging import QueueSpec, Topology, connect
from scenergy.common.migrations import upgrade
from scenergy.common.outbox import NotifyWaiter
from scenergy.common.runner import TaskRunner
from scenergy.common.testing.actors import ADMIN
from scenergy.generation.v1 import generation_pb2 as pb
from scenergy.generation.v1 import generation_pb2_grpc as pb_grpc

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
GENERATION_SERVICE = "scenergy.generation.v1.GenerationService"
CELERY_TASK = "bench.generation.render"
TARGET_THROUGHPUT_RATIO = 1.0
TARGET_START_P99_MS = 100.0
TARGET_POLL_P99_MS = 50.0
WARMUP_JOBS = 20
POLL_S = 0.025  # how often completion is counted, for ours and for Celery alike
STALL_S = 60.0  # no progress for this long: the run is broken
NOWHERE = "127.0.0.1:9"  # the credits address given to processes that never call credits

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- what the jobs run on -------------------------------------------------------------------------


def tiny_png(width: int = 16, height: int = 16) -> bytes:
    """A valid grey RGB PNG, built by hand (no imaging library on the hot path)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc8\xc8\xc8" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = tiny_png()


class ZeroProvider:
    """The model at zero latency: the same small PNG, at once."""

    name = "bench-zero"

    def generate(self, request: ImageRequest) -> GeneratedImage:
        return GeneratedImage(
            data=PNG, mime_type="image/png", width=16, height=16, usage=Usage(), provider_request_id=request.request_id
        )


class NoCredits:
    """Admin-space jobs hold no credits: any call here is a bug of the benchmark, and fails loudly."""

    def reserve(self, *, client_id: str, amount: int, ttl_s: int, job_id: str, key: str) -> HoldResult:
        raise AssertionError("the benchmark's admin jobs must not reserve credits")

    def capture(self, *, hold_id: str, amount: int, asset_id: str, key: str) -> None:
        raise AssertionError("the benchmark's admin jobs must not capture credits")

    def release(self, *, hold_id: str, key: str) -> None:
        raise AssertionError("the benchmark's admin jobs must not release credits")


def storage_at(root: str) -> LocalStorage:
    return LocalStorage(Path(root), base_url="http://127.0.0.1:8003", signing_key="bench-local-objects")


JOB = SubmitJob(
    client_id="",
    admin_space=True,
    products=[Product("prd_01sofa000000000000000000000", "Gray velvet sofa")],
    room_type="living_room",
    style="scandinavian",
    lighting="natural",
    aspect_ratio="16:9",
)


def events_topology(exchange: str) -> Topology:
    """The events exchange with one queue of the bench's own, where production binds `audit.events`."""
    return Topology(exchange, (QueueSpec(f"{exchange}.audit", ("#",)),))


def build_container(settings: Settings, process: str) -> Container:
    container = bootstrap(
        settings,
        process=process,
        provider=ZeroProvider(),
        storage=storage_at(settings.local_storage_dir),
        credits=NoCredits(),
    )
    container.topology = events_topology(settings.events_exchange)
    return container


# -- the subprocesses -----------------------------------------------------------------------------


def until_sigterm() -> threading.Event:
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


def serve_runner() -> None:
    """`generation-runner` with the zero-latency provider: RUNNER_CONCURRENCY consumers, as its main()."""
    settings = Settings.from_env()
    configure_logging("bench-generation-runner", settings.log_level)
    container = build_container(settings, "runner")
    stopping = until_sigterm()
    runner = build_runner(container, worker_id=f"bench-runner-{os.getpid()}")
    consumers = run_consumers(container, runner, stopping=stopping)
    stopping.wait()
    for _consumer, thread in consumers:
        thread.join(timeout=30)
    container.close()


def serve_worker() -> None:
    """`generation-worker`: its tasks, as its main() runs them (without the ops HTTP side)."""
    settings = Settings.from_env()
    configure_logging("bench-generation-worker", settings.log_level)
    container = build_container(settings, "worker")
    connections: list[Connection] = []

    def connect_broker() -> Connection:
        connections.append(connect(settings.broker_url))
        return connections[-1]

    waiter = NotifyWaiter(settings.database_url, JOBS_CHANNEL)
    TaskRunner(build_tasks(container, connect_broker, waiter=waiter)).run_until_signalled()
    waiter.close()
    for connection in connections:
        connection.release()
    container.close()


def celery_app(broker_url: str, backend_url: str, queue: str, queue_type: str, objects_dir: str) -> tuple[Any, Any]:
    """The peer: a Celery app whose one task stores the PNG as our runner does, and its task."""
    from celery import Celery

    app = Celery("bench_generation", broker=broker_url, backend=f"db+{backend_url}")
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        task_default_exchange=queue,
        task_default_routing_key=queue,
        task_default_queue_type=queue_type,
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        worker_enable_remote_control=False,
        worker_hijack_root_logger=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
    )
    storage = storage_at(objects_dir)

    @app.task(name=CELERY_TASK)  # type: ignore[untyped-decorator]
    def render(key: str) -> int:
        return storage.put(key, PNG, "image/png").size_bytes

    return app, render


def serve_celery(args: argparse.Namespace) -> None:
    env = os.environ
    app, _ = celery_app(
        env["BENCH_CELERY_BROKER"],
        env["BENCH_CELERY_BACKEND"],
        env["BENCH_CELERY_QUEUE"],
        env["BENCH_CELERY_QUEUE_TYPE"],
        env["BENCH_OBJECTS_DIR"],
    )
    # With a quorum queue Celery 5.5+ also sets up RabbitMQ-native delayed delivery: 28 broker-wide exchanges
    # and queues (`celery_delayed_*`) shared by every Celery app on the broker. No task here has an ETA or a
    # countdown, and a benchmark must leave the broker as it found it, so that step stays out.
    from celery.worker.consumer.delayed_delivery import DelayedDelivery

    DelayedDelivery.include_if = lambda self, c: False  # type: ignore[method-assign]
    app.worker_main(
        [
            "worker",
            f"--pool={args.celery_pool}",
            f"--concurrency={args.celery_concurrency}",
            "--loglevel=WARNING",
            f"--hostname=bench{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


# -- the run --------------------------------------------------------------------------------------


def wait_for(progress: Callable[[], int], goal: int, what: str, *, check: Callable[[], None] | None = None) -> None:
    """Poll `progress` every POLL_S until it reaches `goal`; fail if it stops moving for STALL_S."""
    last, moved_at = -1, time.monotonic()
    while (now := progress()) < goal:
        if now != last:
            last, moved_at = now, time.monotonic()
        elif time.monotonic() - moved_at > STALL_S:
            raise RuntimeError(f"{what}: stuck at {now} of {goal} for {STALL_S:g} s")
        if check is not None:
            check()
        time.sleep(POLL_S)


def in_threads(count: int, threads: int, submit: Callable[[int], object]) -> None:
    """Call `submit(i)` for i in 0..count-1 from `threads` threads, each taking the next index."""
    counter = itertools.count()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while (i := next(counter)) < count:
                submit(i)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        while thread.is_alive():
            thread.join(0.2)
    if errors:
        raise errors[0]


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc): Celery's prefork children, say."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError), open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


class Bench:
    """The run's databases, broker names, temp dir and processes, and how to tear them all down."""

    def __init__(self, args: argparse.Namespace, cleanup: ExitStack) -> None:
        self.args = args
        tag = secrets.token_hex(4)
        self.db = Database.named(f"bench_gen_{tag}", "bench-generation")
        self.celery_db = Database.named(f"bench_gen_{tag}_celery", "bench-generation")
        self.broker_url = os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL)
        self.prefix = f"bench.gen.{tag}"
        self.key = secrets.token_urlsafe(32)
        self.tmp = tempfile.mkdtemp(prefix="bench-generation-")
        self.processes: dict[str, ServerProcess] = {}
        cleanup.callback(_quietly, "remove the temp dir", shutil.rmtree, self.tmp, True)
        cleanup.callback(_quietly, "drop the databases", self.drop_databases)
        cleanup.callback(_quietly, "delete the queues and exchanges", self.delete_broker_names)
        cleanup.callback(_quietly, "stop the processes", lambda: self.stop(*self.processes))
        self.settings = Settings(
            database_url=self.db.url,
            broker_url=self.broker_url,
            service_credential_key=self.key,
            credits_addr=NOWHERE,
            events_exchange=f"{self.prefix}.events",
            jobs_exchange=f"{self.prefix}.jobs",
            jobs_queue=f"{self.prefix}.jobs",
            local_storage_dir=os.path.join(self.tmp, "ours"),
            runner_concurrency=args.runner_concurrency,
            db_pool_size=max(10, args.submit_threads + 2),
            log_level="WARNING",
        )
        self.celery_queue = f"{self.prefix}.celery"

    # -- processes

    def env(self, **extra: str) -> dict[str, str]:
        s = self.settings
        return child_env(
            DATABASE_URL=s.database_url,
            BROKER_URL=s.broker_url,
            SERVICE_CREDENTIAL_KEY=s.service_credential_key,
            CREDITS_ADDR=s.credits_addr,
            EVENTS_EXCHANGE=s.events_exchange,
            JOBS_EXCHANGE=s.jobs_exchange,
            JOBS_QUEUE=s.jobs_queue,
            LOCAL_STORAGE_DIR=s.local_storage_dir,
            RUNNER_CONCURRENCY=str(s.runner_concurrency),
            LOG_LEVEL=s.log_level,
            BIND_HOST="127.0.0.1",
            **extra,
        )

    def start(self, name: str, *argv: str, **extra: str) -> ServerProcess:
        command = [sys.executable, *argv] if argv[0] == "-P" else [sys.executable, os.path.abspath(__file__), *argv]
        self.processes[name] = ServerProcess(name, command, self.env(**extra))
        return self.processes[name]

    def start_celery(self, name: str) -> ServerProcess:
        return self.start(
            name,
            "--serve-celery",
            "--celery-pool",
            self.args.celery_pool,
            "--celery-concurrency",
            str(self.args.celery_concurrency),
            BENCH_CELERY_BROKER=self.broker_url,
            BENCH_CELERY_BACKEND=self.celery_db.url,
            BENCH_CELERY_QUEUE=self.celery_queue,
            BENCH_CELERY_QUEUE_TYPE=self.args.celery_queue_type,
            BENCH_OBJECTS_DIR=os.path.join(self.tmp, "celery"),
        )

    def stop(self, *names: str) -> None:
        stop_all([self.processes.pop(n) for n in names if n in self.processes], grace=30)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.proc.returncode}:\n{process.output()}")

    def wait_consumers(self, queue: str, count: int, timeout: float = 120.0) -> None:
        """Until `queue` has `count` consumers (the processes have imported, connected and subscribed)."""
        deadline = time.monotonic() + timeout
        consumers = 0
        while consumers < count:
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{queue}: {consumers} of {count} consumers after {timeout:g} s")
            time.sleep(0.2)
            try:
                with Connection(self.broker_url, connect_timeout=5) as conn:
                    # Passive: a queue not declared yet closes the channel (and counts as no consumers).
                    _, _, consumers = conn.channel().queue_declare(queue=queue, passive=True)
            except Exception:
                consumers = 0

    def service_pids(self, prefix: str | tuple[str, ...]) -> list[int]:
        """The processes named `prefix…` and their children (Celery's prefork pool)."""
        pids = []
        for name, process in self.processes.items():
            if name.startswith(prefix):
                pids.append(process.proc.pid)
                pids += descendants(process.proc.pid)
        return pids

    # -- teardown

    def drop_databases(self) -> None:
        for db in (self.db, self.celery_db):
            drop_database(db.url)

    def delete_broker_names(self) -> None:
        s = self.settings
        queues = [s.jobs_queue, f"{s.jobs_queue}.dead", f"{s.events_exchange}.audit", f"{s.events_exchange}.audit.dead"]
        queues.append(self.celery_queue)
        exchanges = [s.jobs_exchange, f"{s.jobs_exchange}.dlx", s.events_exchange, f"{s.events_exchange}.dlx"]
        exchanges.append(self.celery_queue)
        with Connection(self.broker_url, connect_timeout=5) as conn:
            channel = conn.default_channel
            for name in queues:
                channel.queue_delete(name)
            for name in exchanges:
                channel.exchange_delete(name)


# -- 1. ours --------------------------------------------------------------------------------------


def job_counts(pg: psycopg.Connection[Any]) -> tuple[int, int]:
    """Jobs completed, and jobs that ended otherwise. Counted from the narrow transitions table: scanning
    the wide job rows (their request and prompt, and the versions each update leaves) 40 times a second
    took about 7% of a core, CPU the benchmark's clock would take from the system it times."""
    row = pg.execute(
        "SELECT count(*) FILTER (WHERE to_status = 'completed'),"
        " count(*) FILTER (WHERE to_status IN ('error', 'dead', 'cancelled')) FROM job_transition"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def cpu_probe(bench: Bench, prefix: str | tuple[str, ...], pg: psycopg.Connection[Any]) -> Callable[[], CpuSnapshot]:
    """CPU so far of this process, the service's processes and their database's backends (not the probe's)."""

    def probe() -> CpuSnapshot:
        backends = pg.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return cpu_snapshot(
            {"client": [os.getpid()], "service": bench.service_pids(prefix), "db": [r[0] for r in backends]}
        )

    return probe


def cpu_per_item(before: CpuSnapshot, after: CpuSnapshot, count: int) -> dict[str, float]:
    """CPU ms per job of each group, and the cores the rest of the machine used meanwhile."""
    used = cpu_used(before, after)
    figures = {f"cpu_ms_{group}": 1000 * used[group] / count for group in ("client", "service", "db")}
    figures["other_cores"] = used["other"] / used["elapsed"]
    return figures


def cpu_text(figures: dict[str, float]) -> str:
    per_job = ", ".join(f"{group} {figures[f'cpu_ms_{group}']:.1f}" for group in ("service", "db", "client"))
    return f"CPU ms per job: {per_job}; the rest of the machine {figures['other_cores']:.2f} cores"


def run_jobs(bench: Bench, container: Container, pg: psycopg.Connection[Any], count: int, threads: int) -> dict:
    """Submit `count` jobs from `threads` threads and wait until all are completed: the rates."""
    done_before, failed_before = job_counts(pg)

    def completed() -> int:
        done, failed = job_counts(pg)
        if failed != failed_before:
            raise RuntimeError(f"{failed - failed_before} jobs failed")
        return done - done_before

    probe = cpu_probe(bench, ("runner", "worker"), pg)
    before = probe()
    started = time.perf_counter()
    in_threads(count, threads, lambda i: container.commands.submit(JOB, ADMIN))
    submitted = time.perf_counter()
    wait_for(completed, count, "ours", check=bench.check_alive)
    finished = time.perf_counter()
    return {"per_s": count / (finished - started), "submit_per_s": count / (submitted - started)} | cpu_per_item(
        before, probe(), count
    )


# -- 2. Celery ------------------------------------------------------------------------------------


def task_counts(pg: psycopg.Connection[Any]) -> tuple[int, int]:
    row = pg.execute(
        "SELECT count(*) FILTER (WHERE status = 'SUCCESS'), count(*) FILTER (WHERE status <> 'SUCCESS')"
        " FROM celery_taskmeta"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def run_tasks(bench: Bench, task: Any, pg: psycopg.Connection[Any], count: int, threads: int) -> dict:
    done_before, failed_before = task_counts(pg)
    results: list[Any] = [None] * count

    def completed() -> int:
        done, failed = task_counts(pg)
        if failed != failed_before:
            raise RuntimeError(f"{failed - failed_before} Celery tasks did not succeed")
        return done - done_before

    def send(i: int) -> None:
        results[i] = task.apply_async(args=(asset_key("admin", new_id("job")),))

    probe = cpu_probe(bench, "celery", pg)
    before = probe()
    started = time.perf_counter()
    in_threads(count, threads, send)
    submitted = time.perf_counter()
    wait_for(completed, count, "celery", check=bench.check_alive)
    finished = time.perf_counter()
    cpu = cpu_per_item(before, probe(), count)
    # Now that the clock has stopped: every task of this run succeeded, and Celery's own API agrees on a sample
    # (through the API every result would cost a query, and outside a worker each query a new connection).
    ids = [r.id for r in results]
    succeeded = scalar(
        pg, "SELECT count(*) FROM celery_taskmeta WHERE status = 'SUCCESS' AND task_id = ANY(%s)", (ids,)
    )
    if succeeded != count or any(results[i].get(timeout=10) != len(PNG) for i in (0, count // 2, count - 1)):
        raise RuntimeError(f"{succeeded} of {count} Celery tasks succeeded, or their results are not the PNG's size")
    return {"per_s": count / (finished - started), "submit_per_s": count / (submitted - started), **cpu}


# -- 3. enqueue to start --------------------------------------------------------------------------


def enqueue_to_start(container: Container, pg: psycopg.Connection[Any], args: argparse.Namespace) -> dict:
    submitted: list[tuple[int, str, float]] = []  # (index, job id, wall clock at the submit call's start)
    lock = threading.Lock()
    counter = itertools.count()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="submit")

    def start(done: Callable[[str | None], None]) -> None:
        index = next(counter)

        def call() -> None:
            began = time.time()
            try:
                job = container.commands.submit(JOB, ADMIN)
            except Exception as exc:
                done(repr(exc))
                return
            with lock:
                submitted.append((index, job.id, began))
            done(None)

        executor.submit(call)

    try:
        sent = open_loop(start, rate=args.latency_rate, seconds=args.latency_seconds, warmup=args.warmup, max_lag=2.0)
    finally:
        executor.shutdown(wait=True)
    if sent.errors:
        raise RuntimeError(f"{sent.errors} submits failed; first: {sent.first_error}")
    skipped = int(args.latency_rate * args.warmup)
    timed = {job_id: began for index, job_id, began in submitted if index >= skipped}
    ids = list(timed)

    def started() -> int:
        return int(scalar(pg, "SELECT count(*) FROM job_attempt WHERE number = 1 AND job_id = ANY(%s)", (ids,)))

    wait_for(started, len(ids), "enqueue to start")
    rows = pg.execute(
        "SELECT job_id, extract(epoch FROM started_at)::float8 FROM job_attempt WHERE number = 1 AND job_id = ANY(%s)",
        (ids,),
    ).fetchall()
    latencies = sorted((float(at) - timed[job_id]) * 1000 for job_id, at in rows)
    p99 = percentile(latencies, 99)
    return {
        "enqueue_to_start_jobs": len(latencies),
        "enqueue_to_start_p50_ms": percentile(latencies, 50),
        "enqueue_to_start_p99_ms": p99,
        "enqueue_to_start_max_ms": latencies[-1],
        "enqueue_to_start_ratio": TARGET_START_P99_MS / p99,
        "latency_rate_per_s": args.latency_rate,
        "latency_submit_p50_ms": sent.ms(50),
        "latency_submit_p99_ms": sent.ms(99),
        "latency_max_send_lag_ms": 1000 * sent.max_send_lag,
    }


# -- 4. the active-jobs poll ----------------------------------------------------------------------

# One row per n of the series, as a finished job of the service looks: a product, its settings and
# compiled prompt, attempts and timings, the settlement of its hold, the asset of a completed job.
FILL_SQL = """
INSERT INTO generation_job (id, client_id, is_admin, products, settings, prompt, model, status, stage, progress,
    progress_at, attempt_count, max_attempts, available_at, dispatched_at, hold_id, credits_reserved,
    credits_charged, settlement, submitted_by, submitted_by_type, cancelled_by, asset_id, error_class,
    error_message, price_version, prompt_tokens, candidate_tokens, total_tokens, estimated_cost_usd,
    lease_owner, lease_expires_at, created_at, started_at, completed_at, updated_at)
SELECT
    'job_bench' || lpad(g.n::text, 12, '0'),
    CASE WHEN NOT g.admin THEN 'cli_bench' || lpad(g.client::text, 5, '0') END,
    g.admin,
    jsonb_build_array(jsonb_build_object('id', 'prd_bench' || lpad(g.product::text, 6, '0'), 'name', p.name,
                                         'image_url', '', 'description', '')),
    jsonb_build_object('room_type', r.room, 'style', s.style, 'lighting', 'natural', 'aspect_ratio', '16:9',
                       'model', %(model)s::text),
    'A photorealistic image of a ' || replace(s.style, '_', ' ') || ' ' || replace(r.room, '_', ' ')
        || ' featuring ' || p.name || E'.\\nLighting: natural. Aspect ratio 16:9.\\n'
        || 'Show each product exactly as it is, at a realistic scale, in a styled, lived-in interior.',
    %(model)s::text,
    g.status,
    CASE g.status WHEN 'completed' THEN 'finalizing' WHEN 'generating' THEN 'calling_model' ELSE 'queued' END,
    CASE g.status WHEN 'completed' THEN 100 WHEN 'generating' THEN 10 ELSE 0 END,
    g.at + interval '2 seconds',
    CASE WHEN g.status IN ('pending') THEN 0 WHEN g.status = 'dead' THEN 3 ELSE 1 + (g.n %% 7 = 0)::int END,
    3,
    g.at,
    g.at,
    CASE WHEN NOT g.admin THEN 'hld_bench' || lpad(g.n::text, 12, '0') END,
    CASE WHEN g.admin THEN 0 ELSE 1 END,
    CASE WHEN NOT g.admin AND g.status = 'completed' THEN 1 ELSE 0 END,
    CASE WHEN g.admin THEN 'none' WHEN g.status = 'completed' THEN 'captured'
         WHEN g.status IN ('pending', 'generating') THEN 'held' ELSE 'released' END,
    CASE WHEN g.admin THEN 'adm_bench' || lpad((g.client %% 50)::text, 4, '0')
         ELSE 'usr_bench' || lpad(g.client::text, 5, '0') END,
    CASE WHEN g.admin THEN 'admin' ELSE 'user' END,
    CASE WHEN g.status = 'cancelled' THEN 'adm_bench0001' END,
    CASE WHEN g.status = 'completed' THEN 'ast_bench' || lpad(g.n::text, 12, '0') END,
    CASE g.status WHEN 'error' THEN 'safety_blocked' WHEN 'dead' THEN 'server_error' END,
    CASE g.status WHEN 'error' THEN 'The model refused the prompt' WHEN 'dead' THEN 'the model answered 500'
                  WHEN 'cancelled' THEN 'Wrong product' END,
    CASE WHEN g.status = 'completed' THEN %(price_version)s::text END,
    CASE WHEN g.status = 'completed' THEN 258 ELSE 0 END,
    CASE WHEN g.status = 'completed' THEN 1290 ELSE 0 END,
    CASE WHEN g.status = 'completed' THEN 1548 ELSE 0 END,
    CASE WHEN g.status = 'completed' THEN 0.039 ELSE 0 END,
    CASE WHEN g.status = 'generating' THEN 'bench-runner:' || g.n END,
    CASE WHEN g.status = 'generating' THEN now() + interval '1 hour' END,
    g.at,
    CASE WHEN g.status <> 'pending' THEN g.at + interval '1 second' END,
    CASE WHEN g.status NOT IN ('pending', 'generating') THEN g.at + interval '14 seconds' END,
    CASE WHEN g.status IN ('pending', 'generating') THEN g.at ELSE g.at + interval '14 seconds' END
FROM (
    SELECT
        n,
        random() < 0.1 AS admin,
        floor(power(random(), 2) * 2000)::int AS client,
        floor(random() * 5000)::int AS product,
        floor(random() * 6)::int AS room_no,
        floor(random() * 6)::int AS style_no,
        {status} AS status,
        {at} AS at
    FROM (SELECT n, random() AS roll FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n) AS series
) AS g
JOIN (VALUES (0, 'living_room'), (1, 'bedroom'), (2, 'kitchen'), (3, 'dining_room'), (4, 'office'),
             (5, 'bathroom')) AS r(no, room) ON r.no = g.room_no
JOIN (VALUES (0, 'modern'), (1, 'scandinavian'), (2, 'industrial'), (3, 'minimalist'), (4, 'bohemian'),
             (5, 'mid_century')) AS s(no, style) ON s.no = g.style_no
CROSS JOIN LATERAL (SELECT (ARRAY['Gray velvet sofa', 'Oak dining table', 'Brass floor lamp', 'Wool rug',
    'Linen armchair', 'Walnut sideboard'])[1 + g.product %% 6] AS name) AS p
"""
PAST = (
    "CASE WHEN roll < 0.90 THEN 'completed' WHEN roll < 0.94 THEN 'error' WHEN roll < 0.96 THEN 'dead'"
    " ELSE 'cancelled' END",
    "now() - interval '90 days' * random() - interval '1 hour'",
)
ACTIVE = (
    "CASE WHEN n %% 5 < 2 THEN 'generating' ELSE 'pending' END",
    "now() - interval '1 second' * (%(last)s::bigint - n + 1) * 3",
)


def fill(pg: psycopg.Connection[Any], past_jobs: int, active_jobs: int) -> dict:
    """Bring generation_job to `past_jobs` finished jobs, add `active_jobs` active ones, VACUUM ANALYZE."""
    started = time.monotonic()
    have = int(scalar(pg, "SELECT count(*) FROM generation_job"))
    params = {"model": DEFAULT_MODEL, "price_version": CURRENT_PRICES.version}
    pg.execute("SET statement_timeout = 0")
    pg.execute("SELECT setseed(0.42)")
    if past_jobs > have:
        log(f"filling generation_job from {have:,} to {past_jobs:,} past jobs")
        status, at = PAST
        pg.execute(FILL_SQL.format(status=status, at=at), {**params, "first": have + 1, "last": past_jobs})
    status, at = ACTIVE
    first = past_jobs + 1_000_000  # ids of their own
    pg.execute(FILL_SQL.format(status=status, at=at), {**params, "first": first, "last": first + active_jobs - 1})
    filled = time.monotonic() - started
    log(f"filled in {filled:.0f} s; vacuum analyze")
    pg.execute("SET maintenance_work_mem = '256MB'")
    pg.execute("VACUUM (ANALYZE) generation_job")
    counts = dict(pg.execute("SELECT status, count(*) FROM generation_job GROUP BY status").fetchall())
    size = scalar(pg, "SELECT pg_size_pretty(pg_total_relation_size('generation_job'))")
    log(f"generation_job: {counts}, {size} with its indexes")
    return {
        "past_jobs": sum(n for s, n in counts.items() if s not in ("pending", "generating")),
        "active_jobs": counts.get("pending", 0) + counts.get("generating", 0),
        "fill_s": filled,
        "fill_and_vacuum_s": time.monotonic() - started,
    }


class PollError(Exception):
    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label = label


def poll_op(channel: grpc.Channel, key: str, etag: str, active: int) -> Callable[[int], Callable[[], str]]:
    def make(thread: int) -> Callable[[], str]:
        call = pb_grpc.GenerationServiceStub(channel).ListActiveJobs
        metadata = CallMetadata(ServiceCredential(key), "admin-api")
        counter = itertools.count(thread)

        def op() -> str:
            if next(counter) % 2:
                answer = call(pb.ListActiveJobsRequest(if_none_match=etag), metadata=metadata(ADMIN), timeout=5)
                if not answer.not_modified or answer.items:
                    raise PollError("not_modified", "the current etag was not answered not_modified")
                return "not_modified"
            answer = call(pb.ListActiveJobsRequest(), metadata=metadata(ADMIN), timeout=5)
            if answer.not_modified or len(answer.items) != min(active, ACTIVE_LIMIT) or answer.etag != etag:
                raise PollError("full", f"{len(answer.items)} items, etag {answer.etag}: expected {active}, {etag}")
            return "full"

        return op

    return make


def explain_active(container: Container) -> str:
    """EXPLAIN ANALYZE of each statement the active-jobs view runs (captured from GenerationViews itself)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    event.listen(container.engine, "before_cursor_execute", capture)
    try:
        container.views.active()
    finally:
        event.remove(container.engine, "before_cursor_execute", capture)
    plans = []
    with container.engine.connect() as conn:
        for statement, parameters in captured:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            shown = re.sub(r"^SELECT .{200,}? FROM ", "SELECT (every column) FROM ", " ".join(statement.split()))
            plans.append(shown + "\n" + "\n".join(str(r[0]) for r in rows))
    return "\n\n".join(plans)


def active_poll(bench: Bench, container: Container, pg: psycopg.Connection[Any], grpc_port: int, active: int) -> dict:
    args = bench.args
    channel = make_channel(f"127.0.0.1:{grpc_port}", retry_service=GENERATION_SERVICE)
    try:
        metadata = CallMetadata(ServiceCredential(bench.key), "admin-api")
        first = pb_grpc.GenerationServiceStub(channel).ListActiveJobs(
            pb.ListActiveJobsRequest(), metadata=metadata(ADMIN), timeout=30
        )
        log(f"ListActiveJobs: {len(first.items)} items ({first.generating} generating, {first.pending} pending)")
        log(f"{args.poll_threads} threads, {args.warmup:g} s warm-up + {args.poll_seconds:g} s")
        result: Result = closed_loop(
            poll_op(channel, bench.key, first.etag, active),
            threads=args.poll_threads,
            seconds=args.poll_seconds,
            warmup=args.warmup,
            probe=cpu_probe(bench, "grpc", pg),
        )
    finally:
        channel.close()
    if result.errors or not result.ok:
        raise RuntimeError(f"active poll: {result.ok} ok, {result.errors} errors; first: {result.first_error}")
    p99 = result.ms(99)
    assert result.probed is not None
    cpu = cpu_per_item(*result.probed, result.ok)
    log(f"active poll: {result.rate:,.0f}/s, p50 {result.ms(50):.1f} ms, p99 {p99:.1f} ms")
    log(f"  {cpu_text(cpu).replace('job', 'call')}")
    if p99 > TARGET_POLL_P99_MS:
        log(f"the poll misses the {TARGET_POLL_P99_MS:g} ms target; what it runs:\n{explain_active(container)}")
    return {
        "active_poll_calls": result.ok,
        "active_poll_per_s": result.rate,
        "active_poll_p50_ms": result.ms(50),
        "active_poll_p99_ms": p99,
        "active_poll_ratio": TARGET_POLL_P99_MS / p99,
        "active_poll_full_p50_ms": result.label_ms("full", 50),
        "active_poll_full_p99_ms": result.label_ms("full", 99),
        "active_poll_not_modified_p50_ms": result.label_ms("not_modified", 50),
        "active_poll_not_modified_p99_ms": result.label_ms("not_modified", 99),
        "active_poll_threads": args.poll_threads,
        **{f"active_poll_{name}": value for name, value in cpu.items()},
    }


# -- the run --------------------------------------------------------------------------------------


def latency_phase(container: Container, pg: psycopg.Connection[Any], args: argparse.Namespace) -> dict:
    log(f"enqueue to start: {args.latency_rate:g} jobs/s for {args.latency_seconds:g} s, one runner")
    latency = enqueue_to_start(container, pg, args)
    log(
        f"enqueue to start: p50 {latency['enqueue_to_start_p50_ms']:.1f} ms, "
        f"p99 {latency['enqueue_to_start_p99_ms']:.1f} ms ({latency['enqueue_to_start_jobs']} jobs)"
    )
    wait_for(lambda: job_counts(pg)[0], int(scalar(pg, "SELECT count(*) FROM generation_job")), "latency jobs")
    return latency


def throughput(bench: Bench, container: Container, pg: psycopg.Connection[Any], figures: dict) -> None:
    """One, then two processes of each system, ours and Celery's runs side by side in time (the machine drifts);
    the latency phase after the one-process pair."""
    args = bench.args
    celery = not args.skip_celery
    if celery:
        log(f"celery: creating {bench.celery_db.name} and its result tables")
        create_database_if_missing(bench.celery_db.url)
        app, task = celery_app(
            bench.broker_url,
            bench.celery_db.url,
            bench.celery_queue,
            args.celery_queue_type,
            os.path.join(bench.tmp, "celery"),
        )
        app.backend.ResultSession().close()  # creates its tables before the workers race to
        celery_pg = bench.celery_db.connect(autocommit=True)
    try:
        for n in (1, 2):
            for i in range(n):
                if f"runner{i}" not in bench.processes:
                    bench.start(f"runner{i}", "--serve-runner")
                if celery and f"celery{i}" not in bench.processes:
                    bench.start_celery(f"celery{i}")
            bench.wait_consumers(bench.settings.jobs_queue, n * args.runner_concurrency)
            if celery:
                bench.wait_consumers(bench.celery_queue, n)
            best: dict[str, dict[str, float]] = {}
            for round_ in range(1, args.rounds + 1):
                of = f" (round {round_} of {args.rounds})" if args.rounds > 1 else ""
                log(f"ours, {n} runner(s){of}: warm-up ({WARMUP_JOBS} jobs), then {args.jobs:,} jobs")
                run_jobs(bench, container, pg, WARMUP_JOBS, args.submit_threads)
                rates = run_jobs(bench, container, pg, args.jobs, args.submit_threads)
                log(f"ours, {n} runner(s): {rates['per_s']:,.1f} jobs/s (submitted at {rates['submit_per_s']:,.0f}/s)")
                log(f"  {cpu_text(rates)}")
                if rates["per_s"] > best.get("ours", {}).get("per_s", 0.0):
                    best["ours"] = rates
                if not celery:
                    continue
                log(f"celery, {n} worker(s){of}: warm-up ({WARMUP_JOBS} tasks), then {args.jobs:,} tasks")
                run_tasks(bench, task, celery_pg, WARMUP_JOBS, args.submit_threads)
                rates = run_tasks(bench, task, celery_pg, args.jobs, args.submit_threads)
                log(f"celery, {n} worker(s): {rates['per_s']:,.1f} tasks/s (sent at {rates['submit_per_s']:,.0f}/s)")
                log(f"  {cpu_text(rates)}")
                if rates["per_s"] > best.get("celery", {}).get("per_s", 0.0):
                    best["celery"] = rates
            for system, rates in best.items():
                figures.update({f"{system}_{n}_{name}": value for name, value in rates.items()})
            if celery:
                figures[f"throughput_ratio_{n}"] = figures[f"ours_{n}_per_s"] / figures[f"celery_{n}_per_s"]
            if n == 1 and not args.skip_latency:
                figures.update(latency_phase(container, pg, args))
    finally:
        if celery:
            celery_pg.close()
            app.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "jobs": args.jobs,
        "submit_threads": args.submit_threads,
        "rounds": args.rounds,
        "runner_concurrency": args.runner_concurrency,
        "celery_pool": args.celery_pool,
        "celery_concurrency": args.celery_concurrency,
        "celery_queue_type": args.celery_queue_type,
        "load_1m_start": os.getloadavg()[0],
    }
    with ExitStack() as cleanup:
        bench = Bench(args, cleanup)
        log(f"creating and migrating {bench.db.name}; exchanges and queues {bench.prefix}.*")
        bench.start("worker", "--serve-worker")  # imports while the database is migrated
        upgrade(MIGRATIONS, bench.db.url)
        container = build_container(bench.settings, "bench")
        cleanup.callback(container.close)
        pg = bench.db.connect(autocommit=True)
        cleanup.callback(pg.close)

        if not args.skip_throughput:
            throughput(bench, container, pg, figures)
        bench.stop(*[n for n in bench.processes if n.startswith(("runner", "worker", "celery"))])
        figures["load_1m_after_throughput"] = os.getloadavg()[0]

        if not args.skip_poll:
            grpc_port, http_port = free_port(), free_port()
            server = bench.start(
                "grpc",
                "-P",
                "-m",
                "generation.entrypoints.grpc_server",
                GRPC_PORT=str(grpc_port),
                HTTP_PORT=str(http_port),
            )
            filled = fill(pg, args.past_jobs, args.active_jobs)
            figures.update(filled)
            server.wait_grpc_ready(f"127.0.0.1:{grpc_port}", timeout=120)
            figures.update(active_poll(bench, container, pg, grpc_port, filled["active_jobs"]))
            figures["load_1m_after_poll"] = os.getloadavg()[0]
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
    for n in (1, 2):
        if f"throughput_ratio_{n}" in figures:
            ratio = figures[f"throughput_ratio_{n}"]
            yield (
                f"throughput, {n} process(es): ours {figures[f'ours_{n}_per_s']:,.1f} jobs/s, "
                f"Celery {figures[f'celery_{n}_per_s']:,.1f} tasks/s = {ratio:.2f}x "
                f"({verdict[ratio >= TARGET_THROUGHPUT_RATIO]} the {TARGET_THROUGHPUT_RATIO:g}x target)"
            )
        elif f"ours_{n}_per_s" in figures:
            yield f"throughput, {n} runner(s): ours {figures[f'ours_{n}_per_s']:,.1f} jobs/s"
    if "enqueue_to_start_p99_ms" in figures:
        p99 = figures["enqueue_to_start_p99_ms"]
        yield (
            f"enqueue to start at {figures['latency_rate_per_s']:g} jobs/s: p50 {figures['enqueue_to_start_p50_ms']:.1f}"
            f" ms, p99 {p99:.1f} ms ({verdict[p99 <= TARGET_START_P99_MS]} the {TARGET_START_P99_MS:g} ms target)"
        )
    if "active_poll_p99_ms" in figures:
        p99 = figures["active_poll_p99_ms"]
        yield (
            f"active poll at {figures['past_jobs']:,} past jobs: p50 {figures['active_poll_p50_ms']:.1f} ms, "
            f"p99 {p99:.1f} ms ({verdict[p99 <= TARGET_POLL_P99_MS]} the {TARGET_POLL_P99_MS:g} ms target); "
            f"not modified p99 {figures['active_poll_not_modified_p99_ms']:.1f} ms"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1500, help="jobs (and Celery tasks) per throughput run")
    parser.add_argument("--rounds", type=int, default=1, help="throughput runs of each system (the best counts)")
    parser.add_argument("--submit-threads", type=int, default=4, help="threads submitting jobs or sending tasks")
    parser.add_argument(
        "--runner-concurrency", type=int, default=Settings.runner_concurrency, help="consumers per runner process"
    )
    parser.add_argument("--celery-pool", choices=("prefork", "solo"), default="prefork", help="Celery's worker pool")
    parser.add_argument("--celery-concurrency", type=int, default=1, help="Celery's --concurrency per worker process")
    parser.add_argument("--celery-queue-type", choices=("quorum", "classic"), default="quorum")
    parser.add_argument("--latency-rate", type=float, default=20.0, help="jobs/s offered in the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="measured seconds of the latency phase")
    parser.add_argument("--past-jobs", type=int, default=1_000_000, help="finished jobs in the table for the poll")
    parser.add_argument("--active-jobs", type=int, default=20, help="pending and generating jobs for the poll")
    parser.add_argument("--poll-threads", type=int, default=8, help="client threads of the active-jobs poll")
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="measured seconds of the poll")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before the latency and poll")
    parser.add_argument("--skip-throughput", action="store_true", help="no throughput (and so no latency) runs")
    parser.add_argument("--skip-celery", action="store_true", help="ours only")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-poll", action="store_true")
    parser.add_argument("--serve-runner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-celery", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve_runner:
        serve_runner()
        return
    if args.serve_worker:
        serve_worker()
        return
    if args.serve_celery:
        serve_celery(args)
        return
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


if __name__ == "__main__":
    main()
