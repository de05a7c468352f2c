"""The gateway's Flask app: sessions, the permission table, CSRF, client identity and idempotency.

Order of checks for every request: the route must be in the permission table (else 403 for
everyone); a non-public route needs a live session (401); the admin's role must be allowed (403,
audited); a mutation needs the session's CSRF token in `X-CSRF-Token` (403). Only then does the
handler run, with the acting admin bound to the request context, from where it reaches the
services in signed gRPC metadata and the audit events. Headers a browser sends never carry
identity further.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert

from admin_api.adapters.tables import idempotency_record
from admin_api.api.spec import CSRF_HEADER, SESSION_COOKIE, spec
from admin_api.bootstrap import SERVICE_NAME, Container
from admin_api.permissions import OPERATIONAL, PUBLIC, allowed
from admin_api.service_layer import events
from scenergy.common import context
from scenergy.common.db import ping
from scenergy.common.http import error_response, init_app
from scenergy.common.identity import Actor, ActorType, Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


def container() -> Container:
    return current_app.extensions["scenergy"]  # type: ignore[no-any-return]


def client_ip(trusted_proxies: int) -> str | None:
    """The caller's address: the peer, or with N trusted proxies the address the outermost one saw.
    None when there is no usable address (never a made-up one)."""
    chain = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    chain.append(request.remote_addr or "")
    if not trusted_proxies:
        candidate = chain[-1]
    else:  # each trusted proxy appended the address it saw; fewer hops than proxies: the first one
        candidate = chain[-(trusted_proxies + 1)] if len(chain) > trusted_proxies else chain[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def current_actor() -> Actor:
    actor = context.current_actor()
    assert actor is not None, "only routes behind a session have an actor"
    return actor


def _authenticate() -> Response | None:
    c = container()
    g.client_ip = client_ip(c.settings.trusted_proxies)
    g.user_agent = (request.headers.get("User-Agent") or "")[:500] or None
    if request.url_rule is None:
        return None  # 404/405 are answered by Flask
    rule = request.url_rule.rule
    if rule in OPERATIONAL:
        return None
    roles = allowed(request.method, rule)
    if roles is None:
        return error_response(403, "forbidden", "This route is not open to any role.")
    if roles is PUBLIC:
        return None
    session = c.sessions.load(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        return error_response(401, "unauthenticated", "Sign in first.")
    g.session = session
    actor = Actor(ActorType.ADMIN, session.admin_id, Role(session.role), g.client_ip, g.user_agent)
    g.actor_context = context.bound(request_id=context.current_request_id(), actor=actor)
    g.actor_context.__enter__()
    if Role(session.role) not in roles:
        _record_forbidden(c, actor, "role")
        return error_response(403, "forbidden", f"The {session.role} role may not do this.")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, session.csrf_token):
            _record_forbidden(c, actor, "csrf")
            return error_response(403, "csrf_failed", f"Mutations need the {CSRF_HEADER} header of this session.")
        return _claim_idempotency_key(c, session.admin_id)
    return None


def _record_forbidden(c: Container, actor: Actor, why: str) -> None:
    with c.engine.begin() as conn:
        events.record(
            conn,
            "auth.forbidden",
            actor.id,
            actor=actor,
            error_code="forbidden" if why == "role" else "csrf_failed",
            method=request.method,
            path=request.path,
        )


def _claim_idempotency_key(c: Container, admin_id: str) -> Response | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= 200 or not key.isprintable():
        return error_response(
            400, "invalid_idempotency_key", f"{IDEMPOTENCY_HEADER} must be 1-200 printable characters."
        )
    digest = hashlib.sha256(
        b"\n".join([request.method.encode(), request.path.encode(), request.get_data()])
    ).hexdigest()
    t = idempotency_record.c
    with c.engine.begin() as conn:
        claimed = conn.execute(
            pg_insert(idempotency_record)
            .values(admin_id=admin_id, key=key, method=request.method, path=request.path, request_hash=digest)
            .on_conflict_do_nothing()
            .returning(t.key)
        ).first()
        if claimed is not None:
            g.idempotency = (admin_id, key)
            return None
        row = conn.execute(
            sa.select(t.request_hash, t.status, t.body).where(t.admin_id == admin_id, t.key == key)
        ).one()
    if row.request_hash != digest:
        return error_response(409, "idempotency_key_reused", "This Idempotency-Key was used for another request.")
    if row.status is None:
        return error_response(
            409, "request_in_progress", "The first request with this Idempotency-Key is still running."
        )
    replay = Response(row.body, status=row.status, mimetype="application/json")
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def replay_with(body: bytes) -> None:
    """Store `body` for replays of this request's Idempotency-Key instead of the response itself: for
    an answer carrying a one-time secret (an invitation link) that must exist nowhere else."""
    g.idempotency_replay_body = body


def _finish_idempotency(response: Response) -> Response:
    claim = g.pop("idempotency", None)
    replay_body = g.pop("idempotency_replay_body", None)
    if claim is None:
        return response
    t = idempotency_record.c
    where = (t.admin_id == claim[0], t.key == claim[1])
    with container().engine.begin() as conn:
        if response.status_code >= 500 or response.is_streamed:
            conn.execute(idempotency_record.delete().where(*where))  # let a retry run it again
        else:
            body = replay_body if replay_body is not None else response.get_data()
            conn.execute(idempotency_record.update().where(*where).values(status=response.status_code, body=body))
    return response


def _release_actor(_exc: BaseException | None) -> None:
    bound = g.pop("actor_context", None)
    if bound is not None:
        bound.__exit__(None, None, None)
    claim = g.pop("idempotency", None)
    if claim is not None:  # the handler raised before a response: free the key for a retry
        t = idempotency_record.c
        with container().engine.begin() as conn:
            conn.execute(idempotency_record.delete().where(t.admin_id == claim[0], t.key == claim[1]))


def _with_security(generated: dict[str, Any]) -> dict[str, Any]:
    """Reads need the session cookie; mutations the cookie and the CSRF header; sign-in neither."""
    document = copy.deepcopy(generated)
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            needs: dict[str, list[str]] = {"session": []} if method in ("get", "head") else {"session": [], "csrf": []}
            operation["security"] = [needs]
    return document


def create_app(c: Container, blueprints: list[Blueprint] | None = None) -> Flask:
    from admin_api.api import routes

    app = Flask("admin_api")
    app.extensions["scenergy"] = c
    app.config["MAX_CONTENT_LENGTH"] = 1 * 1024 * 1024
    init_app(app, service=SERVICE_NAME, readiness={"database": lambda: ping(c.engine)})
    app.before_request(_authenticate)
    app.after_request(_finish_idempotency)
    app.teardown_request(_release_actor)
    for blueprint in blueprints or routes.BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError) -> Response:
        """A body spectree let through (e.g. `[]` for a model whose fields are all optional)."""
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return error_response(400, "invalid_request", "The request is not valid.", {"fields": fields})

    document = None

    @app.get("/api/admin/openapi.json")
    def openapi() -> Any:
        nonlocal document
        if document is None:
            document = _with_security(spec.spec)
        return jsonify(document)

    spec.app = app  # the document is built from this app's routes
    return app
