"""A local stand-in for the Stripe API (the v1 objects the payments service uses) and webhook signing, for tests.

The real `stripe` library is pointed at it and talks to it as to api.stripe.com:

    with StripeWireServer() as server:
        session = server.add_checkout_session("user-1", "pack_100", 1500)
        client = stripe.StripeClient(server.api_key, base_addresses={"api": server.base_url})
        client.v1.refunds.create(params={"charge": session_charge_id, "amount": 500})

Requests come form-encoded (`metadata[k]=v`, `expand[0]=…`, `created[gte]=…`) with a bearer key, an
`Idempotency-Key` on every POST and a `Stripe-Version`; answers are Stripe's JSON objects, `{"object": "list", …}`
pages (newest first) and Stripe's error envelope, so the library raises the same exceptions as against Stripe.
Tests create state directly (`add_checkout_session`, `add_refund`, `add_dispute`, …), build events with `event()`,
and sign webhook bodies with `sign_webhook`: plain hmac, independent of the library, so verification code is tested
against a second implementation of Stripe's scheme.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

API_VERSION = "2026-10-28.endive"  # what stripe 16.1.0 sends as Stripe-Version; events carry it as api_version
_BASE62 = string.ascii_letters + string.digits
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "xaf"})
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}
# Which id-valued fields `expand[]` may replace by the object. `refunds` is the charge's includable list: since API
# version 2022-11-15 Stripe returns a charge's refunds only when expanded, so this server does the same.
_EXPANDABLE: dict[str, frozenset[str]] = {
    "checkout.session": frozenset({"customer", "payment_intent"}),
    "payment_intent": frozenset({"customer", "latest_charge"}),
    "charge": frozenset({"customer", "payment_intent", "refunds"}),
    "refund": frozenset({"charge", "payment_intent"}),
    "dispute": frozenset({"charge", "payment_intent"}),
}
# What Stripe answers for the statuses `fail_next` injects below 500 (the library picks its exception by status).
_FAULTS: dict[int, tuple[str, str | None, str]] = {
    402: ("card_error", "card_declined", "Your card was declined."),
    409: (
        "invalid_request_error",
        "lock_timeout",
        "This object cannot be accessed right now because another API request or Stripe process is currently "
        "accessing it.",
    ),
    429: (
        "invalid_request_error",
        "rate_limit",
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    ),
}
_LIST_PARAMS = frozenset({"limit", "starting_after", "ending_before", "created", "expand"})
_REFUND_PARAMS = frozenset(
    {"charge", "payment_intent", "amount", "reason", "metadata", "expand", "instructions_email", "origin"}
    | {"refund_application_fee", "reverse_transfer"}
)


# --- webhooks ------------------------------------------------------------------------------------------------------


def sign_webhook(payload: bytes | str, secret: str, *, timestamp: int | None = None, scheme: str = "v1") -> str:
    """The `Stripe-Signature` header for `payload`: `t=<unix>,v1=<hex hmac-sha256 of "<t>.<payload>">`.

    Computed here with hmac, not by the stripe library, so tests of our verification don't check the library
    against itself. `scheme="v0"` (or anything but v1) makes a header Stripe's verifiers must refuse.
    """
    body = payload.encode() if isinstance(payload, str) else payload
    signed_at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={signed_at},{scheme}={digest}"


def webhook_body(event: Mapping[str, Any], *, indent: int | None = None) -> bytes:
    """The bytes of a webhook delivery: compact JSON (Stripe itself indents; the signature covers the exact bytes)."""
    separators = (",", ":") if indent is None else None
    return json.dumps(event, indent=indent, separators=separators, ensure_ascii=False).encode()


# --- errors and recorded requests ----------------------------------------------------------------------------------


class StripeWireError(Exception):
    """An answer in Stripe's error envelope `{"error": {"type", "code", "message", "param"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def _missing(kind: str, object_id: str, param: str, status: int = 404) -> StripeWireError:
    return StripeWireError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as received, recorded before auth and fault injection, so tests count every attempt."""

    method: str
    path: str  # without the query string
    params: dict[str, Any]  # query and form body decoded: {"metadata": {"k": "v"}, "expand": ["a"], …}
    headers: Mapping[str, str]  # names lower-cased
    request_id: str  # the Request-Id answered

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int | None
    should_retry: bool | None

    def error(self) -> StripeWireError:
        headers: list[tuple[str, str]] = []
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        if self.should_retry is not None:  # the library obeys this header over its own status rules
            headers.append(("Stripe-Should-Retry", "true" if self.should_retry else "false"))
        kind, code, message = _FAULTS.get(
            self.status, ("invalid_request_error", None, f"Injected failure ({self.status}).")
        )
        if self.status >= 500:
            kind, code, message = "api_error", None, "An unknown error occurred"
        return StripeWireError(self.status, message, type=kind, code=code, headers=tuple(headers))


@dataclass
class _Saved:
    """A POST's first successful answer, replayed for the same Idempotency-Key."""

    fingerprint: tuple[str, str, str]
    reply: _Reply
    request_id: str


# --- the store -----------------------------------------------------------------------------------------------------


class StripeStore:
    """Stripe's objects by id, under one lock; the helpers create linked state the way Stripe would have."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[str, dict[str, Any]] = {}
        self._seq: dict[str, int] = {}  # insertion order, the tie-break of equal `created`
        self._refunds_of: dict[str, list[str]] = {}  # charge id -> refund ids

    # --- helpers for tests (no HTTP) ---

    def add_customer(
        self,
        email: str | None = None,
        name: str | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        customer = {
            "id": _new_id("cus_", 14),
            "object": "customer",
            "balance": 0,
            "created": _now(created),
            "currency": None,
            "delinquent": False,
            "description": None,
            "email": email,
            "livemode": False,
            "metadata": dict(metadata or {}),
            "name": name,
            "phone": None,
            "preferred_locales": [],
            "tax_exempt": "none",
        }
        return self._put(customer)

    def add_checkout_session(
        self,
        client_reference_id: str | None,
        credit_pack: str,
        amount_total: int,
        currency: str = "usd",
        customer: str | None = None,
        payment_status: str = "paid",
        mode: str = "payment",
        status: str = "complete",
        created: int | None = None,
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Checkout Session with `metadata.credit_pack`; a complete one also gets its PaymentIntent and Charge.

        An open or expired session has no PaymentIntent yet (`payment_intent` is null), as in Stripe's current API
        versions. An unpaid complete session (a delayed payment method) has a processing intent and a pending charge.
        """
        with self.lock:
            at = _now(created)
            customer_record = self._objects.get(customer) if customer else None
            intent_id: str | None = None
            if status == "complete":
                paid = payment_status in ("paid", "no_payment_required")
                intent_id = _new_id("pi_")
                charge = self._put(
                    {
                        "id": _new_id("ch_"),
                        "object": "charge",
                        "amount": amount_total,
                        "amount_captured": amount_total if paid else 0,
                        "amount_refunded": 0,
                        "balance_transaction": None,
                        "captured": paid,
                        "created": at,
                        "currency": currency,
                        "customer": customer,
                        "disputed": False,
                        "failure_code": None,
                        "failure_message": None,
                        "livemode": False,
                        "metadata": {},
                        "paid": paid,
                        "payment_intent": intent_id,
                        "refunded": False,
                        "status": "succeeded" if paid else "pending",
                    }
                )
                self._put(
                    {
                        "id": intent_id,
                        "object": "payment_intent",
                        "amount": amount_total,
                        "amount_received": amount_total if paid else 0,
                        "capture_method": "automatic_async",
                        "created": at,
                        "currency": currency,
                        "customer": customer,
                        "latest_charge": charge["id"],
                        "livemode": False,
                        "metadata": {},
                        "payment_method_types": ["card"],
                        "status": "succeeded" if paid else "processing",
                    }
                )
            details = None
            if customer_record is not None:
                details = {"email": customer_record["email"], "name": customer_record["name"], "phone": None}
            session = {
                "id": _new_id("cs_test_", 58),
                "object": "checkout.session",
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "client_reference_id": client_reference_id,
                "created": at,
                "currency": currency,
                "customer": customer,
                "customer_details": details,
                "expires_at": at + 86400,
                "livemode": False,
                "metadata": {"credit_pack": credit_pack, **(metadata or {})},
                "mode": mode,
                "payment_intent": intent_id,
                "payment_method_types": ["card"],
                "payment_status": payment_status if status == "complete" else "unpaid",
                "status": status,
                "ui_mode": "hosted",
                "url": None,
            }
            return self._put(session)

    def add_refund(
        self,
        charge_id: str,
        amount: int,
        status: str = "succeeded",
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        """A refund of the charge, updating its `amount_refunded` and `refunded` (failed or canceled ones don't count)."""
        with self.lock:
            charge = self._get("charge", charge_id, "charge")
            counts = status not in ("failed", "canceled")
            if counts and amount > charge["amount"] - charge["amount_refunded"]:
                raise ValueError(f"refund of {amount} exceeds what remains on {charge_id}")
            return self._refund(charge, amount, status=status, reason=reason, metadata=metadata, created=created)

    def add_dispute(
        self,
        charge_id: str,
        amount: int,
        reason: str = "fraudulent",
        *,
        status: str = "needs_response",
        created: int | None = None,
    ) -> dict[str, Any]:
        """A dispute (chargeback) on the charge, which becomes `disputed`; Stripe then refuses refunds of it."""
        with self.lock:
            charge = self._get("charge", charge_id, "charge")
            charge["disputed"] = True
            dispute = {
                "id": _new_id("dp_"),
                "object": "dispute",
                "amount": amount,
                "balance_transactions": [],
                "charge": charge_id,
                "created": _now(created),
                "currency": charge["currency"],
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": status,
            }
            return self._put(dispute)

    def event(
        self,
        type: str,
        obj: Mapping[str, Any],
        *,
        created: int | None = None,
        livemode: bool = False,
        previous_attributes: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A Stripe Event around a snapshot of `obj`, also listed by `GET /v1/events` (reconciliation reads those)."""
        data: dict[str, Any] = {"object": copy.deepcopy(dict(obj))}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(dict(previous_attributes))
        envelope = {
            "id": _new_id("evt_"),
            "object": "event",
            "api_version": API_VERSION,
            "created": _now(created),
            "data": data,
            "livemode": livemode,
            "pending_webhooks": 1,
            "request": {"id": _new_id("req_", 14) if idempotency_key else None, "idempotency_key": idempotency_key},
            "type": type,
        }
        return self._put(envelope)

    def get(self, object_id: str, *, expand: Iterable[str] = ()) -> dict[str, Any]:
        """The object as the API would answer it now (e.g. a charge after refunds, for a `charge.refunded` event)."""
        with self.lock:
            if object_id not in self._objects:
                raise KeyError(object_id)
            return self._render(self._objects[object_id], list(expand))

    # --- API operations (called under the lock) ---

    def _create_refund(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v1/refunds with Stripe's checks: one target, a positive amount within what remains, no dispute."""
        charge_id, intent_id = params.get("charge"), params.get("payment_intent")
        if not charge_id and not intent_id:
            raise StripeWireError(
                400, "One of the following params should be provided for this request: charge or payment_intent."
            )
        if intent_id:
            intent = self._get("payment_intent", intent_id, "payment_intent", status=400)
            if intent["latest_charge"] is None or intent["status"] not in ("succeeded", "processing"):
                message = f"This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                raise StripeWireError(400, message, code="charge_not_refundable", param="payment_intent")
            if charge_id and charge_id != intent["latest_charge"]:
                message = f"The charge {charge_id} does not belong to the PaymentIntent {intent_id}."
                raise StripeWireError(400, message, param="charge")
            charge_id = intent["latest_charge"]
        charge = self._get("charge", charge_id, "charge", status=400)
        remaining = charge["amount"] - charge["amount_refunded"]
        if charge["disputed"]:
            message = f"Charge {charge_id} has been charged back; cannot issue a refund."
            raise StripeWireError(400, message, code="charge_disputed")
        if remaining <= 0:
            message = f"Charge {charge_id} has already been refunded."
            raise StripeWireError(400, message, code="charge_already_refunded")
        amount = _integer(params, "amount", default=remaining)
        if amount < 1:
            raise StripeWireError(400, "Invalid positive integer", param="amount")
        if amount > remaining:
            message = (
                f"Refund amount ({_money(amount, charge['currency'])}) is greater than unrefunded amount on charge "
                f"({_money(remaining, charge['currency'])})"
            )
            raise StripeWireError(400, message, code="amount_too_large", param="amount")
        reason = params.get("reason")
        if reason is not None and reason not in _REFUND_REASONS:
            raise StripeWireError(
                400, "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", param="reason"
            )
        metadata = params.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise StripeWireError(400, "Invalid object", param="metadata")
        return self._refund(charge, amount, status="succeeded", reason=reason, metadata=metadata)

    def _retrieve(self, kind: str, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._render(self._get(kind, object_id, "id"), _expand(params))

    def _page(self, kind: str, params: Mapping[str, Any], filters: Iterable[str], url: str) -> dict[str, Any]:
        """A page, newest first, of the objects of `kind` matching the filters and `created[gt|gte|lt|lte]`."""
        limit = _integer(params, "limit", default=10)
        if not 1 <= limit <= 100:
            raise StripeWireError(400, "This value must be between 1 and 100.", param="limit")
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise StripeWireError(400, "You may only specify one of these parameters: ending_before, starting_after.")
        created = _created_test(params)
        matches = [obj for obj in self._objects.values() if obj["object"] == kind and created(int(obj["created"]))]
        for name in filters:
            if name in params:
                matches = [obj for obj in matches if _filter_ok(obj, name, params[name])]
        matches.sort(key=self._position, reverse=True)
        if after:
            cursor = self._position(self._get(kind, after, "starting_after", status=400))
            items = [obj for obj in matches if self._position(obj) < cursor]
            has_more, items = len(items) > limit, items[:limit]
        elif before:
            cursor = self._position(self._get(kind, before, "ending_before", status=400))
            items = [obj for obj in matches if self._position(obj) > cursor]
            has_more, items = len(items) > limit, items[-limit:]  # the `limit` newer objects nearest the cursor
        else:
            has_more, items = len(matches) > limit, matches[:limit]
        item_expand = []
        for path in _expand(params):
            if not path.startswith("data."):
                raise StripeWireError(400, f"This property cannot be expanded ({path}).", param="expand")
            item_expand.append(path.removeprefix("data."))
        return {
            "object": "list",
            "data": [self._render(obj, item_expand) for obj in items],
            "has_more": has_more,
            "url": url,
        }

    # --- internals ---

    def _put(self, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._seq.setdefault(obj["id"], len(self._seq))
            self._objects[obj["id"]] = obj
            return copy.deepcopy(obj)

    def _get(self, kind: str, object_id: Any, param: str, *, status: int = 404) -> dict[str, Any]:
        obj = self._objects.get(object_id) if isinstance(object_id, str) else None
        if obj is None or obj["object"] != kind:
            raise _missing(kind, str(object_id), param, status)
        return obj

    def _position(self, obj: Mapping[str, Any]) -> tuple[int, int]:
        return int(obj["created"]), self._seq[obj["id"]]

    def _refund(
        self,
        charge: dict[str, Any],
        amount: int,
        *,
        status: str,
        reason: str | None,
        metadata: Mapping[str, str] | None,
        created: int | None = None,
    ) -> dict[str, Any]:
        refund = {
            "id": _new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": _now(created),
            "currency": charge["currency"],
            "metadata": dict(metadata or {}),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": status,
        }
        if status not in ("failed", "canceled"):
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self._refunds_of.setdefault(charge["id"], []).append(refund["id"])
        return self._put(refund)

    def _render(self, obj: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
        """A copy of `obj` with the `expand[]` paths (dotted, e.g. `payment_intent.latest_charge`) replaced by objects."""
        out = copy.deepcopy(dict(obj))
        nested: dict[str, list[str]] = {}
        for path in paths:
            head, _, rest = path.partition(".")
            nested.setdefault(head, [])
            if rest:
                nested[head].append(rest)
        for head, rests in nested.items():
            if head not in _EXPANDABLE.get(str(obj["object"]), frozenset()):
                raise StripeWireError(400, f"This property cannot be expanded ({head}).", param="expand")
            if head == "refunds":
                refunds = [self._objects[refund_id] for refund_id in self._refunds_of.get(obj["id"], [])]
                refunds.sort(key=self._position, reverse=True)
                out["refunds"] = {
                    "object": "list",
                    "data": [self._render(refund, rests) for refund in refunds],
                    "has_more": False,
                    "total_count": len(refunds),
                    "url": f"/v1/charges/{obj['id']}/refunds",
                }
            elif isinstance(out.get(head), str) and out[head] in self._objects:
                out[head] = self._render(self._objects[out[head]], rests)
        return out


# --- routes --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    action: Literal["list", "retrieve", "create_refund"]
    kind: str
    filters: tuple[str, ...] = ()

    def allowed(self) -> frozenset[str]:
        if self.action == "list":
            return _LIST_PARAMS | set(self.filters)
        return _REFUND_PARAMS if self.action == "create_refund" else frozenset({"expand"})


def _routes(collection: str, kind: str, filters: tuple[str, ...]) -> tuple[_Route, _Route]:
    return (
        _Route("GET", re.compile(f"^/v1/{collection}$"), "list", kind, filters),
        _Route("GET", re.compile(f"^/v1/{collection}/(?P<id>[^/]+)$"), "retrieve", kind),
    )


_ROUTES: tuple[_Route, ...] = (
    *_routes("checkout/sessions", "checkout.session", ("customer", "payment_intent", "status")),
    *_routes("payment_intents", "payment_intent", ("customer",)),
    *_routes("charges", "charge", ("customer", "payment_intent")),
    _Route("POST", re.compile("^/v1/refunds$"), "create_refund", "refund"),
    *_routes("refunds", "refund", ("charge", "payment_intent")),
    *_routes("customers", "customer", ("email",)),
    *_routes("disputes", "dispute", ("charge", "payment_intent")),
    *_routes("events", "event", ("type", "types")),
)


# --- the server ----------------------------------------------------------------------------------------------------


class StripeWireServer(StripeStore):
    """The store behind an HTTP front on a background thread (one thread per connection).

    `fail_next` queues Stripe-shaped failures for the next requests; `requests` records every request received.
    """

    api_key = "sk_test_wire"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self._faults: deque[_Fault] = deque()
        self._idempotency: dict[str, _Saved] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the Stripe wire server is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> StripeWireServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.port), _Handler, self._dispatch)  # bound here: errors surface now
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-wire", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StripeWireServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def fail_next(
        self,
        status: int = 500,
        count: int = 1,
        *,
        retry_after: int | None = None,
        should_retry: bool | None = None,
    ) -> None:
        """Answer the next `count` API requests with Stripe's error for `status` (500 `api_error`, 429 `rate_limit`, …).

        `should_retry` sends `Stripe-Should-Retry`, which the library obeys: by its own rules it retries 409 and 5xx
        (up to `max_network_retries`) but not 429.
        """
        with self.lock:
            self._faults.extend(_Fault(status, retry_after, should_retry) for _ in range(count))

    # --- called by the handler threads ---

    def _dispatch(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> _Reply:
        url = urlsplit(target)
        pairs = parse_qsl(url.query, keep_blank_values=True)
        if raw and "json" not in headers.get("content-type", ""):
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        params = decode_form(pairs)
        with self.lock:
            request_id = _new_id("req_", 14)
            self.requests.append(RecordedRequest(method, url.path, params, headers, request_id))
            common = (("Request-Id", request_id), ("Stripe-Version", headers.get("stripe-version") or API_VERSION))
            try:
                reply = self._answer(method, url.path, params, headers, request_id)
            except StripeWireError as error:
                reply = _Reply(error.status, error.body(), error.headers)
            return _Reply(reply.status, reply.body, common + reply.headers)

    def _answer(
        self, method: str, path: str, params: dict[str, Any], headers: Mapping[str, str], request_id: str
    ) -> _Reply:
        if self._faults:
            raise self._faults.popleft().error()
        self._authenticate(headers.get("authorization", ""))
        route, object_id = _match(method, path)
        for name in params:
            if name not in route.allowed():
                raise StripeWireError(400, f"Received unknown parameter: {name}", param=name)
        if route.action == "list":
            return _Reply(200, self._page(route.kind, params, route.filters, path))
        if route.action == "retrieve":
            return _Reply(200, self._retrieve(route.kind, object_id, params))
        return self._idempotent(method, path, params, headers.get("idempotency-key"), request_id)

    def _idempotent(self, method: str, path: str, params: dict[str, Any], key: str | None, request_id: str) -> _Reply:
        """Stripe's idempotency: a key's first success is replayed for the same params, refused for other params."""
        fingerprint = (method, path, json.dumps(params, sort_keys=True))
        if key is not None:
            if len(key) > 255:
                raise StripeWireError(400, "Idempotency keys are limited to 255 characters.", param="idempotency_key")
            saved = self._idempotency.get(key)
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    message = (
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request."
                    )
                    raise StripeWireError(400, message, type="idempotency_error")
                replay = (("Idempotent-Replayed", "true"), ("Original-Request", saved.request_id))
                return _Reply(saved.reply.status, saved.reply.body, saved.reply.headers + replay)
        refund = self._create_refund(params)
        reply = _Reply(200, self._render(refund, _expand(params)))
        if key is not None:
            reply = _Reply(200, reply.body, (("Idempotency-Key", key),))
            self._idempotency[key] = _Saved(fingerprint, reply, request_id)
        return reply

    def _authenticate(self, authorization: str) -> None:
        scheme, _, credentials = authorization.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":  # curl -u sk_test_…: the key is the user name
            key = base64.b64decode(credentials + "==").decode("utf-8", "replace").partition(":")[0]
        challenge = (("WWW-Authenticate", 'Basic realm="Stripe"'),)
        if not key:
            message = (
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
            )
            raise StripeWireError(401, message, headers=challenge)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else key[:3] + "***"
            raise StripeWireError(401, f"Invalid API Key provided: {masked}", headers=challenge)


def _match(method: str, path: str) -> tuple[_Route, str]:
    for route in _ROUTES:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict().get("id") or ""
    message = f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
    raise StripeWireError(404, message, code="resource_missing")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        dispatch: Callable[[str, str, Mapping[str, str], bytes], _Reply],
    ) -> None:
        self.dispatch = dispatch
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up are expected (retries, timeouts); don't print their broken pipes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the library's requests session expects
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests would drown in access logs."""

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.dispatch(self.command, self.path, headers, raw)
        body = json.dumps(reply.body, indent=2).encode()  # Stripe answers indented JSON
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up while we were answering
            self.close_connection = True


# --- wire helpers --------------------------------------------------------------------------------------------------


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding to nested values: `a[b]=1` → {"a": {"b": "1"}}; `a[]=x` and `a[0]=x` → {"a": ["x"]}."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        segments = [head, *re.findall(r"\[([^\]]*)\]", key[len(head) :])]
        node = root
        for depth, segment in enumerate(segments):
            name = segment if segment != "" else str(len(node))  # `[]` appends
            if depth == len(segments) - 1:
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):  # `a=1&a[b]=2`: the later, nested form wins
                    child = node[name] = {}
                node = child
    return _listify(root, parent="")


def _listify(node: Any, parent: str) -> Any:
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value, key) for key, value in node.items()}
    if parent != "metadata" and items and set(items) == {str(i) for i in range(len(items))}:
        return [items[str(i)] for i in range(len(items))]
    return items


def _expand(params: Mapping[str, Any]) -> list[str]:
    value = params.get("expand") or []
    return [value] if isinstance(value, str) else [str(path) for path in value]


def _integer(params: Mapping[str, Any], name: str, *, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeWireError(400, f"Invalid integer: {value}", param=name) from None


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda created, bound: created > bound,
    "gte": lambda created, bound: created >= bound,
    "lt": lambda created, bound: created < bound,
    "lte": lambda created, bound: created <= bound,
}


def _created_test(params: Mapping[str, Any]) -> Callable[[int], bool]:
    """`created=<t>` or `created[gt|gte|lt|lte]=<t>` as a predicate; unknown operators are refused, as by Stripe."""
    bounds = params.get("created")
    if bounds is None:
        return lambda _created: True
    if not isinstance(bounds, dict):
        exact = _integer(params, "created", default=0)
        return lambda created: created == exact
    tests: list[tuple[Callable[[int, int], bool], int]] = []
    for op, value in bounds.items():
        if op not in _COMPARE:
            raise StripeWireError(400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]")
        tests.append((_COMPARE[op], _integer({f"created[{op}]": value}, f"created[{op}]", default=0)))
    return lambda created: all(compare(created, bound) for compare, bound in tests)


def _filter_ok(obj: Mapping[str, Any], name: str, value: Any) -> bool:
    if name == "type":  # `charge.*` groups events
        return fnmatch.fnmatchcase(str(obj["type"]), str(value))
    if name == "types":
        return obj["type"] in (value if isinstance(value, list) else [value])
    return obj.get(name) == value


def _money(amount: int, currency: str) -> str:
    major = str(amount) if currency in _ZERO_DECIMAL else f"{amount / 100:.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


def _new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


def _now(created: int | None) -> int:
    return int(time.time()) if created is None else int(created)


__all__ = [
    "API_VERSION",
    "RecordedRequest",
    "StripeStore",
    "StripeWireError",
    "StripeWireServer",
    "decode_form",
    "sign_webhook",
    "webhook_body",
]
