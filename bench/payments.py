"""Benchmark of the Stripe webhook path: ack latency at a fixed delivery rate, and events processed per second.

In one run, on the real PostgreSQL (databases of its own, dropped at the end):
1. ours: `payments-webhooks` under gunicorn (verify, store once, answer) with the worker applying the
   events through the real credits service; deliveries at `--rate` per second (open loop, so a stall
   counts), each a new, correctly signed `checkout.session.completed`;
2. the limit: a bare Flask endpoint under the same gunicorn settings that only verifies the
   signature with the same stripe library call, at the same rate;
3. processing: from the first delivery to the last event applied (one credits purchase each).

Target: ack p99 ≤ 50 ms at 200 deliveries a second. Ends with one JSON line; comparisons are
`*_ratio`, higher is better (the limit's p99 ÷ ours; 50 ms ÷ ours).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import psycopg

# bench/ holds credits.py, which must not shadow the credits service: move the script's directory to
# the end of the path, so the services (editable installs) come first and `benchlib` is still found.
sys.path.append(sys.path.pop(0))

from benchlib import (
    Database,
    Result,
    ServerProcess,
    child_env,
    free_port,
    json_line,
    open_loop,
    percentile,
    raise_on_sigterm,
    stop_all,
)

from credits.bootstrap import MIGRATIONS as CREDITS_MIGRATIONS
from payments.bootstrap import MIGRATIONS as PAYMENTS_MIGRATIONS
from scenergy.common.db import drop_database
from scenergy.common.migrations import upgrade
from scenergy_dev.wire.stripe import StripeStore, sign_webhook, webhook_body

SECRET = "whsec_bench_" + secrets.token_hex(16)
PACK = {"id": "pack_bench_100", "name": "100 credits", "credits": 100, "price_amount": 2000, "currency": "usd"}
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(message: str) -> None:
    print(f"[bench-payments] {message}", file=sys.stderr, flush=True)


# -- the limit: verification only --------------------------------------------------------------------


def bare_app() -> Any:
    """A Flask app that verifies the signature as ours does, and answers; nothing stored."""
    import stripe
    from flask import Flask, request

    app = Flask("bare-verify")

    @app.post("/webhooks/stripe")
    def verify() -> tuple[str, int]:
        try:
            stripe.WebhookSignature.verify_header(
                request.get_data(cache=False).decode(), request.headers.get("Stripe-Signature"), SECRET_FROM_ENV, 300
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            return "bad signature", 400
        return '{"received": true}', 200

    return app


SECRET_FROM_ENV = os.environ.get("BENCH_WEBHOOK_SECRET", "")


def serve_bare(port: int) -> None:
    from scenergy.common.gunicorn_hooks import serve

    serve(bare_app, name="bench-bare", bind=f"127.0.0.1:{port}")


# -- load ---------------------------------------------------------------------------------------------


def bodies(clients: list[str], count: int) -> list[tuple[bytes, str]]:
    """`count` distinct paid-session events, signed now (valid for the 300 s tolerance)."""
    store = StripeStore()
    made = []
    for n in range(count):
        session = store.add_checkout_session(clients[n % len(clients)], PACK["id"], PACK["price_amount"])
        body = webhook_body(store.event("checkout.session.completed", session))
        made.append((body, sign_webhook(body, SECRET)))
    return made


def deliver_at_rate(url: str, payloads: list[tuple[bytes, str]], rate: float, seconds: float, warmup: float) -> Result:
    pool = ThreadPoolExecutor(max_workers=64)
    index = iter(range(len(payloads)))
    lock = threading.Lock()

    def start(done: Any) -> None:
        with lock:
            n = next(index)
        body, signature = payloads[n]

        def post() -> None:
            request = urllib.request.Request(
                url, data=body, headers={"Stripe-Signature": signature, "Content-Type": "application/json"}
            )
            try:
                with _HTTP.open(request, timeout=10) as response:
                    response.read()
                    done(None if response.status == 200 else f"HTTP {response.status}")
            except Exception as exc:
                done(f"{type(exc).__name__}: {exc}")

        pool.submit(post)

    try:
        return open_loop(start, rate=rate, seconds=seconds, warmup=warmup)
    finally:
        pool.shutdown(wait=True)


def summary(result: Result) -> dict[str, float]:
    latencies = sorted(result.latencies)
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "ok": result.ok,
        "errors": result.errors,
    }


def processed(db: Database) -> tuple[int, int]:
    with db.connect(autocommit=True) as pg:
        row = pg.execute("SELECT count(*) FILTER (WHERE status = 'processed'), count(*) FROM stripe_event").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def open_accounts(credits_url: str, count: int) -> list[str]:
    """Credit accounts for the clients the sessions name (purchases need an account)."""
    clients = [f"cli_bench{n:06d}" for n in range(count)]
    with psycopg.connect(credits_url, autocommit=True) as pg, pg.cursor() as cur:
        cur.executemany(
            "INSERT INTO credit_balance (id, client_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(f"bal_bench{n:06d}", c) for n, c in enumerate(clients)],
        )
    return clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each phase")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--serve-bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    raise_on_sigterm()
    tag = f"bench_payments_{os.getpid()}"
    dbs = {name: Database.named(f"{tag}_{name}", "bench-payments") for name in ("credits", "payments")}
    figures: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds, "cpus": os.cpu_count()}
    with ExitStack() as cleanup:
        for db in dbs.values():
            cleanup.callback(drop_database, db.url)
        log("creating and migrating the databases")
        upgrade(CREDITS_MIGRATIONS, dbs["credits"].url)
        upgrade(PAYMENTS_MIGRATIONS, dbs["payments"].url)
        with dbs["payments"].connect(autocommit=True) as pg:
            pg.execute(
                "INSERT INTO credit_pack (id, name, credits, price_amount, currency) VALUES (%s, %s, %s, %s, %s)",
                (PACK["id"], PACK["name"], PACK["credits"], PACK["price_amount"], PACK["currency"]),
            )
        clients = open_accounts(dbs["credits"].libpq_url, args.clients)
        key = secrets.token_urlsafe(32)
        ports = {name: free_port() for name in ("credits", "credits_http", "webhooks", "worker", "bare")}
        metrics = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-payments-metrics-"))
        common = {
            "SERVICE_CREDENTIAL_KEY": key,
            "BIND_HOST": "127.0.0.1",
            "BROKER_URL": "memory://",
            "LOG_LEVEL": "WARNING",
        }
        payments_env = {
            **common,
            "DATABASE_URL": dbs["payments"].url,
            "CREDITS_ADDR": f"127.0.0.1:{ports['credits']}",
            "STRIPE_WEBHOOK_SECRET": SECRET,
        }
        servers = [
            ServerProcess(
                "credits",
                [sys.executable, "-P", "-m", "credits.entrypoints.grpc_server"],
                child_env(**common, DATABASE_URL=dbs["credits"].url, GRPC_PORT=str(ports["credits"]),
                          HTTP_PORT=str(ports["credits_http"])),
            ),
            ServerProcess(
                "webhooks",
                [sys.executable, "-P", "-m", "payments.entrypoints.webhooks"],
                child_env(**payments_env, HTTP_PORT=str(ports["webhooks"]), PROMETHEUS_MULTIPROC_DIR=metrics),
            ),
            ServerProcess(
                "bare",
                [sys.executable, __file__, "--serve-bare", str(ports["bare"])],
                child_env(BENCH_WEBHOOK_SECRET=SECRET, PROMETHEUS_MULTIPROC_DIR=metrics),
            ),
        ]  # fmt: skip
        cleanup.callback(stop_all, servers)
        servers[0].wait_grpc_ready(f"127.0.0.1:{ports['credits']}", timeout=60)
        servers[1].wait_http_ready(f"http://127.0.0.1:{ports['webhooks']}/readyz", timeout=60)
        deadline = time.monotonic() + 60
        while True:  # the bare app has no /readyz: a refused signature means it is up
            try:
                _HTTP.open(urllib.request.Request(f"http://127.0.0.1:{ports['bare']}/webhooks/stripe", data=b"{}"))
            except urllib.error.HTTPError:
                break
            except OSError:
                assert time.monotonic() < deadline, servers[2].output()
                time.sleep(0.2)
        total = int(args.rate * (args.seconds + args.warmup)) + 10

        log(f"the limit: signature verification only, {args.rate:.0f}/s for {args.seconds:.0f} s")
        bare = summary(deliver_at_rate(f"http://127.0.0.1:{ports['bare']}/webhooks/stripe",
                                       bodies(clients, total), args.rate, args.seconds, args.warmup))  # fmt: skip

        log(f"ours: verify, store once, answer; the worker applies them; {args.rate:.0f}/s for {args.seconds:.0f} s")
        worker = ServerProcess(
            "worker",
            [sys.executable, "-P", "-m", "payments.entrypoints.worker"],
            child_env(**payments_env, WORKER_OPS_PORT=str(ports["worker"])),
        )
        servers.append(worker)
        worker.wait_http_ready(f"http://127.0.0.1:{ports['worker']}/readyz", timeout=60)
        payloads = bodies(clients, total)
        started = time.monotonic()
        ours = summary(deliver_at_rate(f"http://127.0.0.1:{ports['webhooks']}/webhooks/stripe",
                                       payloads, args.rate, args.seconds, args.warmup))  # fmt: skip
        delivered = time.monotonic() - started
        done, stored = processed(dbs["payments"])
        while done < stored and time.monotonic() - started < delivered + 120:
            time.sleep(0.25)
            done, stored = processed(dbs["payments"])
        took = time.monotonic() - started
        with dbs["credits"].connect(autocommit=True) as pg:
            purchases = pg.execute("SELECT count(*) FROM credit_transaction WHERE type = 'purchase'").fetchone()
        figures.update({f"ack_{k}": v for k, v in ours.items()})
        figures.update({f"bare_{k}": v for k, v in bare.items()})
        figures.update(
            {
                "events_stored": stored,
                "events_processed": done,
                "purchases": int(purchases[0]) if purchases else 0,
                "events_processed_per_s": done / took if took else 0.0,
                "processing_lag_s": max(took - delivered, 0.0),
                "ack_p99_ratio": bare["p99_ms"] / ours["p99_ms"] if ours["p99_ms"] else float("nan"),
                "ack_target_ratio": 50.0 / ours["p99_ms"] if ours["p99_ms"] else float("nan"),
            }
        )
        log(f"ack p99 {ours['p99_ms']:.1f} ms (limit {bare['p99_ms']:.1f} ms); {done}/{stored} processed, "
            f"{figures['events_processed_per_s']:.0f}/s")  # fmt: skip
    print(json_line(figures))


if __name__ == "__main__":
    main()
