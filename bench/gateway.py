"""Benchmark of the admin gateway's reads: list pages and the dashboard at 100,000 clients, 1M credit
transactions and 1M audit entries, against their targets and against the bare SQL of one list.

    .venv/bin/python bench/gateway.py [--clients 100000] [--transactions 1000000]
        [--audit-entries 1000000] [--seconds 60] [--threads 8]            (or: make bench-gateway)

In one run, on fresh databases `bench_gw_<random>_{admin,credits,audit,generation,payments}` of the
PostgreSQL at BENCH_DATABASE_URL (default: postgres@127.0.0.1:5432), migrated by the services' own
migrations and all dropped at the end, even on failure (generation and payments stay empty: the
dashboard asks them for their figures and health):

1. Fill, as the owner, each database with INSERT ... SELECT generate_series (the three at once), then
   VACUUM ANALYZE, as autovacuum would have by then. The directory: --clients clients (names like
   "Coastal Heron Atelier Lyon", slugs from them, plans, created over three years, last active
   within 60 days or never, 1% deleted, 30% with a store connection); 2 users per client, each
   client with one owner and the other users spread over clients (skewed: big clients have many),
   10% of users in a second client; --products products (10 per client by default, skewed). The
   ledger: an account per client and --transactions transactions over a year, skewed over clients
   (the biggest has thousands), each client's versions 1..n in time order with consistent
   balance_after, and the balances their sum. The audit log: --audit-entries entries, the fill of
   bench/audit.py (benchlib.fill_audit_log).
2. The servers as the platform runs them, each a process of its own: the credits, audit, generation
   and payments gRPC servers and the gateway (`python -m admin_api.entrypoints.http`: gunicorn,
   2 workers x 8 threads). An admin (role admin, made with create_admin) signs in through POST /auth/login once
   per client thread; each thread sends its own session cookie and CSRF token.
3. Mixed load: --threads client threads, each with a keep-alive connection (http.client: the load
   generator shares the cores with the servers it measures, and requests costs ~4x its CPU per
   call), each going round
   every kind of call below in its own shuffled order, back to back (closed loop), for --seconds
   after a warm-up. Kinds: the clients list (default sort; sort=name; status=active; q=a word of the
   names, ~1.7% of clients; q=a whole client name, a handful; its 2nd page by cursor), the users
   list, credits balances, credit transactions (all; one client's), the audit log (all; one
   action; one week), and the dashboard. Figures: p50/p99 per kind, the p99 over every list call,
   the dashboard's p50/p99, throughput, errors (a non-200, an empty page, a clients page marked
   `degraded`, a dashboard part missing or a service `down` are errors; must be 0) and the CPU each
   process spent per call (client, gateway, credits, audit, database; `other_cores`: the rest of
   the machine meanwhile).
4. Gateway overhead: the clients list's first page (default sort) through the gateway alone, with
   --threads threads, against the very SQL statement the gateway runs for it (captured from the
   gateway's own code, see 5), executed directly with psycopg in autocommit on --threads connections
   to the same database. Alternated twice (ABAB); the best p99 of each counts. What differs is the
   gateway's own work: HTTP, the session check (one SELECT), Flask and validation, the page's
   balances (one gRPC call to credits, one SELECT there) and the JSON.
5. The SQL behind a call: the gateway app (Flask test client) and both gRPC servers also run in this
   process on the same databases, with every statement of their engines recorded (but the session
   check, which runs on the driver connection, skipping SQLAlchemy's events). Replaying a call
   there gives its statements; the clients list's is the one timed raw in 4. A kind whose p99
   misses its target gets on stderr the EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of its
   slowest call (and the time of every statement of that call).

Targets: list p99 <= 50 ms and dashboard p99 <= 300 ms (the product documents ask for < 200 ms and
< 2 s). Each comparison is a key ending in `_ratio`, higher is better: target / measured, and
gateway_overhead_ratio = raw SQL p99 / gateway p99 (at most 1). Progress goes to stderr; the last
line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import sys

# The services `credits` and `audit` share their names with scripts of this folder: search it last,
# so that they are the services (found through their editable installs) and `benchlib` is still found.
sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import random
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
import requests
from benchlib import (
    ACTIONS,
    REASONS,
    CpuSnapshot,
    Database,
    Result,
    ServerProcess,
    child_env,
    closed_loop,
    cpu_snapshot,
    cpu_used,
    fill_audit_log,
    free_port,
    json_line,
    percentile,
    raise_on_sigterm,
    scalar,
    stop_all,
)
from sqlalchemy import Engine, event

from admin_api.api.spec import CSRF_HEADER, SESSION_COOKIE
from admin_api.bootstrap import MIGRATIONS as ADMIN_MIGRATIONS
from admin_api.bootstrap import bootstrap as admin_bootstrap
from admin_api.config import Settings as AdminSettings
from admin_api.service_layer.admins import create_admin
from admin_api.web import create_app
from audit.bootstrap import MIGRATIONS as AUDIT_MIGRATIONS
from audit.bootstrap import bootstrap as audit_bootstrap
from audit.config import Settings as AuditSettings
from audit.domain.chain import ChainSigner
from audit.entrypoints.grpc_server import build_server as audit_server
from credits.bootstrap import MIGRATIONS as CREDITS_MIGRATIONS
from credits.bootstrap import bootstrap as credits_bootstrap
from credits.config import Settings as CreditsSettings
from credits.entrypoints.grpc_server import build_server as credits_server
from generation.bootstrap import MIGRATIONS as GENERATION_MIGRATIONS
from payments.bootstrap import MIGRATIONS as PAYMENTS_MIGRATIONS
from scenergy.common.db import drop_database, make_engine
from scenergy.common.identity import Actor, Role
from scenergy.common.migrations import upgrade

TARGET_LIST_P99_MS = 50.0
TARGET_DASHBOARD_P99_MS = 300.0
PRODUCT_LIST_MS = 200.0  # what the product documents ask for
PRODUCT_DASHBOARD_MS = 2000.0
TIMEOUT_S = 30.0
ADMIN_EMAIL = "bench.gateway@scenergy.example"
API = "/api/admin"

_STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- the data -------------------------------------------------------------------------------------

ADJECTIVES = (
    "Blue", "Golden", "Nordic", "Urban", "Wild", "Silver", "Little", "Bright", "Green", "Crimson",
    "Quiet", "Rustic", "Modern", "Coastal", "Alpine", "Velvet", "Copper", "Lunar", "Solar", "Amber",
    "Ivory", "Misty", "Sunny", "Hidden", "Royal", "Happy", "Clever", "Bold", "Gentle", "Swift",
    "Northern", "Southern", "Eastern", "Western", "Pacific", "Atlantic", "Prairie", "Desert", "Forest", "River",
)  # fmt: skip
NOUNS = (
    "Harbor", "Pine", "Fox", "Maple", "Stone", "Bloom", "Cedar", "Willow", "Oak", "Falcon", "Otter",
    "Lantern", "Anchor", "Compass", "Meadow", "Orchard", "Summit", "Canyon", "Thread", "Needle", "Loom",
    "Kiln", "Clay", "Linen", "Cotton", "Wool", "Leather", "Candle", "Honey", "Olive", "Fig", "Pepper",
    "Basil", "Saffron", "Tide", "Wave", "Shell", "Pebble", "Feather", "Acorn", "Fern", "Moss", "Birch",
    "Heron", "Raven", "Sparrow", "Badger", "Bear", "Wolf", "Lynx", "Bison", "Elk", "Crane", "Lotus",
    "Tulip", "Poppy", "Daisy", "Iris", "Sage", "Thyme",
)  # fmt: skip
TRADES = (
    "Studio", "Labs", "Goods", "Co", "Outfitters", "Boutique", "Market", "Atelier", "Supply",
    "Collective", "Works", "House", "Trading", "Design", "Apparel", "Home",
)  # fmt: skip
CITIES = (
    "Berlin", "Lyon", "Austin", "Osaka", "Porto", "Oslo", "Denver", "Milan", "Leeds", "Ghent",
    "Tallinn", "Quebec", "Perth", "Malmo", "Bristol", "Seville", "Zurich", "Krakow", "Dublin", "Vienna",
)  # fmt: skip
FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam",
    "Mia", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Xenia",
    "Yusuf", "Zoe", "Lucas", "Sofia", "Leon", "Elena",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Muller", "Garcia", "Rossi", "Dubois", "Novak", "Jensen", "Silva", "Kowalski", "Tanaka",
    "Brown", "Schmidt", "Lopez", "Bianchi", "Martin", "Horvat", "Nielsen", "Costa", "Nowak", "Sato",
    "Wilson", "Weber", "Perez", "Romano", "Bernard", "Kovac", "Hansen", "Santos", "Wojcik", "Suzuki",
)  # fmt: skip
MAIL_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "icloud.com", "fastmail.com", "yahoo.com")
COLORS = ("Black", "White", "Navy", "Olive", "Sand", "Rust", "Sky", "Forest", "Charcoal", "Cream", "Berry", "Slate")
MATERIALS = ("Linen", "Cotton", "Wool", "Leather", "Ceramic", "Oak", "Brass", "Silk", "Denim", "Canvas", "Glass")
ITEMS = (
    "Shirt", "Tote Bag", "Mug", "Vase", "Sneaker", "Scarf", "Lamp", "Backpack", "Candle", "Bowl",
    "Jacket", "Wallet", "Cushion", "Planter", "Notebook", "Watch", "Cap", "Blanket", "Tray", "Belt",
)  # fmt: skip
CATEGORIES = (
    "Apparel", "Footwear", "Accessories", "Home", "Beauty", "Jewelry", "Bags", "Outdoor", "Kitchen", "Stationery",
)  # fmt: skip
STORES = ("shopify", "woocommerce", "custom")


def client_id_sql(n: str) -> str:
    """A ULID-shaped id (26 Crockford characters behind the prefix) derived from the client's number,
    the same in every database."""
    return f"'cli_01j' || substr(md5('client' || {n}), 1, 23)"


def client_created_sql(n: str) -> str:
    """Clients joined over three years, one after the other (the same in every database)."""
    return f"now() - interval '1095 days' * (1 - ({n} - 1)::float8 / %(clients)s)"


def pick(param: str, size: int) -> str:
    """A random element of the text array passed as parameter `param` (of `size` elements)."""
    return f"(%({param})s::text[])[1 + floor(random() * {size})::int]"


CLIENTS_SQL = f"""
INSERT INTO client (id, name, slug, description, plan, store_connection, last_active_at, deleted_at,
    created_at, updated_at)
SELECT id, name, base_slug || CASE WHEN dup > 1 THEN '-' || dup ELSE '' END, description, plan,
    CASE WHEN r_store < 0.3 THEN jsonb_build_object(
        'platform', store, 'url', 'https://' || base_slug || '.example.com', 'status', 'connected',
        'auto_sync', r_store < 0.2, 'last_sync_at', to_char(last_active_at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) END,
    last_active_at, deleted_at, created_at, greatest(created_at, coalesce(deleted_at, last_active_at, created_at))
FROM (
    SELECT *, row_number() OVER (PARTITION BY base_slug ORDER BY n) AS dup
    FROM (
        SELECT *, trim(both '-' from lower(regexp_replace(name, '[^A-Za-z0-9]+', '-', 'g'))) AS base_slug,
            CASE WHEN r_never < 0.1 THEN NULL
                 ELSE greatest(created_at, now() - r_active * interval '60 days') END AS last_active_at,
            CASE WHEN r_deleted < 0.01 THEN greatest(created_at, now() - r_deleted * interval '3000 days') END
                AS deleted_at,
            CASE WHEN r_plan < 0.55 THEN 'free' WHEN r_plan < 0.80 THEN 'starter'
                 WHEN r_plan < 0.95 THEN 'pro' ELSE 'enterprise' END AS plan
        FROM (
            SELECT n, {client_id_sql("n")} AS id, {client_created_sql("n")} AS created_at,
                {pick("adjectives", len(ADJECTIVES))} || ' ' || {pick("nouns", len(NOUNS))} || ' '
                    || {pick("trades", len(TRADES))}
                    || CASE WHEN random() < 0.4 THEN ' ' || {pick("cities", len(CITIES))} ELSE '' END AS name,
                CASE WHEN random() < 0.5 THEN '' ELSE 'Online shop selling ' || lower({pick("categories", len(CATEGORIES))})
                    || ' and ' || lower({pick("categories", len(CATEGORIES))}) END AS description,
                {pick("stores", len(STORES))} AS store,
                random() AS r_never, random() AS r_active, random() AS r_deleted, random() AS r_plan,
                random() AS r_store
            FROM generate_series(1, %(clients)s::int) AS n
        ) AS g
    ) AS named
) AS deduplicated
"""

USERS_SQL = f"""
INSERT INTO app_user (id, email, name, email_verified, last_active_at, deleted_at, created_at, updated_at)
SELECT 'usr_01j' || substr(md5('user' || n), 1, 23),
    lower(first || '.' || last) || n || '@' || domain, first || ' ' || last, r_verified < 0.9,
    CASE WHEN r_never < 0.15 THEN NULL ELSE greatest(created_at, now() - r_active * interval '90 days') END,
    CASE WHEN r_deleted < 0.005 THEN greatest(created_at, now() - r_deleted * interval '6000 days') END,
    created_at, created_at
FROM (
    SELECT n, {pick("first_names", len(FIRST_NAMES))} AS first, {pick("last_names", len(LAST_NAMES))} AS last,
        {pick("domains", len(MAIL_DOMAINS))} AS domain,
        now() - interval '1095 days' * (1 - (n - 1)::float8 / %(users)s) AS created_at,
        random() AS r_verified, random() AS r_never, random() AS r_active, random() AS r_deleted
    FROM generate_series(1, %(users)s::int) AS n
) AS g
"""

# User n <= clients owns client n; the others join a client (skewed: big clients have many members),
# and 10% of all users are also in a second client.
MEMBERSHIPS_SQL = f"""
WITH first AS (
    SELECT n AS user_no,
        CASE WHEN n <= %(clients)s THEN n ELSE 1 + floor(power(random(), 1.5) * %(clients)s)::int END AS client_no,
        random() AS r_role, random() AS r_status, random() AS r_second
    FROM generate_series(1, %(users)s::int) AS n
), every AS (
    SELECT user_no, client_no, CASE WHEN user_no <= %(clients)s THEN 'owner'
            WHEN r_role < 0.6 THEN 'editor' ELSE 'viewer' END AS role,
        CASE WHEN user_no <= %(clients)s OR r_status < 0.8 THEN 'active'
             WHEN r_status < 0.95 THEN 'invited' ELSE 'suspended' END AS status
    FROM first
    UNION ALL
    SELECT user_no, (client_no + floor(r_role * (%(clients)s - 1))::int) %% %(clients)s + 1,
        CASE WHEN r_status < 0.5 THEN 'editor' ELSE 'viewer' END, 'active'
    FROM first WHERE r_second < 0.1 AND %(clients)s > 1
)
INSERT INTO membership (client_id, user_id, role, status, joined_at, created_at, updated_at)
SELECT {client_id_sql("client_no")}, 'usr_01j' || substr(md5('user' || user_no), 1, 23), role, status,
    CASE WHEN status = 'invited' THEN NULL ELSE at END, at, at
FROM (SELECT *, least(now(), {client_created_sql("client_no")} + random() * interval '30 days') AS at
      FROM every) AS m
"""

PRODUCTS_SQL = f"""
INSERT INTO product (id, client_id, name, category, source, image_url, external_id, created_at, updated_at)
SELECT 'prd_01j' || substr(md5('product' || n), 1, 23), {client_id_sql("client_no")}, name, category,
    CASE WHEN r_source < 0.7 THEN 'imported' ELSE 'uploaded' END,
    'https://cdn.scenergy.example/products/' || md5('product' || n) || '.jpg',
    CASE WHEN r_source < 0.7 THEN 'gid://shopify/Product/' || (7000000000 + n) END,
    created_at, created_at + random() * (now() - created_at)
FROM (
    SELECT n, client_no,
        {pick("colors", len(COLORS))} || ' ' || {pick("materials", len(MATERIALS))} || ' '
            || {pick("items", len(ITEMS))} AS name,
        {pick("categories", len(CATEGORIES))} AS category, random() AS r_source,
        {client_created_sql("client_no")} + random() * (now() - ({client_created_sql("client_no")})) AS created_at
    FROM (SELECT n, 1 + floor(power(random(), 1.5) * %(clients)s)::int AS client_no
          FROM generate_series(1, %(products)s::int) AS n) AS s
) AS g
"""

# The ledger in three steps: the transactions drawn into a temporary table (client skewed, a time
# within the client's life and the last year, versions in time order, the first a purchase or a
# grant), the accounts from their sums, then the transactions themselves, in time order.
LEDGER_DRAW_SQL = f"""
CREATE TEMPORARY TABLE drawn AS
WITH raw AS (
    SELECT s, client_no, start + random() * (now() - start) AS created_at,
        random() AS r_type, random() AS r_amount, random() AS r_extra
    FROM (
        SELECT s, client_no, greatest({client_created_sql("client_no")}, now() - interval '365 days') AS start
        FROM (SELECT s, 1 + floor(power(random(), 2) * %(clients)s)::int AS client_no
              FROM generate_series(1, %(transactions)s::int) AS s) AS c
    ) AS t
), numbered AS (
    SELECT raw.*, row_number() OVER w AS version, first_value(s) OVER w AS first_s
    FROM raw WINDOW w AS (PARTITION BY client_no ORDER BY created_at, s)
), typed AS (
    SELECT numbered.*,
        CASE WHEN version = 1 THEN CASE WHEN r_type < 0.7 THEN 'purchase' ELSE 'grant' END
             WHEN r_type < 0.78 THEN 'usage' WHEN r_type < 0.88 THEN 'purchase'
             WHEN r_type < 0.95 THEN 'grant' WHEN r_type < 0.99 THEN 'adjustment' ELSE 'refund' END AS type
    FROM numbered
)
SELECT typed.*,
    CASE type
        WHEN 'purchase' THEN (ARRAY[500, 1000, 5000, 10000, 50000])[1 + floor(r_amount * 5)::int]
        WHEN 'grant' THEN 50 * (1 + floor(r_amount * 20)::int)
        WHEN 'usage' THEN -(1 + floor(r_amount * 40)::int)
        WHEN 'adjustment' THEN CASE WHEN r_amount < 0.5 THEN -(1 + floor(r_amount * 400)::int)
                                    ELSE 1 + floor((r_amount - 0.5) * 400)::int END
        ELSE -10 * (1 + floor(r_amount * 30)::int)
    END AS amount
FROM typed
"""

LEDGER_ACCOUNTS_SQL = f"""
INSERT INTO credit_balance (id, client_id, balance, held, credit_limit, version, last_activity_at,
    created_at, updated_at)
SELECT 'bal_01j' || substr(md5('balance' || c), 1, 23), {client_id_sql("c")}, coalesce(t.balance, 0), 0, 0,
    coalesce(t.version, 0), t.last_at, {client_created_sql("c")}, coalesce(t.last_at, {client_created_sql("c")})
FROM generate_series(1, %(clients)s::int) AS c
LEFT JOIN (SELECT client_no, sum(amount) AS balance, max(version) AS version, max(created_at) AS last_at
           FROM drawn GROUP BY client_no) AS t ON t.client_no = c
"""

LEDGER_TRANSACTIONS_SQL = f"""
INSERT INTO credit_transaction (id, client_id, amount, balance_after, version, type, description,
    generated_asset_id, payment_transaction_id, admin_user_id, refund_of_id, idempotency_key, request_id,
    metadata, created_at)
SELECT 'ctx_01j' || substr(md5('tx' || s), 1, 23), {client_id_sql("client_no")}, amount,
    sum(amount) OVER (PARTITION BY client_no ORDER BY version), version, type,
    CASE type
        WHEN 'purchase' THEN 'Credit pack of ' || amount || ' credits'
        WHEN 'grant' THEN {pick("reasons", len(REASONS))}
        WHEN 'usage' THEN 'Generated ' || -amount || CASE WHEN amount = -1 THEN ' image' ELSE ' images' END
        WHEN 'adjustment' THEN 'Manual correction'
        ELSE 'Refund of a credit pack'
    END,
    CASE WHEN type = 'usage' THEN 'ast_01j' || substr(md5('asset' || s), 1, 23) END,
    CASE WHEN type = 'purchase' THEN 'pay_01j' || substr(md5('payment' || s), 1, 23) END,
    CASE WHEN type IN ('grant', 'adjustment') THEN 'adm_bench' || lpad(floor(r_extra * 50)::int::text, 4, '0') END,
    CASE WHEN type = 'refund' THEN 'ctx_01j' || substr(md5('tx' || first_s), 1, 23) END,
    'bench-' || s, 'req_01j' || substr(md5('request' || s), 1, 23),
    CASE WHEN type = 'usage' THEN jsonb_build_object('job_id', 'job_01j' || substr(md5('job' || s), 1, 23))
         ELSE '{{}}'::jsonb END,
    created_at
FROM drawn
ORDER BY created_at
"""


def run_timed(pg: psycopg.Connection[Any], what: str, sql: str, params: Mapping[str, Any]) -> None:
    started = time.monotonic()
    rows = pg.execute(sql, params).rowcount
    log(f"  {what}: {rows:,} rows in {time.monotonic() - started:.0f} s")


def prepare(pg: psycopg.Connection[Any]) -> None:
    pg.execute("SELECT setseed(0.42)")
    pg.execute("SET statement_timeout = 0")
    pg.execute("SET work_mem = '256MB'")
    pg.execute("SET maintenance_work_mem = '256MB'")


def vacuum(pg: psycopg.Connection[Any], what: str) -> str:
    pg.execute("VACUUM (ANALYZE)")
    size = scalar(pg, "SELECT pg_size_pretty(pg_database_size(current_database()))")
    log(f"  {what}: vacuumed and analyzed, {size}")
    return str(size)


def fill_admin(pg: psycopg.Connection[Any], args: argparse.Namespace) -> dict[str, Any]:
    params = {
        "clients": args.clients,
        "users": args.users,
        "products": args.products,
        "adjectives": list(ADJECTIVES),
        "nouns": list(NOUNS),
        "trades": list(TRADES),
        "cities": list(CITIES),
        "categories": list(CATEGORIES),
        "stores": list(STORES),
        "first_names": list(FIRST_NAMES),
        "last_names": list(LAST_NAMES),
        "domains": list(MAIL_DOMAINS),
        "colors": list(COLORS),
        "materials": list(MATERIALS),
        "items": list(ITEMS),
    }
    started = time.monotonic()
    prepare(pg)
    run_timed(pg, "clients", CLIENTS_SQL, params)
    run_timed(pg, "app users", USERS_SQL, params)
    run_timed(pg, "memberships", MEMBERSHIPS_SQL, params)
    run_timed(pg, "products", PRODUCTS_SQL, params)
    size = vacuum(pg, "admin")
    counts = pg.execute(
        "SELECT (SELECT count(*) FROM client), (SELECT count(*) FROM client WHERE deleted_at IS NULL),"
        " (SELECT count(*) FROM app_user), (SELECT count(*) FROM membership), (SELECT count(*) FROM product)"
    ).fetchone()
    assert counts is not None
    return {
        "fill_admin_s": time.monotonic() - started,
        "admin_db_size": size,
        "clients_stored": counts[0],
        "clients_live": counts[1],
        "users_stored": counts[2],
        "memberships_stored": counts[3],
        "products_stored": counts[4],
    }


def fill_credits(pg: psycopg.Connection[Any], args: argparse.Namespace) -> dict[str, Any]:
    params = {"clients": args.clients, "transactions": args.transactions, "reasons": list(REASONS)}
    started = time.monotonic()
    prepare(pg)
    run_timed(pg, "ledger: drawn", LEDGER_DRAW_SQL, params)
    run_timed(pg, "ledger: accounts", LEDGER_ACCOUNTS_SQL, params)
    run_timed(pg, "ledger: transactions", LEDGER_TRANSACTIONS_SQL, params)
    pg.execute("DROP TABLE drawn")
    size = vacuum(pg, "credits")
    biggest = scalar(pg, "SELECT coalesce(max(version), 0) FROM credit_balance")
    stored = scalar(pg, "SELECT count(*) FROM credit_transaction")
    return {
        "fill_credits_s": time.monotonic() - started,
        "credits_db_size": size,
        "transactions_stored": stored,
        "transactions_of_biggest_client": biggest,
    }


def fill_audit(pg: psycopg.Connection[Any], args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    stored = fill_audit_log(pg, args.audit_entries, lambda line: log(f"  {line}"))
    return {"fill_audit_s": time.monotonic() - started, "audit_entries_stored": stored}


# -- the servers ----------------------------------------------------------------------------------


@dataclass
class Stack:
    """The servers, each in a process of its own, and the environment each was started with."""

    dbs: dict[str, Database]
    envs: dict[str, dict[str, str]]
    processes: dict[str, ServerProcess] = field(default_factory=dict)
    base_url: str = ""

    @classmethod
    def plan(cls, dbs: dict[str, Database], metrics_dir: str) -> Stack:
        key = secrets.token_urlsafe(32)
        common = {"BROKER_URL": "memory://", "SERVICE_CREDENTIAL_KEY": key, "BIND_HOST": "127.0.0.1"}
        names = ("credits", "credits_http", "audit", "audit_http", "generation", "generation_http")
        names += ("payments", "payments_ops", "admin")
        ports = {name: free_port() for name in names}
        envs = {
            "credits": {
                **common,
                "DATABASE_URL": dbs["credits"].url,
                "GRPC_PORT": str(ports["credits"]),
                "HTTP_PORT": str(ports["credits_http"]),
            },
            "audit": {
                **common,
                "DATABASE_URL": dbs["audit"].url,
                "AUDIT_SIGNING_KEY": ChainSigner.generate_private_key(),
                "GRPC_PORT": str(ports["audit"]),
                "HTTP_PORT": str(ports["audit_http"]),
            },
            "generation": {  # the dashboard asks it for its figures
                **common,
                "DATABASE_URL": dbs["generation"].url,
                "CREDITS_ADDR": f"127.0.0.1:{ports['credits']}",
                "GRPC_PORT": str(ports["generation"]),
                "HTTP_PORT": str(ports["generation_http"]),
                "LOCAL_STORAGE_DIR": os.path.join(metrics_dir, "objects"),
            },
            "payments": {  # the dashboard asks it for today's revenue and failed webhooks
                **common,
                "DATABASE_URL": dbs["payments"].url,
                "CREDITS_ADDR": f"127.0.0.1:{ports['credits']}",
                "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_urlsafe(24),  # no webhooks arrive here
                "GRPC_PORT": str(ports["payments"]),
                "GRPC_OPS_PORT": str(ports["payments_ops"]),
            },
            "admin": {
                **common,
                "DATABASE_URL": dbs["admin"].url,
                "CREDITS_ADDR": f"127.0.0.1:{ports['credits']}",
                "AUDIT_ADDR": f"127.0.0.1:{ports['audit']}",
                "GENERATION_ADDR": f"127.0.0.1:{ports['generation']}",
                "PAYMENTS_ADDR": f"127.0.0.1:{ports['payments']}",
                "HTTP_PORT": str(ports["admin"]),
                "GUNICORN_WORKERS": "2",
                "GUNICORN_THREADS": "8",
                "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            },
        }
        return cls(dbs, envs, base_url=f"http://127.0.0.1:{ports['admin']}")

    def start(self) -> None:
        # -P: whatever the working directory, `credits` and `audit` must be the services.
        for name, module in (
            ("credits", "credits.entrypoints.grpc_server"),
            ("audit", "audit.entrypoints.grpc_server"),
            ("generation", "generation.entrypoints.grpc_server"),
            ("payments", "payments.entrypoints.grpc_server"),
            ("admin", "admin_api.entrypoints.http"),
        ):
            self.processes[name] = ServerProcess(
                name, [sys.executable, "-P", "-m", module], child_env(**self.envs[name])
            )

    def wait_ready(self) -> None:
        for name in ("credits", "audit", "generation", "payments"):
            self.processes[name].wait_grpc_ready(f"127.0.0.1:{self.envs[name]['GRPC_PORT']}", timeout=90)
        self.processes["admin"].wait_http_ready(f"{self.base_url}/readyz", timeout=90)

    def stop(self) -> None:
        stop_all(list(self.processes.values()))

    def pids(self) -> dict[str, list[int]]:
        """Each server's processes (the gateway: gunicorn's master and its workers)."""
        pids = {name: [p.proc.pid] for name, p in self.processes.items()}
        pids["admin"] += children(self.processes["admin"].proc.pid)
        return pids


def children(parent: int) -> list[int]:
    """The live processes whose parent is `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            found.append(int(entry))
    return found


# -- the SQL behind a call ------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    db: str
    sql: str
    params: Any


class Tracer:
    """The gateway app and both gRPC servers in this process, on the benchmark's databases, with
    every statement their engines run recorded: `statements(path, params)` replays a call and
    returns the SQL behind it, in the order it ran."""

    def __init__(self, stack: Stack, token: str) -> None:
        self._stack = ExitStack()
        try:
            credits = credits_bootstrap(CreditsSettings.from_env(stack.envs["credits"]), process="bench-trace")
            self._stack.callback(credits.close)
            audit = audit_bootstrap(AuditSettings.from_env(stack.envs["audit"]), process="bench-trace")
            self._stack.callback(audit.close)
            servers = {
                "credits": credits_server(credits, host="127.0.0.1", port=0).start(),
                "audit": audit_server(audit, host="127.0.0.1", port=0).start(),
            }
            for server in servers.values():
                self._stack.callback(server.stop, 1.0)
            admin_env = {
                **stack.envs["admin"],
                "CREDITS_ADDR": f"127.0.0.1:{servers['credits'].port}",
                "AUDIT_ADDR": f"127.0.0.1:{servers['audit'].port}",
            }
            admin = admin_bootstrap(AdminSettings.from_env(admin_env), process="bench-trace")
            self._stack.callback(admin.close)
            # Explained on each database's main engine; recorded from every engine of each container.
            self.engines: dict[str, Engine] = {"admin": admin.engine, "credits": credits.engine, "audit": audit.engine}
            containers: dict[str, Any] = {"admin": admin, "credits": credits, "audit": audit}
            self.client = create_app(admin).test_client()
            self.client.set_cookie(SESSION_COOKIE, token, path=API)
            self._captured: list[Statement] = []
            for name, container in containers.items():
                for engine in {id(e): e for e in vars(container).values() if isinstance(e, Engine)}.values():
                    self._listen(name, engine)
        except BaseException:
            self._stack.close()
            raise

    def _listen(self, name: str, engine: Engine) -> None:
        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if not executemany:
                self._captured.append(Statement(name, statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        self._stack.callback(event.remove, engine, "before_cursor_execute", capture)

    def statements(self, path: str, params: Mapping[str, str]) -> list[Statement]:
        self._captured = []
        response = self.client.get(API + path, query_string=dict(params))
        if response.status_code != 200:
            raise RuntimeError(f"replaying {path} {dict(params)}: {response.status_code} {response.text[:300]}")
        return list(self._captured)

    def explain(self, statement: Statement) -> tuple[float, str]:
        """EXPLAIN (ANALYZE, BUFFERS) on the database it ran on: (execution ms, the plan)."""
        with self.engines[statement.db].connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params).all()
        plan = "\n".join(str(r[0]) for r in rows)
        found = re.search(r"Execution Time: ([\d.]+) ms", plan)
        return (float(found.group(1)) if found else 0.0), plan

    def close(self) -> None:
        self._stack.close()


def is_query(statement: Statement) -> bool:
    return statement.sql.lstrip().upper().startswith(("SELECT", "WITH"))


# -- the calls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixtures:
    """What the calls' parameters are drawn from, sampled from the filled databases."""

    client_names: list[str]
    client_ids: list[str]  # clients with transactions
    clients_cursor: str = ""  # the clients list's 2nd page, default sort


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    params: Callable[[random.Random, Fixtures], dict[str, str]]
    is_list: bool = True
    # In the body, the sign of a failure that still answered 200.
    bad: tuple[bytes, ...] = ()


CLIENT_BAD = (b'"degraded":["',)
DASHBOARD_BAD = (b'"totals":null', b'"recent_activity":null', b'"credits":null', b'"status":"down"')


def a_week(rng: random.Random, fx: Fixtures) -> dict[str, str]:
    start = datetime.now(UTC) - timedelta(days=365) + timedelta(days=rng.uniform(0, 358))
    return {"occurred_from": start.isoformat(), "occurred_to": (start + timedelta(days=7)).isoformat()}


KINDS = (
    Kind("clients", "/clients", lambda rng, fx: {}, bad=CLIENT_BAD),
    Kind("clients_by_name", "/clients", lambda rng, fx: {"sort": "name"}, bad=CLIENT_BAD),
    Kind("clients_active", "/clients", lambda rng, fx: {"status": "active"}, bad=CLIENT_BAD),
    Kind("clients_search_word", "/clients", lambda rng, fx: {"q": rng.choice(NOUNS).lower()}, bad=CLIENT_BAD),
    Kind("clients_search_name", "/clients", lambda rng, fx: {"q": rng.choice(fx.client_names)}, bad=CLIENT_BAD),
    Kind("clients_page2", "/clients", lambda rng, fx: {"cursor": fx.clients_cursor}, bad=CLIENT_BAD),
    Kind("users", "/users", lambda rng, fx: {}),
    Kind("credits", "/credits", lambda rng, fx: {}),
    Kind("transactions", "/credits/transactions", lambda rng, fx: {}),
    Kind("transactions_client", "/credits/transactions", lambda rng, fx: {"client_id": rng.choice(fx.client_ids)}),
    Kind("audit", "/audit", lambda rng, fx: {}),
    Kind("audit_action", "/audit", lambda rng, fx: {"action": rng.choice(ACTIONS)[0]}),
    Kind("audit_week", "/audit", a_week),
    Kind("dashboard", "/dashboard", lambda rng, fx: {}, is_list=False, bad=DASHBOARD_BAD),
)
LIST_KINDS = [k.name for k in KINDS if k.is_list]


class CallError(Exception):
    """A failed call, labelled with its kind (closed_loop counts errors per label)."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(f"{label}: {message}")
        self.label = label


@dataclass
class SignedIn:
    cookie: str
    csrf: str

    def session(self, base_url: str) -> KeepAlive:
        # Sent by hand: the cookie is Secure, and this is plain http.
        return KeepAlive(base_url, {"Cookie": f"{SESSION_COOKIE}={self.cookie}", CSRF_HEADER: self.csrf})


class KeepAlive:
    """GETs over one keep-alive HTTP/1.1 connection, opened again when the server has closed it."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        url = urlsplit(base_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        self._headers = dict(headers)
        self._conn: HTTPConnection | None = None

    def get(self, target: str) -> tuple[int, bytes]:
        reused = self._conn is not None
        if self._conn is None:
            self._conn = HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
        try:
            self._conn.request("GET", target, headers=self._headers)
            response = self._conn.getresponse()
            body = response.read()
        except (HTTPException, OSError):
            self.close()
            if not reused:
                raise
            return self.get(target)  # the server closed an idle connection: once more, on a new one
        if response.will_close:
            self.close()
        return response.status, body

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sign_in(base_url: str, password: str) -> SignedIn:
    response = requests.post(
        f"{base_url}{API}/auth/login", json={"email": ADMIN_EMAIL, "password": password}, timeout=TIMEOUT_S
    )
    if response.status_code != 200:
        raise RuntimeError(f"sign-in: {response.status_code} {response.text[:300]}")
    cookie = response.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise RuntimeError("sign-in set no session cookie")
    return SignedIn(cookie, response.json()["csrf_token"])


def call(http: KeepAlive, kind: Kind, params: Mapping[str, str]) -> bytes:
    """One call; raises CallError unless it answered 200 with a full answer."""
    target = f"{API}{kind.path}" + (f"?{urlencode(params)}" if params else "")
    try:
        status, body = http.get(target)
    except (HTTPException, OSError) as exc:
        raise CallError(kind.name, " ".join(repr(exc).split())) from None
    if status != 200:
        raise CallError(kind.name, f"{status} {body[:200]!r}")
    if kind.is_list and b'"items":[]' in body:
        raise CallError(kind.name, "an empty page")
    for sign in kind.bad:
        if sign in body:
            raise CallError(kind.name, f"answered with {sign.decode()}")
    return body


def check_kinds(base_url: str, who: SignedIn, fixtures: Fixtures) -> Fixtures:
    """Each kind once, its answer parsed: it must be whole, and look as the quick checks expect.
    Returns the fixtures with the clients list's 2nd-page cursor."""
    rng = random.Random(0)
    with who.session(base_url) as http:
        first = call(http, KINDS[0], {})
        cursor = json.loads(first)["next_cursor"]
        if not cursor:
            raise RuntimeError("the clients list has a single page")
        fixtures = Fixtures(fixtures.client_names, fixtures.client_ids, cursor)
        for kind in KINDS:
            body = call(http, kind, kind.params(rng, fixtures))
            answer = json.loads(body)
            if kind.is_list:
                if not answer["items"] or b'"items":[{' not in body:
                    raise RuntimeError(f"{kind.name}: unexpected answer {body[:300]!r}")
                if kind.bad and (answer.get("degraded") or b'"degraded":[]' not in body):
                    raise RuntimeError(f"{kind.name}: degraded {answer.get('degraded')}")
            else:
                parts = ("totals", "recent_activity", "credits")
                if any(answer[p] is None for p in parts) or b'"totals":{' not in body:
                    raise RuntimeError(f"dashboard: a part is missing: {body[:500]!r}")
                down = [h for h in answer["system_health"] if h["status"] == "down"]
                if down:
                    raise RuntimeError(f"dashboard: down: {down}")
    return fixtures


def alone(base_url: str, who: SignedIn, fixtures: Fixtures, calls: int) -> dict[str, Any]:
    """Every kind `calls` times, one call at a time from one client: the latency without queueing."""
    rng = random.Random(1)
    times: dict[str, list[float]] = {kind.name: [] for kind in KINDS}
    with who.session(base_url) as http:
        for _ in range(calls):
            for kind in KINDS:
                params = kind.params(rng, fixtures)
                started = time.perf_counter()
                call(http, kind, params)
                times[kind.name].append(time.perf_counter() - started)
    return {f"{name}_alone_p50_ms": percentile(sorted(values), 50) * 1000 for name, values in times.items()}


@dataclass
class Slowest:
    """The slowest call seen of each kind (its parameters, for the replay)."""

    calls: dict[str, tuple[float, dict[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, seconds: float, params: dict[str, str]) -> None:
        with self.lock:
            if seconds > self.calls.get(kind, (0.0, {}))[0]:
                self.calls[kind] = (seconds, params)


def mixed_op(
    base_url: str, signed_in: list[SignedIn], fixtures: Fixtures, slowest: Slowest, degraded: list[int]
) -> Callable[[int], Callable[[], str]]:
    def make(thread: int) -> Callable[[], str]:
        http = signed_in[thread].session(base_url)
        rng = random.Random(thread)
        order: list[Kind] = []

        def op() -> str:
            if not order:
                order.extend(rng.sample(KINDS, len(KINDS)))
            kind = order.pop()
            params = kind.params(rng, fixtures)
            started = time.perf_counter()
            body = call(http, kind, params)
            slowest.note(kind.name, time.perf_counter() - started, params)
            if not kind.is_list and b'"status":"degraded"' in body:
                degraded.append(1)
            return kind.name

        op.close = http.close  # type: ignore[attr-defined]
        return op

    return make


def clients_op(base_url: str, signed_in: list[SignedIn]) -> Callable[[int], Callable[[], str]]:
    def make(thread: int) -> Callable[[], str]:
        http = signed_in[thread].session(base_url)

        def op() -> str:
            call(http, KINDS[0], {})
            return KINDS[0].name

        op.close = http.close  # type: ignore[attr-defined]
        return op

    return make


def sql_op(db: Database, statement: Statement) -> Callable[[int], Callable[[], None]]:
    def make(thread: int) -> Callable[[], None]:
        conn = db.connect(autocommit=True, application_name="bench-gateway-sql")
        cursor = conn.cursor()

        def op() -> None:
            cursor.execute(statement.sql, statement.params)
            if not cursor.fetchall():
                raise RuntimeError("the clients page is empty")

        op.close = conn.close  # type: ignore[attr-defined]
        return op

    return make


# -- the run --------------------------------------------------------------------------------------


def sample_fixtures(dbs: dict[str, Database]) -> Fixtures:
    with dbs["admin"].connect() as pg:
        names = [
            r[0] for r in pg.execute("SELECT name FROM client WHERE deleted_at IS NULL ORDER BY random() LIMIT 200")
        ]
    with dbs["credits"].connect() as pg:
        ids = [
            r[0]
            for r in pg.execute("SELECT client_id FROM credit_balance WHERE version > 0 ORDER BY random() LIMIT 500")
        ]
    return Fixtures(names, ids)


def make_admin(db: Database) -> str:
    password = secrets.token_urlsafe(24)
    engine = make_engine(db.url, application_name="bench-gateway", pool_size=1)
    try:
        with engine.begin() as conn:
            create_admin(conn, email=ADMIN_EMAIL, password=password, role=Role.ADMIN, name="Bench Gateway",
                         actor=Actor.system("bench"))  # fmt: skip
    finally:
        engine.dispose()
    return password


def cpu_probe(stack: Stack, dbs: dict[str, Database]) -> tuple[Callable[[], CpuSnapshot], Callable[[], None]]:
    conn = dbs["admin"].connect(autocommit=True, application_name="bench-gateway-probe")
    names = [db.name for db in dbs.values()]

    def probe() -> CpuSnapshot:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", (names,)
        ).fetchall()
        pids = stack.pids()
        return cpu_snapshot(
            {
                "client": [os.getpid()],
                "gateway": pids["admin"],
                "credits": pids["credits"],
                "audit": pids["audit"],
                "db": [r[0] for r in backends],
            }
        )

    return probe, conn.close


def mixed(args: argparse.Namespace, stack: Stack, dbs: dict[str, Database], signed_in: list[SignedIn],
          fixtures: Fixtures, slowest: Slowest) -> dict[str, Any]:  # fmt: skip
    degraded: list[int] = []
    probe, close_probe = cpu_probe(stack, dbs)
    try:
        log(
            f"mixed load: {args.threads} threads over {len(KINDS)} kinds, {args.warmup:g} s warm-up + {args.seconds:g} s"
        )
        result = closed_loop(
            mixed_op(stack.base_url, signed_in, fixtures, slowest, degraded),
            threads=args.threads,
            seconds=args.seconds,
            warmup=args.warmup,
            probe=probe,
        )
    finally:
        close_probe()
    figures: dict[str, Any] = {
        "requests": result.ok,
        "requests_per_s": result.rate,
        "errors": result.errors,
        "dashboard_degraded_health": len(degraded),
    }
    if result.first_error:
        figures["first_error"] = result.first_error
    for kind in KINDS:
        target = TARGET_LIST_P99_MS if kind.is_list else TARGET_DASHBOARD_P99_MS
        p99 = result.label_ms(kind.name, 99)
        figures[f"{kind.name}_calls"] = len(result.by_label.get(kind.name, []))
        figures[f"{kind.name}_errors"] = result.errors_by_label.get(kind.name, 0)
        figures[f"{kind.name}_p50_ms"] = result.label_ms(kind.name, 50)
        figures[f"{kind.name}_p99_ms"] = p99
        figures[f"{kind.name}_p99_ratio"] = target / p99
    every_list = sorted(v for k in LIST_KINDS for v in result.by_label.get(k, []))
    list_p99 = percentile(every_list, 99) * 1000
    dash_p99 = result.label_ms("dashboard", 99)
    figures.update(
        list_calls=len(every_list),
        list_p50_ms=percentile(every_list, 50) * 1000,
        list_p99_ms=list_p99,
        list_p99_ratio=TARGET_LIST_P99_MS / list_p99,
        list_p99_product_ratio=PRODUCT_LIST_MS / list_p99,
        dashboard_p50_ms=result.label_ms("dashboard", 50),
        dashboard_p99_ms=dash_p99,
        dashboard_p99_ratio=TARGET_DASHBOARD_P99_MS / dash_p99,
        dashboard_p99_product_ratio=PRODUCT_DASHBOARD_MS / dash_p99,
    )
    assert result.probed is not None
    cpu = cpu_used(*result.probed)
    for group in ("client", "gateway", "credits", "audit", "db"):
        figures[f"cpu_ms_per_call_{group}"] = 1000 * cpu[group] / max(result.ok, 1)
    figures["other_cores"] = cpu["other"] / cpu["elapsed"]
    return figures


def overhead(args: argparse.Namespace, stack: Stack, db: Database, signed_in: list[SignedIn],
             statement: Statement) -> dict[str, Any]:  # fmt: skip
    """The clients list's first page through the gateway, and its SQL alone, alternated (ABAB)."""
    runs: dict[str, list[Result]] = {"gateway_clients": [], "sql_clients": []}
    for round_ in (1, 2):
        for name, make_op in (
            ("gateway_clients", clients_op(stack.base_url, signed_in)),
            ("sql_clients", sql_op(db, statement)),
        ):
            result = closed_loop(make_op, threads=args.threads, seconds=args.overhead_seconds, warmup=1.0)
            if result.errors or not result.ok:
                raise RuntimeError(f"{name}: {result.ok} ok, {result.errors} errors; first: {result.first_error}")
            runs[name].append(result)
            log(
                f"  round {round_}, {name}: {result.rate:,.0f}/s, p50 {result.ms(50):.1f} ms, p99 {result.ms(99):.1f} ms"
            )
    figures: dict[str, Any] = {}
    for name, results in runs.items():
        best = min(results, key=lambda r: r.ms(99))
        figures[f"{name}_p50_ms"] = best.ms(50)
        figures[f"{name}_p99_ms"] = best.ms(99)
        figures[f"{name}_per_s"] = best.rate
        figures[f"{name}_p99_runs_ms"] = [round(r.ms(99), 1) for r in results]
    figures["gateway_overhead_ratio"] = figures["sql_clients_p99_ms"] / figures["gateway_clients_p99_ms"]
    return figures


def explain_misses(figures: dict[str, Any], tracer: Tracer, slowest: Slowest) -> list[str]:
    """For each kind over its target, the EXPLAIN ANALYZE of the slowest statement of its slowest call."""
    missed = []
    for kind in KINDS:
        target = TARGET_LIST_P99_MS if kind.is_list else TARGET_DASHBOARD_P99_MS
        if figures[f"{kind.name}_p99_ms"] <= target:
            continue
        missed.append(kind.name)
        seconds, params = slowest.calls.get(kind.name, (0.0, {}))
        timed: list[tuple[float, str, Statement]] = []
        for statement in tracer.statements(kind.path, params):
            if is_query(statement):
                timed.append((*tracer.explain(statement), statement))
        if not timed:
            log(f"{kind.name} misses its {target:g} ms target, and its slowest call ran no query to explain")
            continue
        timed.sort(key=lambda t: t[0], reverse=True)
        lines = [f"  {ms:8.1f} ms  {s.db:7}  {' '.join(s.sql.split())[:110]}" for ms, _, s in timed]
        ms, plan, statement = timed[0]
        figures[f"{kind.name}_slowest_sql_ms"] = ms
        log(
            f"{kind.name} misses its {target:g} ms target (p99 {figures[f'{kind.name}_p99_ms']:.1f} ms); its slowest "
            f"call ({seconds * 1000:.1f} ms, {API}{kind.path} {params}) replayed: {len(timed)} queries, "
            f"{sum(t[0] for t in timed):.1f} ms of execution in all (one at a time, caches warm):\n"
            + "\n".join(lines)
            + f"\nthe slowest, on {statement.db}:\n{statement.sql}\nparameters: {statement.params}\n{plan}"
        )
    return missed


def run(args: argparse.Namespace) -> dict[str, Any]:
    tag = f"bench_gw_{secrets.token_hex(4)}"
    names = ("admin", "credits", "audit", "generation", "payments")
    dbs = {name: Database.named(f"{tag}_{name}", "bench-gateway") for name in names}
    figures: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "seconds": args.seconds,
        "clients": args.clients,
        "users": args.users,
        "products": args.products,
        "transactions": args.transactions,
        "audit_entries": args.audit_entries,
        "load_1m_start": os.getloadavg()[0],
    }
    with ExitStack() as cleanup:
        for db in dbs.values():
            cleanup.callback(_quietly, f"drop {db.name}", drop_database, db.url)
        metrics_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-gateway-metrics-"))
        stack = Stack.plan(dbs, metrics_dir)
        log(f"creating and migrating {tag}_{{admin,credits,audit,generation,payments}}")
        for name, migrations in (
            ("admin", ADMIN_MIGRATIONS),
            ("credits", CREDITS_MIGRATIONS),
            ("audit", AUDIT_MIGRATIONS),
            ("generation", GENERATION_MIGRATIONS),
            ("payments", PAYMENTS_MIGRATIONS),
        ):
            upgrade(migrations, dbs[name].url)
        # The servers import while the databases fill: they touch them only when called.
        cleanup.callback(_quietly, "stop the servers", stack.stop)
        stack.start()
        log(
            f"filling, the three at once: {args.clients:,} clients, {args.users:,} users, {args.products:,} products; "
            f"{args.transactions:,} credit transactions; {args.audit_entries:,} audit entries"
        )
        started = time.monotonic()
        conns = {name: cleanup.enter_context(db.connect(autocommit=True)) for name, db in dbs.items()}
        with ThreadPoolExecutor(max_workers=3) as pool:
            fills = [pool.submit(fill, conns[name], args) for name, fill in
                     (("admin", fill_admin), ("credits", fill_credits), ("audit", fill_audit))]  # fmt: skip
            try:
                for future in fills:
                    figures.update(future.result())
            except BaseException:
                for conn in conns.values():  # stop the other fills now, not minutes later
                    conn.cancel_safe()
                raise
        figures["fill_s"] = time.monotonic() - started
        figures["load_1m_after_fill"] = os.getloadavg()[0]
        log(f"filled in {figures['fill_s']:.0f} s; waiting for the servers")
        stack.wait_ready()
        password = make_admin(dbs["admin"])
        signed_in = [sign_in(stack.base_url, password) for _ in range(args.threads + 1)]
        fixtures = check_kinds(stack.base_url, signed_in[-1], sample_fixtures(dbs))
        log(f"every kind answers; signed in {args.threads} times; {args.alone_calls} calls of each kind, one at a time")
        figures.update(alone(stack.base_url, signed_in[-1], fixtures, args.alone_calls))

        tracer = Tracer(stack, signed_in[-1].cookie)
        cleanup.callback(tracer.close)
        captured = [s for s in tracer.statements(KINDS[0].path, {}) if s.db == "admin" and "product_count" in s.sql]
        if len(captured) != 1:
            raise RuntimeError(f"expected one clients page statement, captured {len(captured)}")
        clients_sql = captured[0]

        slowest = Slowest()
        figures.update(mixed(args, stack, dbs, signed_in, fixtures, slowest))
        figures["load_1m_after_mixed"] = os.getloadavg()[0]
        log(f"gateway overhead: the clients list's first page, gateway vs its SQL, {args.threads} threads, ABAB")
        figures.update(overhead(args, stack, dbs["admin"], signed_in, clients_sql))
        figures["load_1m_after_overhead"] = os.getloadavg()[0]
        figures["missed"] = explain_misses(figures, tracer, slowest)
    return figures


def _quietly(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """Cleanup must go on past one failed step, and never hide the error that caused it."""
    log(f"cleanup: {what}")
    try:
        fn(*args)
    except Exception as exc:
        log(f"could not {what}: {exc!r}")


def summary(figures: dict[str, Any]) -> Iterator[str]:
    verdict = {True: "meets", False: "MISSES"}
    yield (
        f"admin gateway reads: {figures['clients_stored']:,} clients, {figures['transactions_stored']:,} credit "
        f"transactions, {figures['audit_entries_stored']:,} audit entries; {figures['threads']} client threads, "
        f"{figures['seconds']:g} s, {figures['cpus']} CPUs"
    )
    yield f"{'kind':22} {'alone p50':>9} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8}  target"
    for kind in KINDS:
        target = TARGET_LIST_P99_MS if kind.is_list else TARGET_DASHBOARD_P99_MS
        p99 = figures[f"{kind.name}_p99_ms"]
        errors = figures[f"{kind.name}_errors"]
        yield (
            f"{kind.name:22} {figures[f'{kind.name}_alone_p50_ms']:9.1f} {figures[f'{kind.name}_calls']:6} "
            f"{figures[f'{kind.name}_p50_ms']:8.1f} {p99:8.1f}  "
            f"{verdict[p99 <= target]} {target:g} ms" + (f", {errors} errors" if errors else "")
        )
    yield (
        f"every list: p50 {figures['list_p50_ms']:.1f} ms, p99 {figures['list_p99_ms']:.1f} ms "
        f"({verdict[figures['list_p99_ms'] <= TARGET_LIST_P99_MS]} {TARGET_LIST_P99_MS:g} ms); dashboard: p50 "
        f"{figures['dashboard_p50_ms']:.1f} ms, p99 {figures['dashboard_p99_ms']:.1f} ms "
        f"({verdict[figures['dashboard_p99_ms'] <= TARGET_DASHBOARD_P99_MS]} {TARGET_DASHBOARD_P99_MS:g} ms); "
        f"{figures['requests_per_s']:.0f} calls/s, {figures['errors']} errors"
    )
    yield (
        f"CPU ms per call: client {figures['cpu_ms_per_call_client']:.1f}, gateway "
        f"{figures['cpu_ms_per_call_gateway']:.1f}, credits {figures['cpu_ms_per_call_credits']:.1f}, audit "
        f"{figures['cpu_ms_per_call_audit']:.1f}, db {figures['cpu_ms_per_call_db']:.1f}; other processes "
        f"{figures['other_cores']:.2f} cores"
    )
    yield (
        f"clients page alone: gateway p99 {figures['gateway_clients_p99_ms']:.1f} ms vs its SQL p99 "
        f"{figures['sql_clients_p99_ms']:.1f} ms: gateway_overhead_ratio {figures['gateway_overhead_ratio']:.2f}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--users", type=int, help="app users (default: 2 per client)")
    parser.add_argument("--products", type=int, help="products (default: 10 per client)")
    parser.add_argument("--transactions", type=int, default=1_000_000, help="credit transactions")
    parser.add_argument("--audit-entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds of the mixed load")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before the mixed load")
    parser.add_argument("--overhead-seconds", type=float, default=8.0, help="measured seconds of each overhead run")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--alone-calls", type=int, default=20, help="calls of each kind one at a time, unloaded")
    args = parser.parse_args()
    args.users = args.clients * 2 if args.users is None else args.users
    args.products = args.clients * 10 if args.products is None else args.products
    if args.clients < 200 or args.users < args.clients or args.transactions < 1 or args.audit_entries < 1000:
        parser.error("at least 200 clients, as many users, a transaction and 1,000 audit entries")
    return args


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
    figures["load_1m_end"] = os.getloadavg()[0]
    log("done")
    for line in summary(figures):
        print(line)
    print(json_line(figures), flush=True)
    if figures["errors"]:
        sys.exit(1)  # the latencies stand, but some calls failed


if __name__ == "__main__":
    main()
