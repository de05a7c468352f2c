"""Clients: the list, create, detail, update and soft delete; settings; products and sessions.

The list is one SQL statement per page: the page of clients is picked first (filters, keyset,
limit), and only its rows get their product and member counts, so a page costs the same at
100,000 clients as at 100. Balances come from the credits service in one call per page; when it
doesn't answer, the page still renders with `credit_balance: null` and `degraded: ["credits"]`.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import sqlalchemy as sa
from flask import Blueprint
from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator
from spectree import Response as Responses
from sqlalchemy.exc import IntegrityError

from admin_api.adapters.tables import TS, client, collection_session, membership, product
from admin_api.api.convert import iso as timestamp_iso
from admin_api.api.generations import ClientGenerationStats, client_generation_stats
from admin_api.api.spec import (
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorEnvelope,
    M,
    Model,
    NoNulls,
    Out,
    Page,
    body_of,
    query_of,
    spec,
)
from admin_api.service_layer import directory, events
from admin_api.service_layer.directory import iso
from admin_api.web import container
from scenergy.audit.v1 import audit_pb2
from scenergy.common.http import ApiError
from scenergy.common.ids import new_id
from scenergy.common.pagination import clamp_limit
from scenergy.common.redaction import is_sensitive_key
from scenergy.credits.v1 import credits_pb2

bp = Blueprint("clients", __name__, url_prefix="/api/admin/clients")

Plan = Literal["free", "starter", "pro", "enterprise"]
METADATA_MAX_BYTES = 8 * 1024
RECENT_ACTIVITY = 10


# --- shapes ----------------------------------------------------------------------------------


def _slug() -> Any:
    return Field(None, min_length=1, max_length=directory.SLUG_MAX, pattern=directory.SLUG_RE.pattern)


class ClientListQuery(Page):
    q: str = Field("", max_length=200)
    status: Literal["active", "inactive"] | None = None
    plan: Plan | None = None
    sort: Literal["name", "-name", "created_at", "-created_at", "last_active", "-last_active"] = "-created_at"
    include_total: bool = False


class ClientItem(Out):
    id: str
    name: str
    slug: str
    plan: str
    product_count: int
    user_count: int  # active and invited members
    credit_balance: int | None  # null: no account, or the credits service didn't answer (see degraded)
    last_active_at: str | None
    status: Literal["active", "inactive"]
    created_at: str


class ClientList(Out):
    items: list[ClientItem]
    next_cursor: str | None
    total: int | None = None
    degraded: list[str] = []


class ClientCreate(Model):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = _slug()
    description: str = Field("", max_length=2000)
    plan: Plan = "free"


class ClientPatch(NoNulls):
    name: str | None = Field(None, min_length=1, max_length=200)
    slug: str | None = _slug()
    description: str | None = Field(None, max_length=2000)
    plan: Plan | None = None


class ClientOut(Out):
    id: str
    name: str
    slug: str
    description: str
    plan: str
    status: Literal["active", "inactive"]
    last_active_at: str | None
    created_at: str
    updated_at: str


class Stats(Out):
    products: int
    sessions: int
    generations: int  # the sum of the collection sessions' generation counts
    members: int  # active and invited, as in the list
    credit_balance: int | None
    credits_available: int | None  # the balance minus active holds
    generation: ClientGenerationStats | None = None  # null: the generation service didn't answer (see degraded)


class StoreConnectionOut(Out):
    platform: str
    url: str
    status: str
    auto_sync: bool
    last_sync_at: str | None


class ActivityOut(Out):
    id: str
    occurred_at: str | None
    action: str
    description: str
    actor_type: str
    actor_id: str
    actor_role: str | None
    outcome: str
    entity_type: str
    entity_id: str


class ClientDetail(Out):
    client: ClientOut
    stats: Stats
    store_connection: StoreConnectionOut | None
    recent_activity: list[ActivityOut]
    degraded: list[str] = []


class Deleted(Out):
    id: str
    deleted_at: str


# Settings. Credentials never live here: a key that names one is refused (they belong in a secret store).

SECRET_REFUSED = "credentials are not accepted in client settings; keep them in the secret store"
ImageSize = Literal["1K", "2K", "4K"]
AspectRatio = Literal["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]


def _refuse_secrets(value: Any, depth: int = 0) -> None:
    if depth > 20:
        raise ValueError("nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if is_sensitive_key(str(key)):
                raise ValueError(f"{key!r}: {SECRET_REFUSED}")
            _refuse_secrets(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _refuse_secrets(item, depth + 1)


class AiSettings(Model):
    """How a client's images are generated; a field left out takes the platform's default."""

    model: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    image_size: ImageSize | None = None
    aspect_ratio: AspectRatio | None = None
    image_quality: Literal["standard", "high"] | None = None
    style_prompt: str | None = Field(None, max_length=4000)
    negative_prompt: str | None = Field(None, max_length=4000)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        _refuse_secrets(data)
        return data


class AiSettingsOut(Out):
    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    image_size: str | None = None
    aspect_ratio: str | None = None
    image_quality: str | None = None
    style_prompt: str | None = None
    negative_prompt: str | None = None


class StoreConnectionIn(Model):
    platform: Literal["shopify", "woocommerce", "custom"]
    url: str = Field(min_length=1, max_length=2000)
    status: Literal["connected", "disconnected", "error"] = "disconnected"
    auto_sync: bool = False
    last_sync_at: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        _refuse_secrets(data)
        return data

    @field_validator("url")
    @classmethod
    def _plain_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        if parts.username or parts.password:
            raise ValueError(SECRET_REFUSED)
        if any(is_sensitive_key(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True)):
            raise ValueError(SECRET_REFUSED)
        return url


class SettingsPatch(Model):
    """Each section given replaces that section, except `ai_settings`, which is merged field by field
    (null removes a field, back to the default). `store_connection: null` removes the connection;
    `ai_settings: null` and `metadata: null` reset them to empty."""

    ai_settings: AiSettings | None = None
    store_connection: StoreConnectionIn | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _small_plain_object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > METADATA_MAX_BYTES:
            raise ValueError(f"must be at most {METADATA_MAX_BYTES} bytes of JSON (is {size})")
        _refuse_secrets(value)
        return value


class SettingsOut(Out):
    ai_settings: AiSettingsOut
    store_connection: StoreConnectionOut | None
    metadata: dict[str, Any]
    updated_at: str


class ProductQuery(Page):
    source: Literal["imported", "uploaded"] | None = None
    category: str | None = Field(None, min_length=1, max_length=200)


class ProductItem(Out):
    id: str
    name: str
    category: str | None
    source: str
    image_url: str | None
    external_id: str | None
    created_at: str
    updated_at: str


class ProductList(Out):
    items: list[ProductItem]
    next_cursor: str | None


class SessionQuery(Page):
    status: Literal["draft", "generating", "completed", "archived"] | None = None


class SessionItem(Out):
    id: str
    name: str
    status: str
    product_count: int
    generation_count: int
    created_at: str
    updated_at: str


class SessionList(Out):
    items: list[SessionItem]
    next_cursor: str | None


# --- helpers ---------------------------------------------------------------------------------


def client_out(row: directory.Row) -> ClientOut:
    return ClientOut(
        id=row.id,
        name=row.name,
        slug=row.slug,
        description=row.description,
        plan=row.plan,
        status=directory.client_status(row.last_active_at, directory.now()),  # type: ignore[arg-type]
        last_active_at=iso(row.last_active_at),
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
    )


def _lenient(model: type[M], stored: Any) -> M | None:
    """Stored JSON as `model`, known fields only; a field that no longer validates is left out."""
    if not isinstance(stored, dict):
        return None
    data = {k: v for k, v in stored.items() if k in model.model_fields}
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            if not bad & data.keys():
                return None
            data = {k: v for k, v in data.items() if k not in bad}
    return None


def store_connection_out(stored: Any) -> StoreConnectionOut | None:
    if not isinstance(stored, dict):
        return None
    last = stored.get("last_sync_at")
    return _lenient(StoreConnectionOut, {**stored, "last_sync_at": last if isinstance(last, str) else None})


def settings_out(row: directory.Row) -> SettingsOut:
    return SettingsOut(
        ai_settings=_lenient(AiSettingsOut, row.ai_settings) or AiSettingsOut(),
        store_connection=store_connection_out(row.store_connection),
        metadata=row.metadata if isinstance(row.metadata, dict) else {},
        updated_at=row.updated_at.isoformat(),
    )


def _sort_key(sort: str) -> tuple[sa.ColumnElement[Any], bool]:
    field, descending = sort.lstrip("-"), sort.startswith("-")
    if field == "name":
        return sa.func.lower(client.c.name, type_=sa.Text), descending
    if field == "created_at":
        return client.c.created_at, descending
    # The sentinel is an SQL constant, not a bound parameter, so an index on this expression can serve it.
    never = sa.literal_column(f"'{directory.NEVER.isoformat()}'::timestamptz", TS)
    return sa.func.coalesce(client.c.last_active_at, never, type_=TS), descending


def _balances(client_ids: list[str], degraded: list[str]) -> dict[str, int]:
    if not client_ids:
        return {}
    p = container().platform
    try:
        found = p.call(
            "credits",
            p.credits.GetBalances,
            credits_pb2.GetBalancesRequest(client_ids=client_ids),
            timeout=directory.ENRICH_DEADLINE_S,
        )
    except ApiError:
        degraded.append("credits")
        return {}
    return {b.client_id: b.balance for b in found.items}


def _is_slug_conflict(exc: IntegrityError) -> bool:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == "uq_client_slug_live"


# --- routes ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _list_statements(
    sort: str, *, searching: bool, status: str | None, by_plan: bool, paging: bool
) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """The clients page's statement and its count, built once per shape of query (the values are
    bound at execution): building them costs more CPU than running them."""
    filters: list[sa.ColumnElement[bool]] = [client.c.deleted_at.is_(None)]
    if searching:
        filters.append(directory.tsquery_matches(client.c.search, sa.bindparam("tsquery", type_=sa.Text)))
    cutoff = sa.bindparam("cutoff", type_=TS)
    if status == "active":
        filters.append(client.c.last_active_at >= cutoff)
    elif status == "inactive":
        filters.append(sa.or_(client.c.last_active_at.is_(None), client.c.last_active_at < cutoff))
    if by_plan:
        filters.append(client.c.plan == sa.bindparam("plan", type_=sa.Text))

    key, descending = _sort_key(sort)
    keyset = []
    if paging:
        after = [sa.bindparam("after_key", type_=key.type), sa.bindparam("after_id", type_=sa.Text)]
        keyset.append(directory.after_key([key, client.c.id], after, descending=descending))

    def ordered(*columns: sa.ColumnElement[Any]) -> list[sa.ColumnElement[Any]]:
        return [c.desc() if descending else c.asc() for c in columns]

    page = (
        sa.select(
            client.c.id,
            client.c.name,
            client.c.slug,
            client.c.plan,
            client.c.last_active_at,
            client.c.created_at,
            key.label("sort_key"),
        )
        .where(*filters, *keyset)
        .order_by(*ordered(key, client.c.id))
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .subquery("page")
    )
    product_count = (
        sa.select(sa.func.count()).select_from(product).where(product.c.client_id == page.c.id).scalar_subquery()
    )
    user_count = (
        sa.select(sa.func.count())
        .select_from(membership)
        .where(membership.c.client_id == page.c.id, membership.c.status.in_(("active", "invited")))
        .scalar_subquery()
    )
    stmt = sa.select(page, product_count.label("product_count"), user_count.label("user_count")).order_by(
        *ordered(page.c.sort_key, page.c.id)
    )
    return stmt, sa.select(sa.func.count()).select_from(client).where(*filters)


@bp.get("")
@spec.validate(query=ClientListQuery, resp=Responses(HTTP_200=ClientList, **READ_ERRORS))
def list_clients() -> ClientList:
    """Clients, searched (name or slug), filtered (status, plan), sorted and keyset-paged."""
    query = query_of(ClientListQuery)
    limit = clamp_limit(query.limit)
    at = directory.now()
    tag = f"clients:{query.sort}"
    after = directory.decode_page_cursor(query.cursor, tag)
    tsquery = directory.search_query(query.q) if query.q else None
    if query.q and tsquery is None:  # no word to search for: nothing matches
        return ClientList(items=[], next_cursor=None, total=0 if query.include_total else None, degraded=[])
    params: dict[str, Any] = {
        "limit": limit + 1,
        "tsquery": tsquery,
        "cutoff": at - directory.ACTIVE_WINDOW,
        "plan": query.plan,
    }
    if after is not None:
        params["after_key"] = after[0] if query.sort.lstrip("-") == "name" else directory.timestamp_key(after[0])
        params["after_id"] = after[1]
    stmt, count = _list_statements(
        query.sort,
        searching=tsquery is not None,
        status=query.status,
        by_plan=bool(query.plan),
        paging=after is not None,
    )
    with container().engine.connect() as conn:
        rows = conn.execute(stmt, params).all()
        total = conn.execute(count, params).scalar_one() if query.include_total else None
    more = len(rows) > limit
    rows = rows[:limit]
    degraded: list[str] = []
    balances = _balances([r[0] for r in rows], degraded)
    # Rows unpacked as tuples, in _list_statements' column order: a Row's attribute lookup by name
    # costs as much as the rest of an item.
    items = [
        ClientItem(
            id=client_id,
            name=name,
            slug=slug,
            plan=plan,
            product_count=product_count,
            user_count=user_count,
            credit_balance=balances.get(client_id),
            last_active_at=iso(last_active_at),
            status=directory.client_status(last_active_at, at),  # type: ignore[arg-type]
            created_at=created_at.isoformat(),
        )
        for client_id, name, slug, plan, last_active_at, created_at, _sort_key, product_count, user_count in rows
    ]
    cursor = directory.next_cursor(tag, [rows[-1].sort_key, rows[-1].id]) if more else None
    return ClientList(items=items, next_cursor=cursor, total=total, degraded=degraded)


@bp.post("")
@spec.validate(json=ClientCreate, resp=Responses(HTTP_201=ClientOut, **WRITE_ERRORS, HTTP_503=ErrorEnvelope))
def create_client() -> tuple[ClientOut, int]:
    """Create a client and open its credits account, together: if credits can't, nothing is created (503)."""
    body = body_of(ClientCreate)
    client_id = new_id("cli")
    slug = body.slug or directory.slugify(body.name) or f"client-{client_id[-10:]}"
    c = container()
    with c.engine.begin() as conn:
        if directory.slug_in_use(conn, slug):
            raise directory.slug_taken(slug)
        try:
            row = conn.execute(
                client.insert()
                .values(id=client_id, name=body.name, slug=slug, description=body.description, plan=body.plan)
                .returning(client)
            ).one()
        except IntegrityError as exc:
            if _is_slug_conflict(exc):
                raise directory.slug_taken(slug) from None
            raise
        events.record(conn, "client.create", client_id, new=directory.client_state(row))
        # Inside the transaction: a credits failure rolls the client back. OpenAccount is idempotent,
        # so an account left by a failed commit is harmless and reused by a retry with this id.
        c.platform.call("credits", c.platform.credits.OpenAccount, credits_pb2.OpenAccountRequest(client_id=client_id))
    return client_out(row), 201


@bp.get("/<client_id>")
@spec.validate(resp=Responses(HTTP_200=ClientDetail, **READ_ERRORS))
def get_client(client_id: str) -> ClientDetail:
    """The client with its stats, store connection and the last 10 audit entries about it."""
    c = container()
    with c.engine.connect() as conn:
        row = directory.live_client(conn, client_id)

        def count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
            return sa.select(sa.func.count()).select_from(table).where(table.c.client_id == client_id, *where).scalar_subquery()  # fmt: skip

        generations = (
            sa.select(sa.func.coalesce(sa.func.sum(collection_session.c.generation_count), 0))
            .where(collection_session.c.client_id == client_id)
            .scalar_subquery()
        )
        counts = conn.execute(
            sa.select(
                count(product).label("products"),
                count(collection_session).label("sessions"),
                generations.label("generations"),
                count(membership, membership.c.status.in_(("active", "invited"))).label("members"),
            )
        ).one()
    degraded: list[str] = []
    balance: credits_pb2.Balance | None = None
    try:
        balance = c.platform.call(
            "credits",
            c.platform.credits.GetBalance,
            credits_pb2.GetBalanceRequest(client_id=client_id),
            timeout=directory.ENRICH_DEADLINE_S,
        )
    except ApiError as exc:
        if exc.status != 404:  # no account: no balance, and nothing is wrong
            degraded.append("credits")
    activity: list[ActivityOut] = []
    try:
        entries = c.platform.call(
            "audit",
            c.platform.audit.ListEntries,
            audit_pb2.ListEntriesRequest(filter=audit_pb2.EntryFilter(entity_id=client_id), limit=RECENT_ACTIVITY),
            timeout=directory.ENRICH_DEADLINE_S,
        )
        activity = [
            ActivityOut(
                id=e.id,
                occurred_at=timestamp_iso(e.occurred_at),
                action=e.action,
                description=e.description,
                actor_type=e.actor_type,
                actor_id=e.actor_id,
                actor_role=e.actor_role or None,
                outcome=e.outcome,
                entity_type=e.entity_type,
                entity_id=e.entity_id,
            )
            for e in entries.items
        ]
    except ApiError:
        degraded.append("audit")
    generation: ClientGenerationStats | None = None
    try:
        generation = client_generation_stats(client_id, directory.ENRICH_DEADLINE_S)
    except ApiError:
        degraded.append("generation")
    return ClientDetail(
        client=client_out(row),
        stats=Stats(
            products=counts.products,
            sessions=counts.sessions,
            generations=int(counts.generations),
            members=counts.members,
            credit_balance=balance.balance if balance is not None else None,
            credits_available=balance.available if balance is not None else None,
            generation=generation,
        ),
        store_connection=store_connection_out(row.store_connection),
        recent_activity=activity,
        degraded=degraded,
    )


@bp.patch("/<client_id>")
@spec.validate(json=ClientPatch, resp=Responses(HTTP_200=ClientOut, **WRITE_ERRORS))
def update_client(client_id: str) -> ClientOut:
    """Change the name, slug, description or plan; the event holds the changed fields, before and after."""
    body = body_of(ClientPatch)
    given = body.model_dump(exclude_unset=True)
    with container().engine.begin() as conn:
        row = directory.live_client(conn, client_id, lock=True)
        previous, new = directory.changes(directory.client_state(row), given)
        if not new:
            return client_out(row)
        if "slug" in new and directory.slug_in_use(conn, new["slug"], excluding=row.id):
            raise directory.slug_taken(new["slug"])
        try:
            row = conn.execute(
                client.update().where(client.c.id == row.id).values(**new, updated_at=sa.func.now()).returning(client)
            ).one()
        except IntegrityError as exc:
            if _is_slug_conflict(exc):
                raise directory.slug_taken(new["slug"]) from None
            raise
        events.record(conn, "client.update", row.id, previous=previous, new=new)
    return client_out(row)


@bp.delete("/<client_id>")
@spec.validate(resp=Responses(HTTP_200=Deleted, **WRITE_ERRORS))
def delete_client(client_id: str) -> Deleted:
    """Soft delete: the client leaves every list; its credit history and audit trail stay.
    Its pending invitations are revoked (their links stop working); memberships stay as history."""
    with container().engine.begin() as conn:
        row = directory.live_client(conn, client_id, lock=True)
        deleted_at = conn.execute(
            client.update()
            .where(client.c.id == row.id)
            .values(deleted_at=sa.func.now(), updated_at=sa.func.now())
            .returning(client.c.deleted_at)
        ).scalar_one()
        revoked = directory.revoke_pending_invitations(conn, client_id=row.id)
        events.record(
            conn,
            "client.delete",
            row.id,
            previous=directory.client_state(row),
            new={"deleted_at": iso(deleted_at)},
            invitations_revoked=revoked,
        )
    return Deleted(id=row.id, deleted_at=deleted_at.isoformat())


@bp.get("/<client_id>/settings")
@spec.validate(resp=Responses(HTTP_200=SettingsOut, **READ_ERRORS))
def get_settings(client_id: str) -> SettingsOut:
    """AI settings, store connection and metadata."""
    with container().engine.connect() as conn:
        return settings_out(directory.live_client(conn, client_id))


@bp.patch("/<client_id>/settings")
@spec.validate(json=SettingsPatch, resp=Responses(HTTP_200=SettingsOut, **WRITE_ERRORS))
def update_settings(client_id: str) -> SettingsOut:
    """Change settings; no credentials are accepted anywhere in them (400)."""
    body = body_of(SettingsPatch)
    given = body.model_fields_set
    with container().engine.begin() as conn:
        row = directory.live_client(conn, client_id, lock=True)
        before = {"ai_settings": row.ai_settings, "store_connection": row.store_connection, "metadata": row.metadata}
        after = dict(before)
        if "ai_settings" in given:
            if body.ai_settings is None:
                after["ai_settings"] = {}
            else:
                merged = dict(row.ai_settings or {})
                for name, value in body.ai_settings.model_dump(mode="json", exclude_unset=True).items():
                    if value is None:
                        merged.pop(name, None)
                    else:
                        merged[name] = value
                after["ai_settings"] = merged
        if "store_connection" in given:
            connection = body.store_connection
            after["store_connection"] = connection.model_dump(mode="json") if connection is not None else None
        if "metadata" in given:
            after["metadata"] = body.metadata or {}
        previous, new = directory.changes(before, after)
        if not new:
            return settings_out(row)
        row = conn.execute(
            client.update().where(client.c.id == row.id).values(**new, updated_at=sa.func.now()).returning(client)
        ).one()
        events.record(conn, "client.settings_update", row.id, previous=previous, new=new)
    return settings_out(row)


def _page_of(
    table: sa.Table, client_id: str, tag: str, cursor: str, limit: int, *where: sa.ColumnElement[bool]
) -> tuple[list[directory.Row], str | None]:
    """Newest first, keyset-paged by (created_at, id), for a live client."""
    after = directory.decode_page_cursor(cursor, tag)
    keys = [table.c.created_at, table.c.id]
    conditions = [table.c.client_id == client_id, *where]
    if after is not None:
        conditions.append(directory.after_key(keys, [directory.timestamp_key(after[0]), after[1]], descending=True))
    with container().engine.connect() as conn:
        directory.live_client(conn, client_id)
        rows = conn.execute(
            sa.select(table).where(*conditions).order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)
        ).all()
    more = len(rows) > limit
    rows = list(rows[:limit])
    return rows, directory.next_cursor(tag, [rows[-1].created_at, rows[-1].id]) if more else None


@bp.get("/<client_id>/products")
@spec.validate(query=ProductQuery, resp=Responses(HTTP_200=ProductList, **READ_ERRORS))
def list_products(client_id: str) -> ProductList:
    """The client's products, newest first; filters: source, category (exact)."""
    query = query_of(ProductQuery)
    where = []
    if query.source:
        where.append(product.c.source == query.source)
    if query.category:
        where.append(product.c.category == query.category)
    rows, cursor = _page_of(product, client_id, "products", query.cursor, clamp_limit(query.limit), *where)
    return ProductList(
        items=[
            ProductItem(
                id=r.id,
                name=r.name,
                category=r.category,
                source=r.source,
                image_url=r.image_url,
                external_id=r.external_id,
                created_at=r.created_at.isoformat(),
                updated_at=r.updated_at.isoformat(),
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


@bp.get("/<client_id>/sessions")
@spec.validate(query=SessionQuery, resp=Responses(HTTP_200=SessionList, **READ_ERRORS))
def list_sessions(client_id: str) -> SessionList:
    """The client's collection sessions, newest first; filter: status."""
    query = query_of(SessionQuery)
    where = [collection_session.c.status == query.status] if query.status else []
    rows, cursor = _page_of(collection_session, client_id, "sessions", query.cursor, clamp_limit(query.limit), *where)
    return SessionList(
        items=[
            SessionItem(
                id=r.id,
                name=r.name,
                status=r.status,
                product_count=r.product_count,
                generation_count=r.generation_count,
                created_at=r.created_at.isoformat(),
                updated_at=r.updated_at.isoformat(),
            )
            for r in rows
        ],
        next_cursor=cursor,
    )
