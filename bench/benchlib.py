"""Helpers shared by the benchmarks: load loops, percentiles, server subprocesses, databases, a synthetic
audit log and the JSON line.

House rules: measure the peer or limit in the same run (machines are noisy), end with exactly one
line of JSON holding every figure, and name each comparison `*_ratio`, oriented so higher is better
(ours ÷ theirs for rates, theirs ÷ ours for latencies).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from scenergy.common.db import sqlalchemy_url


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the kernel's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of sorted values; NaN when there are none."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Result:
    """What one load phase measured: successes and errors in the window, latencies in seconds."""

    ok: int
    errors: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None
    probed: tuple[Any, Any] | None = None  # what `probe` returned at the window's start and end
    max_send_lag: float = 0.0  # open loop: how far behind its schedule the sender fell
    # Closed loop, ops that return a label (a kind of call): latencies and errors per label.
    by_label: dict[str, list[float]] = field(default_factory=dict)
    errors_by_label: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    def label_ms(self, label: str, q: float) -> float:
        return percentile(self.by_label.get(label, []), q) * 1000


def closed_loop(
    make_op: Callable[[int], Callable[[], str | None]],
    *,
    threads: int,
    seconds: float,
    warmup: float = 1.0,
    probe: Callable[[], Any] | None = None,
) -> Result:
    """Run `threads` threads, each calling its op back to back (closed loop).

    `make_op(i)` is called in thread i before the clock starts (connect, sign, ...). Ops that finish
    inside the window after `warmup` count; an op's latency counts if it also started inside it.
    An op signals failure by raising; if it has a `close` attribute, that is called at the end.
    An op may return a label (its kind of call): latencies then also count per label, and so do
    errors whose exception has a `label` attribute.
    `probe` (e.g. a CPU snapshot) is called at the start and the end of the window.
    """
    window = [0.0, 0.0]
    stop = threading.Event()
    probed = threading.Event()
    lock = threading.Lock()
    totals = Result(ok=0, errors=0, seconds=seconds)
    setup_errors: list[BaseException] = []

    def open_window() -> None:
        now = time.perf_counter()
        window[:] = [now + warmup, now + warmup + seconds]

    barrier = threading.Barrier(threads + 1, action=open_window)

    def worker(i: int) -> None:
        try:
            op = make_op(i)
        except BaseException as exc:
            setup_errors.append(exc)
            barrier.abort()
            return
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return
        start, end = window
        ok = errors = 0
        latencies: list[float] = []
        by_label: dict[str, list[float]] = {}
        errors_by_label: dict[str, int] = {}
        first_error = None
        perf_counter = time.perf_counter
        while not stop.is_set():
            began = perf_counter()
            if began >= end:
                break
            try:
                label = op()
            except Exception as exc:
                if start <= perf_counter() <= end:
                    errors += 1
                    first_error = first_error or " ".join(repr(exc).split())
                    failed = getattr(exc, "label", None)
                    if failed is not None:
                        errors_by_label[failed] = errors_by_label.get(failed, 0) + 1
                continue
            done = perf_counter()
            if start <= done <= end:
                ok += 1
                if began >= start:
                    latencies.append(done - began)
                    if label is not None:
                        by_label.setdefault(label, []).append(done - began)
        probed.wait()  # keep connections open until the window's end is measured
        close = getattr(op, "close", None)
        if close is not None:
            close()
        with lock:
            totals.ok += ok
            totals.errors += errors
            totals.latencies += latencies
            totals.first_error = totals.first_error or first_error
            for name, values in by_label.items():
                totals.by_label.setdefault(name, []).extend(values)
            for name, count in errors_by_label.items():
                totals.errors_by_label[name] = totals.errors_by_label.get(name, 0) + count

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    try:
        with contextlib.suppress(threading.BrokenBarrierError):  # a thread's setup failed: raised below
            barrier.wait()
        if probe is not None and not setup_errors:
            time.sleep(max(0.0, window[0] - time.perf_counter()))
            before = probe()
            time.sleep(max(0.0, window[1] - time.perf_counter()))
            totals.probed = (before, probe())
        probed.set()
        for thread in pool:
            # Joined with a timeout so that Ctrl-C reaches the main thread.
            while thread.is_alive():
                thread.join(0.2)
    finally:
        stop.set()
        probed.set()
    if setup_errors:
        raise setup_errors[0]
    totals.latencies.sort()
    for values in totals.by_label.values():
        values.sort()
    return totals


def open_loop(
    start_op: Callable[[Callable[[str | None], None]], None],
    *,
    rate: float,
    seconds: float,
    warmup: float = 1.0,
    max_lag: float = 5.0,
    drain_timeout: float = 10.0,
) -> Result:
    """Start ops at a fixed rate whatever their latency, and time each from its scheduled start.

    `start_op(done)` must start one asynchronous op and make it call `done(None)` on success or
    `done(error_text)` on failure, from any thread. Timing from the schedule rather than from the
    actual send keeps a stall of the sender in the figures (no coordinated omission). A failed op,
    and every op not sent because the sender fell more than `max_lag` behind, counts as infinitely
    late. The result's rate is the successes over the span from the window's start to the last answer.
    """
    total = int(rate * (warmup + seconds))
    skipped = int(rate * warmup)
    result = Result(ok=0, errors=0, seconds=seconds)
    lock = threading.Lock()
    all_done = threading.Event()
    pending = [0]
    sending = [True]
    last_answer = [0.0]

    def settle(index: int, latency: float, error: str | None) -> None:
        if index < skipped:
            return
        if error is None:
            result.ok += 1
            result.latencies.append(latency)
        else:
            result.errors += 1
            result.latencies.append(math.inf)
            result.first_error = result.first_error or error

    def make_done(index: int, scheduled: float) -> Callable[[str | None], None]:
        def done(error: str | None) -> None:
            now = time.perf_counter()
            with lock:
                settle(index, now - scheduled, error)
                last_answer[0] = max(last_answer[0], now)
                pending[0] -= 1
                if pending[0] == 0 and not sending[0]:
                    all_done.set()

        return done

    origin = time.perf_counter() + 0.01
    for index in range(total):
        scheduled = origin + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        lag = time.perf_counter() - scheduled
        if lag > max_lag:
            result.max_send_lag = max(result.max_send_lag, lag)
            with lock:
                for unsent in range(index, total):
                    settle(unsent, math.inf, f"not sent: the sender fell {lag:.1f}s behind")
            break
        if index >= skipped:
            result.max_send_lag = max(result.max_send_lag, lag)
        with lock:
            pending[0] += 1
        start_op(make_done(index, scheduled))
    with lock:
        sending[0] = False
        if pending[0] == 0:
            all_done.set()
    if not all_done.wait(drain_timeout):
        raise RuntimeError(f"{pending[0]} ops still pending {drain_timeout}s after the last was sent")
    result.seconds = max(seconds, last_answer[0] - (origin + warmup))
    result.latencies.sort()
    return result


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) a live process has used; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


@dataclass
class CpuSnapshot:
    at: float
    machine_busy: float  # CPU seconds since boot of everything on the machine, without steal
    groups: dict[str, dict[int, float]]


def cpu_snapshot(groups: Mapping[str, Iterable[int]]) -> CpuSnapshot:
    """CPU used so far by each group of processes, and by the whole machine (Linux /proc)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in f.readline().split()[1:8])
    return CpuSnapshot(
        at=time.monotonic(),
        machine_busy=(user + nice + system + irq + softirq) / _CLK_TCK,
        groups={
            name: {pid: cpu for pid in pids if (cpu := process_cpu(pid)) is not None} for name, pids in groups.items()
        },
    )


def cpu_used(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds each group used between two snapshots (a process born since counts whole), plus
    `other`: what the rest of the machine used meanwhile, and `elapsed` wall seconds."""
    used = {
        name: sum(cpu - before.groups.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in after.groups.items()
    }
    used["other"] = max(0.0, after.machine_busy - before.machine_busy - sum(used.values()))
    used["elapsed"] = after.at - before.at
    return used


class ServerProcess:
    """A server in a process of its own, so it does not share the load generator's GIL.

    Its output goes to a temporary file, shown when it fails to start. It runs in its own session so
    that a Ctrl-C on the terminal reaches only the benchmark, which then stops it in order.
    """

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the process; closed by stop)
        self.proc = subprocess.Popen(
            list(argv), env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self, limit: int = 4000) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def wait_grpc_ready(self, target: str, timeout: float = 30.0) -> None:
        """Poll the standard health service until it answers SERVING."""
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0).status
                    if status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not ready on {target} after {timeout}s:\n{self.output()}")
                time.sleep(0.1)

    def wait_http_ready(self, url: str, timeout: float = 30.0) -> None:
        """Poll `url` (e.g. a /readyz) until it answers 200."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s:\n{self.output()}")
            time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (the servers drain and exit), then SIGKILL if it takes longer than `grace`."""
        stop_all([self], grace)


def stop_all(servers: Sequence[ServerProcess], grace: float = 10.0) -> None:
    """Stop several servers at once: SIGTERM to all, then wait, then SIGKILL what is left."""
    running = [s for s in servers if s.proc.poll() is None]
    for server in running:
        server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for server in running:
        try:
            server.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    for server in servers:
        server._log.close()


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so `finally` blocks clean up as they do on Ctrl-C."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`, for a server subprocess."""
    env = dict(os.environ)
    env.update(overrides)
    return env


def json_line(figures: Mapping[str, Any]) -> str:
    """The single closing line: every figure, floats rounded to something readable."""

    def tidy(value: Any) -> Any:
        if isinstance(value, float):
            return None if not math.isfinite(value) else round(value, 3 if abs(value) < 100 else 1)
        return value

    return json.dumps({key: tidy(value) for key, value in figures.items()}, sort_keys=True)


# -- databases ------------------------------------------------------------------------------------

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Database:
    """A database of the benchmark's own, on the server of BENCH_DATABASE_URL (default: postgres@127.0.0.1)."""

    url: str  # SQLAlchemy (psycopg 3)
    libpq_url: str  # plain libpq, for psycopg.connect
    application_name: str = "bench"

    @classmethod
    def named(cls, name: str, application_name: str = "bench") -> Database:
        base = make_url(sqlalchemy_url(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)))
        target = base.set(database=name)
        return cls(
            url=target.render_as_string(hide_password=False),
            libpq_url=target.set(drivername="postgresql").render_as_string(hide_password=False),
            application_name=application_name,
        )

    @property
    def name(self) -> str:
        return str(make_url(self.url).database)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        kwargs.setdefault("application_name", self.application_name)
        return psycopg.connect(self.libpq_url, **kwargs)


def scalar(pg: psycopg.Connection[Any], sql: str, params: Any = None) -> Any:
    row = pg.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


# -- a synthetic audit log (bench/audit.py, bench/gateway.py) -------------------------------------

ADMINS = 50
ENTITIES_PER_TYPE = 5_000  # four entity types: ~20,000 entities
REASONS = (
    "Beta tester reward", "Support goodwill gesture", "Annual plan renewal", "Duplicate charge",
    "Spring promotion", "Data migration fix", "Partner onboarding", "Outage compensation",
    "Manual correction", "Referral bonus",
)  # fmt: skip
ERRORS = (
    ("insufficient_credits", "The balance is too low"), ("not_found", "No such entity"),
    ("conflict", "The entity changed meanwhile"), ("permission_denied", "The role may not do this"),
    ("invalid_argument", "A field is out of range"),
)  # fmt: skip
# (action, entity id prefix, source, description: %1$s is the amount, %2$s the reason)
ACTIONS = (
    ("credit.grant", "cli", "credits", "Granted %1$s credits (%2$s)"),
    ("credit.adjust", "cli", "credits", "Added %1$s credits by adjustment (%2$s)"),
    ("credit.refund", "cli", "credits", "Refunded %1$s credits (%2$s)"),
    ("credit.purchase", "cli", "credits", "Purchased %1$s credits"),
    ("credit.expire", "cli", "credits", "Expired %1$s credits"),
    ("client.create", "cli", "clients", "Created the client"),
    ("client.update", "cli", "clients", "Updated the client (%2$s)"),
    ("client.suspend", "cli", "clients", "Suspended the client (%2$s)"),
    ("client.reactivate", "cli", "clients", "Reactivated the client"),
    ("client.delete", "cli", "clients", "Deleted the client (%2$s)"),
    ("user.invite", "usr", "users", "Invited a user"),
    ("user.create", "usr", "users", "Created the user"),
    ("user.update", "usr", "users", "Updated the user"),
    ("user.disable", "usr", "users", "Disabled the user (%2$s)"),
    ("user.reset_password", "usr", "users", "Reset the user's password"),
    ("job.create", "job", "generation", "Started a generation job"),
    ("job.cancel", "job", "generation", "Cancelled the generation job (%2$s)"),
    ("job.retry", "job", "generation", "Retried the generation job"),
    ("job.fail", "job", "generation", "Marked the generation job as failed"),
    ("job.complete", "job", "generation", "Completed the generation job"),
)


def admin_id(n: int) -> str:
    return f"adm_bench{n:04d}"


def entity_id(prefix: str, n: int) -> str:
    return f"{prefix}_bench{n:05d}"


def sql_values(rows: list[tuple[Any, ...]]) -> str:
    """A VALUES list of literals (the benchmark's own constants, quoted here; `%` doubled, as the
    statement goes through psycopg with parameters)."""

    def literal(value: Any) -> str:
        return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''").replace("%", "%%") + "'"

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


# Random draws per row in a subquery, joined to the vocabulary. Actions are skewed (grants are
# common, deletions rare), and so are the admins (a few do most of the work); 15% are services.
AUDIT_FILL_SQL = f"""
INSERT INTO audit_log (seq, id, occurred_at, recorded_at, source, event_type, action, entity_type, entity_id,
    actor_type, actor_id, actor_role, ip_address, user_agent, request_id, outcome, error_code, error_message,
    description, previous_state, new_state, metadata, redacted_fields, prev_hash, hash)
SELECT
    g.seq,
    'evt_bench' || lpad(g.seq::text, 12, '0'),
    g.at,
    g.at + interval '30 milliseconds',
    a.source,
    a.source || '.' || a.action,
    a.action,
    split_part(a.action, '.', 1),
    a.prefix || '_bench' || lpad(g.entity_no::text, 5, '0'),
    CASE WHEN g.admin_no < {ADMINS} THEN 'admin' ELSE 'system' END,
    CASE WHEN g.admin_no < {ADMINS} THEN 'adm_bench' || lpad(g.admin_no::text, 4, '0') ELSE a.source END,
    CASE WHEN g.admin_no < 5 THEN 'super_admin' WHEN g.admin_no < {ADMINS} THEN 'admin' END,
    CASE WHEN g.admin_no < {ADMINS} THEN '203.0.113.' || g.admin_no END,
    CASE WHEN g.admin_no < {ADMINS} THEN 'Mozilla/5.0 (X11; Linux x86_64)' END,
    'req_bench' || g.seq,
    CASE WHEN g.failed THEN 'failure' ELSE 'success' END,
    CASE WHEN g.failed THEN e.code END,
    CASE WHEN g.failed THEN e.message END,
    CASE WHEN g.failed THEN 'Failed: ' || lower(left(d.text, 1)) || substr(d.text, 2) || ' (' || e.code || ')'
         ELSE d.text END,
    jsonb_build_object('status', 'active', 'version', g.version, 'balance', g.amount * 7),
    CASE WHEN NOT g.failed THEN jsonb_build_object('status', 'active', 'version', g.version + 1,
                                                  'balance', g.amount * 8) END,
    jsonb_build_object('amount', g.amount, 'reason', r.reason),
    '{{}}',
    md5((g.seq - 1)::text) || md5(g.seq::text),
    md5(g.seq::text) || md5((g.seq + 1)::text)
FROM (
    SELECT
        s AS seq,
        now() - interval '365 days' + (s - %(first)s) * (interval '365 days' / %(count)s)
            + random() * interval '5 minutes' AS at,
        floor(power(random(), 1.7) * {len(ACTIONS)})::int AS action_no,
        floor(random() * {ENTITIES_PER_TYPE})::int AS entity_no,
        CASE WHEN random() < 0.85 THEN floor(power(random(), 1.5) * {ADMINS})::int ELSE {ADMINS} END AS admin_no,
        random() < 0.03 AS failed,
        floor(random() * {len(REASONS)})::int AS reason_no,
        floor(random() * {len(ERRORS)})::int AS error_no,
        (floor(random() * 100)::int + 1) * 10 AS amount,
        floor(random() * 40)::int + 1 AS version
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS s
) AS g
JOIN (VALUES {sql_values([(i, *action) for i, action in enumerate(ACTIONS)])}) AS a(no, action, prefix, source, template)
    ON a.no = g.action_no
JOIN (VALUES {sql_values(list(enumerate(REASONS)))}) AS r(no, reason) ON r.no = g.reason_no
JOIN (VALUES {sql_values([(i, c, m) for i, (c, m) in enumerate(ERRORS)])}) AS e(no, code, message)
    ON e.no = g.error_no
CROSS JOIN LATERAL (SELECT format(a.template, to_char(g.amount, 'FM999,999'), r.reason) AS text) AS d
"""


def fill_audit_log(pg: psycopg.Connection[Any], entries: int, log: Callable[[str], None]) -> int:
    """Bring the log to `entries` rows (as the owner, in one statement), move the chain head to the
    last, then VACUUM ANALYZE as autovacuum would have by then. Returns the number of rows.
    `pg` is an autocommit connection to a migrated audit database."""
    head = int(scalar(pg, "SELECT coalesce(max(seq), 0) FROM audit_log"))
    if entries > head:
        log(f"filling audit_log from {head:,} to {entries:,} entries")
        started = time.monotonic()
        pg.execute("SELECT setseed(0.42)")
        pg.execute("SET statement_timeout = 0")
        pg.execute(AUDIT_FILL_SQL, {"first": head + 1, "last": entries, "count": entries - head})
        pg.execute("UPDATE chain_head SET seq = l.seq, hash = l.hash FROM (SELECT seq, hash FROM audit_log"
                   " ORDER BY seq DESC LIMIT 1) AS l")  # fmt: skip
        log(f"audit_log filled in {time.monotonic() - started:.0f} s; vacuum analyze")
    pg.execute("SET maintenance_work_mem = '256MB'")
    pg.execute("VACUUM (ANALYZE) audit_log")
    rows = int(scalar(pg, "SELECT count(*) FROM audit_log"))
    size = scalar(pg, "SELECT pg_size_pretty(pg_total_relation_size('audit_log'))")
    log(f"audit_log: {rows:,} entries, {size} with its indexes")
    return rows
