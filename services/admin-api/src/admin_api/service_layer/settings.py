"""Platform settings: one typed model with defaults, stored per key in `platform_setting`.

The table holds only what a super admin has set (a top-level key, or for `generation` the nested
fields set so far); everything else is the model's default, so a new setting or a changed default
reaches every deployment without a migration. A stored value that no longer validates (the model
got stricter) is ignored in favour of the default, and logged, so a bad row can't break every page.

`load(conn)` gives the effective settings to any code that needs one (e.g. the credit grant of a
new client); `update(conn, changes, actor_id)` validates a partial change against the whole model,
stores only the keys whose effective value changed, and records `settings.update` with their
previous and new values, in the caller's transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from admin_api.adapters.tables import platform_setting
from admin_api.service_layer import events
from admin_api.service_layer.admins import EMAIL_RE, check_email

log = logging.getLogger(__name__)

ENTITY_ID = "platform"  # the entity id of `settings.update` events: there is one set of settings
# Serialises read-merge-write of concurrent updates (two nested `generation` patches must both land).
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtext('admin_api.platform_setting'))")

# The patterns are also the OpenAPI document's; the validators re-check with fullmatch (Python's `$`
# also matches before a final newline) and normalise (lower-case, duplicates dropped).
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
DOMAIN_PATTERN = rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.[A-Za-z][A-Za-z0-9-]{{0,61}}[A-Za-z0-9]$"
EMAIL_PATTERN = EMAIL_RE.pattern
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
_DOMAIN_RE = re.compile(DOMAIN_PATTERN)


def _domain(value: str) -> str:
    if not _DOMAIN_RE.fullmatch(value):
        raise ValueError("not a valid domain name (e.g. scenergy.ai)")
    return value.lower()


def _domains(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))  # duplicates dropped, order kept


def _email(value: str) -> str:
    if value != value.strip():
        raise ValueError("not a valid email address")
    return check_email(value)  # AdminError is a ValueError: pydantic reports it as a field error


def _model(value: str) -> str:
    if not re.fullmatch(MODEL_PATTERN, value):
        raise ValueError("not a valid model name")
    return value


Domain = Annotated[str, Field(max_length=253, pattern=DOMAIN_PATTERN), AfterValidator(_domain)]
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN), AfterValidator(_email)]
ModelName = Annotated[str, Field(min_length=1, max_length=100, pattern=MODEL_PATTERN), AfterValidator(_model)]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
ConcurrentJobs = Annotated[int, Field(ge=1, le=100)]
TimeoutSeconds = Annotated[int, Field(ge=10, le=3600)]
Domains = Annotated[list[Domain], Field(max_length=50), AfterValidator(_domains)]

# Strict: JSON types only, so `true` is not 1 and "5" is not 5; no silent trimming either, so what
# the OpenAPI document allows is exactly what is accepted. Python's regex engine for the lookarounds.
CONFIG = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False, regex_engine="python-re")


class GenerationSettings(BaseModel):
    model_config = CONFIG

    default_model: ModelName = "gemini-2.5-flash-image"
    max_concurrent_jobs: ConcurrentJobs = 10
    job_timeout_s: TimeoutSeconds = 300


class PlatformSettings(BaseModel):
    """Every known setting, with its default."""

    model_config = CONFIG

    default_credit_grant: Count = 0  # credits a new client starts with
    low_balance_threshold: Count = 50  # a balance below this is flagged (dashboard, credit lists)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    maintenance_mode: bool = False
    support_email: Email | None = None
    allowed_admin_email_domains: Domains = Field(default_factory=list)  # empty: any domain


KEYS = tuple(PlatformSettings.model_fields)
NESTED = frozenset({"generation"})  # objects whose fields are set (and stored) one by one
DEFAULTS: dict[str, Any] = PlatformSettings().model_dump(mode="json")


@dataclass(frozen=True)
class Effective:
    settings: PlatformSettings
    updated_at: datetime | None  # of the most recently changed key; None while all are defaults
    updated_by: str | None


def _overlay(base: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in stored.items():
        if key in NESTED and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def _stored(conn: Connection) -> tuple[dict[str, Any], sa.Row | None]:  # type: ignore[type-arg]
    rows = conn.execute(sa.select(platform_setting).where(platform_setting.c.key.in_(KEYS))).all()
    latest = max(rows, key=lambda r: r.updated_at, default=None)
    return {row.key: row.value for row in rows}, latest


def _valid(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored keys that still validate; one that doesn't falls back to its default (and is logged)."""
    try:
        PlatformSettings.model_validate(_overlay(DEFAULTS, stored))
        return stored
    except ValidationError:
        pass
    good: dict[str, Any] = {}
    for key, value in stored.items():
        try:
            PlatformSettings.model_validate(_overlay(DEFAULTS, {**good, key: value}))
        except ValidationError as exc:
            log.warning("platform setting %s is not valid any more, using its default: %s", key, exc.errors()[:3])
            continue
        good[key] = value
    return good


def _effective(stored: dict[str, Any]) -> PlatformSettings:
    """Stored values over the defaults."""
    return PlatformSettings.model_validate(_overlay(DEFAULTS, _valid(stored)))


def load_effective(conn: Connection) -> Effective:
    stored, latest = _stored(conn)
    return Effective(
        settings=_effective(stored),
        updated_at=latest.updated_at if latest is not None else None,
        updated_by=latest.updated_by if latest is not None else None,
    )


def load(conn: Connection) -> PlatformSettings:
    """The effective platform settings."""
    return load_effective(conn).settings


def update(conn: Connection, changes: dict[str, Any], *, actor_id: str) -> tuple[Effective, list[str]]:
    """Apply a partial change; returns the new effective settings and the keys that changed.

    Raises pydantic's ValidationError (nothing written) when a key is unknown or the result is not
    valid. Keys set to their current value are not written and not reported.
    """
    unknown = sorted(set(changes) - set(KEYS))
    if unknown:
        PlatformSettings.model_validate({key: changes[key] for key in unknown})  # raises extra_forbidden
    conn.execute(_LOCK)
    stored = _valid(_stored(conn)[0])
    before = PlatformSettings.model_validate(_overlay(DEFAULTS, stored)).model_dump(mode="json")
    wanted = _overlay(stored, changes)  # what the table would hold
    after = PlatformSettings.model_validate(_overlay(DEFAULTS, wanted)).model_dump(mode="json")
    changed = [key for key in KEYS if key in changes and after[key] != before[key]]
    for key in changed:
        # Store the normalised value (e.g. lower-cased domains); nested objects keep only their set fields.
        value = {k: after[key][k] for k in wanted[key]} if key in NESTED else after[key]
        conn.execute(
            pg_insert(platform_setting)
            .values(key=key, value=value, updated_at=sa.func.now(), updated_by=actor_id)
            .on_conflict_do_update(
                index_elements=[platform_setting.c.key],
                set_={"value": value, "updated_at": sa.func.now(), "updated_by": actor_id},
            )
        )
    if changed:
        events.record(
            conn,
            "settings.update",
            ENTITY_ID,
            previous={key: before[key] for key in changed},
            new={key: after[key] for key in changed},
            changed_keys=changed,
        )
    return load_effective(conn), changed
