"""Platform settings: every role reads them, a super admin changes them (a partial object)."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from spectree import Response as Responses

from admin_api.api.spec import ErrorEnvelope, Model, Out, body_of, invalid_request, spec
from admin_api.service_layer import settings as platform
from admin_api.service_layer.settings import (
    CONFIG,
    ConcurrentJobs,
    Count,
    Domains,
    Email,
    ModelName,
    PlatformSettings,
    TimeoutSeconds,
)
from admin_api.web import container, current_actor

bp = Blueprint("platform_settings", __name__)

ERRORS = {"HTTP_400": ErrorEnvelope, "HTTP_401": ErrorEnvelope, "HTTP_403": ErrorEnvelope}


def _partial_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """In the OpenAPI document, a partial body's fields are optional but not nullable (but NULLABLE's)."""
    nullable: frozenset[str] = getattr(model, "NULLABLE", frozenset())
    for name, prop in schema.get("properties", {}).items():
        prop.pop("default", None)
        if name in nullable or "anyOf" not in prop:
            continue
        variants = [v for v in prop.pop("anyOf") if v != {"type": "null"}]
        if len(variants) == 1:
            prop.update(variants[0])
        else:
            prop["anyOf"] = variants


class Partial(Model):
    """A partial update: a field left out keeps its value; a field sent as null is refused (400),
    but for those in NULLABLE, where null clears the value."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    model_config = ConfigDict(json_schema_extra=_partial_schema)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError("must not be null (leave the field out to keep its value)")
        return value


class _Patch(Partial):
    model_config = ConfigDict(**CONFIG, json_schema_extra=_partial_schema)


class GenerationPatch(_Patch):
    default_model: ModelName | None = None
    max_concurrent_jobs: ConcurrentJobs | None = None
    job_timeout_s: TimeoutSeconds | None = None


class SettingsPatch(_Patch):
    """Any subset of the settings; `generation` may be partial too. Only `support_email` may be null."""

    NULLABLE = frozenset({"support_email"})

    default_credit_grant: Count | None = None
    low_balance_threshold: Count | None = None
    generation: GenerationPatch | None = None
    maintenance_mode: bool | None = None
    support_email: Email | None = None
    allowed_admin_email_domains: Domains | None = None


class SettingsOut(Out):
    settings: PlatformSettings
    defaults: PlatformSettings
    updated_at: str | None  # of the most recent change; null while every setting is its default
    updated_by: str | None  # the admin id who made it


class SettingsChangeOut(SettingsOut):
    changed: list[str]  # the keys this request changed (empty: it set what was already there)


def _out(effective: platform.Effective) -> dict[str, Any]:
    return {
        "settings": effective.settings,
        "defaults": PlatformSettings(),
        "updated_at": effective.updated_at.isoformat() if effective.updated_at else None,
        "updated_by": effective.updated_by,
    }


@bp.get("/api/admin/settings")
@spec.validate(resp=Responses(HTTP_200=SettingsOut, **ERRORS))
def get_settings() -> SettingsOut:
    """The effective platform settings (stored values over the defaults), and the defaults."""
    with container().engine.connect() as conn:
        return SettingsOut(**_out(platform.load_effective(conn)))


@bp.patch("/api/admin/settings")
@spec.validate(json=SettingsPatch, resp=Responses(HTTP_200=SettingsChangeOut, **ERRORS))
def patch_settings() -> SettingsChangeOut:
    """Change some settings: unknown keys or invalid values are refused whole (400), nothing changes.

    Only keys whose value changes are stored; the event `settings.update` holds their previous and
    new values. A key set to null is refused, except `support_email` (null clears it).
    """
    # Only the keys sent, normalised (domains and emails lower-cased, duplicate domains dropped).
    changes = body_of(SettingsPatch).model_dump(mode="json", exclude_unset=True)
    try:
        with container().engine.begin() as conn:
            effective, changed = platform.update(conn, changes, actor_id=current_actor().id)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    return SettingsChangeOut(**_out(effective), changed=changed)
