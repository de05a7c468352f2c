"""The OpenAPI document and request validation, from the pydantic models the routes declare.

Routes are decorated with `spec.validate(json=…, query=…, resp=…)`; a body or query string that
doesn't match answers 400 with the field errors in the platform's error envelope, before the
handler runs, so bad input changes nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import InType, SecureType

from scenergy.common.http import ApiError
from scenergy.common.pagination import DEFAULT_LIMIT, MAX_LIMIT

SESSION_COOKIE = "scenergy_session"
CSRF_HEADER = "X-CSRF-Token"


def _reject_invalid(req: Any, resp: Any, error: Exception | None, instance: Any, *_: Any) -> None:
    if error is None:
        return
    fields = []
    for item in getattr(error, "errors", lambda: [])():
        fields.append({"field": ".".join(str(p) for p in item.get("loc", ())), "message": item.get("msg", "")})
    raise ApiError(400, "invalid_request", "The request is not valid.", {"fields": fields})


spec = SpecTree(
    "flask",
    title="Scenergy Admin API",
    version="1.0.0",
    path="api/admin/docs",
    validation_error_status=400,
    mode="strict",  # only routes that declare their models: not /healthz, /readyz, /metrics
    before=_reject_invalid,
    security_schemes=[
        SecurityScheme(
            name="session",
            data=SecuritySchemeData(type=SecureType.API_KEY, name=SESSION_COOKIE, field_in=InType.COOKIE),
        ),
        SecurityScheme(
            name="csrf", data=SecuritySchemeData(type=SecureType.API_KEY, name=CSRF_HEADER, field_in=InType.HEADER)
        ),
    ],
    security={"session": [], "csrf": []},
)


def _unstorable(value: Any) -> bool:
    """Text PostgreSQL can't store (NUL) or UTF-8 can't encode (a lone surrogate), at any depth."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


class Model(BaseModel):
    """Request bodies and query strings: unknown fields refused (a typo is an error, not a silent
    no-op), and text that could never be stored refused up front rather than failing in the database."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        if _unstorable(data):
            raise ValueError("text must not contain NUL characters or unpaired surrogates")
        return data


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Out):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(Out):
    error: ErrorBody
    request_id: str | None = None


READ_ERRORS: dict[str, type[BaseModel]] = {
    "HTTP_400": ErrorEnvelope,
    "HTTP_401": ErrorEnvelope,
    "HTTP_404": ErrorEnvelope,
}
WRITE_ERRORS: dict[str, type[BaseModel]] = {**READ_ERRORS, "HTTP_403": ErrorEnvelope, "HTTP_409": ErrorEnvelope}

M = TypeVar("M", bound=BaseModel)


def invalid_request(exc: ValidationError) -> ApiError:
    fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]
    return ApiError(400, "invalid_request", "The request is not valid.", {"fields": fields})


def parse(model: type[M], data: Any) -> M:
    """Validate like spec.validate does, for the handler's typed copy; 400 with field errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from None


def query_of(model: type[M]) -> M:
    return parse(model, request.args.to_dict())


def body_of(model: type[M]) -> M:
    """The JSON body as `model`; an empty body is `{}` (a PATCH that changes nothing). Anything but a
    JSON object is a 400: spectree checks `get_json() or {}`, which lets `[]` or `0` through."""
    if not request.get_data().strip():
        return parse(model, {})
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_request",
            "The body must be a JSON object.",
            {"fields": [{"field": "", "message": "the body must be a JSON object"}]},
        )
    return parse(model, data)


class Page(Model):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str = Field("", max_length=1000)


class NoNulls(Model):
    """A PATCH body: a field left out is unchanged; null is not a value for these fields."""

    @model_validator(mode="after")
    def _no_nulls(self) -> NoNulls:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"{', '.join(sorted(nulls))} may not be null")
        return self
