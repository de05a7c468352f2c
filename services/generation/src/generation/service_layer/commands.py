"""The generation service's commands: submit, cancel, regenerate, and what admins do to assets.

Each command is one transaction with an explicit commit; admin actions write their audit event to
the outbox in the same transaction. Credit holds are reserved before the job's transaction (the
hold is keyed by the job, so a retry reuses it) and settled after it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from generation.adapters import jobstore
from generation.adapters.credits import Credits
from generation.adapters.tables import generated_asset, generation_job
from generation.domain import errors
from generation.domain.model import (
    Product,
    compile_prompt,
    validate_inspiration,
    validate_instructions,
    validate_products,
    validate_settings,
)
from generation.domain.pricing import DEFAULT_MODEL, MODELS
from generation.service_layer.settlement import Settler
from scenergy.common.context import current_request_id
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor, ActorType, Role
from scenergy.common.ids import is_id, new_id

SOURCE = "generation"
ADMIN_ROLES = frozenset({Role.ADMIN, Role.SUPER_ADMIN})


@dataclass(frozen=True)
class SubmitJob:
    client_id: str
    admin_space: bool
    products: list[Product]
    room_type: str = ""
    style: str = ""
    lighting: str = ""
    aspect_ratio: str = ""
    model: str = ""
    instructions: str = ""
    inspiration_images: tuple[str, ...] = ()
    flow_id: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True)
class JobPolicy:
    max_attempts: int = 3
    credits_per_image: int = 1
    hold_ttl_s: int = 21600
    default_model: str = DEFAULT_MODEL


def is_admin(actor: Actor | None) -> bool:
    return actor is not None and actor.type == ActorType.ADMIN


def require_admin(actor: Actor | None, action: str) -> Actor:
    """Defence in depth: the gateway checks roles too, but a viewer can never mutate, whoever forwards."""
    if actor is None or actor.type != ActorType.ADMIN:
        raise errors.PermissionDenied(f"{action} needs an admin")
    if actor.role not in ADMIN_ROLES:
        raise errors.PermissionDenied(f"role {actor.role or 'none'} may not {action}")
    return actor


def check_job_id(job_id: str) -> str:
    if not is_id(job_id, "job"):
        raise errors.InvalidArgument("job_id is malformed: expected a job_ id")
    return job_id


def check_asset_id(asset_id: str) -> str:
    if not is_id(asset_id, "ast"):
        raise errors.InvalidArgument("asset_id is malformed: expected an ast_ id")
    return asset_id


def _check_client_id(client_id: str) -> str:
    if not is_id(client_id, "cli"):
        raise errors.InvalidArgument("client_id is malformed: expected a cli_ id")
    return client_id


def _check_key(key: str) -> str:
    if key and (len(key) > 200 or not key.isascii() or not key.isprintable() or " " in key):
        raise errors.InvalidArgument("idempotency_key must be 1-200 printable characters without spaces")
    return key


def check_reason(text: str, field: str = "reason", *, required: bool = False, limit: int = 500) -> str:
    text = (text or "").strip()
    if required and not text:
        raise errors.InvalidArgument(f"{field} is required")
    if len(text) > limit:
        raise errors.InvalidArgument(f"{field} must be at most {limit} characters")
    if "\x00" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise errors.InvalidArgument(f"{field} contains characters that can't be stored")
    return text


def job_state(job: Any) -> dict[str, Any]:
    """What an audit entry shows of a job."""
    return {
        "status": job.status,
        "client_id": job.client_id,
        "attempt_count": job.attempt_count,
        "settlement": job.settlement,
        "asset_id": job.asset_id,
    }


def asset_state(asset: Any) -> dict[str, Any]:
    return {
        "approval_status": asset.approval_status,
        "gallery_client_id": asset.gallery_client_id,
        "transferred_to_client_id": asset.transferred_to_client_id,
        "deleted": asset.deleted_at is not None,
    }


class GenerationCommands:
    def __init__(
        self,
        engine: Engine,
        credits: Credits,
        settler: Settler,
        policy: JobPolicy,
        *,
        autocommit_engine: Engine | None = None,
    ) -> None:
        self._engine = engine
        # A submit is one statement, atomic on its own: no BEGIN and COMMIT round trips around it.
        self._autocommit = autocommit_engine or engine.execution_options(isolation_level="AUTOCOMMIT")
        self._credits = credits
        self._settler = settler
        self._policy = policy

    # -- jobs --------------------------------------------------------------------------------------

    def submit(self, cmd: SubmitJob, actor: Actor | None, *, regenerated_from: str | None = None) -> Any:
        if actor is None:
            raise errors.PermissionDenied("submitting a job needs an acting identity")
        by_admin = is_admin(actor)
        if by_admin:
            require_admin(actor, "submit jobs")
        elif cmd.admin_space:
            raise errors.PermissionDenied("only admins generate into the admin space")
        if cmd.admin_space and cmd.client_id:
            raise errors.InvalidArgument("an admin-space job has no client_id")
        if not cmd.admin_space:
            _check_client_id(cmd.client_id)
        if cmd.flow_id and not is_id(cmd.flow_id):
            raise errors.InvalidArgument("flow_id is malformed")
        key = _check_key(cmd.idempotency_key)
        settings = validate_settings(
            room_type=cmd.room_type,
            style=cmd.style,
            lighting=cmd.lighting,
            aspect_ratio=cmd.aspect_ratio,
            model=cmd.model,
            default_model=self._policy.default_model,
            models=MODELS,
        )
        products = validate_products(cmd.products)
        inspiration = validate_inspiration(list(cmd.inspiration_images))
        instructions = validate_instructions(cmd.instructions)
        prompt = compile_prompt(settings, products, instructions, len(inspiration))
        request = {
            "client_id": cmd.client_id or None,
            "products": [p.to_dict() for p in products],
            "settings": settings.to_dict(),
            "instructions": instructions,
            "inspiration_images": list(inspiration),
            "flow_id": cmd.flow_id or None,
            "regenerated_from": regenerated_from,
        }
        request_hash = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if key and (existing := self._replay(actor.id, key, request_hash)) is not None:
            return existing

        job_id = new_id("job")
        charge = not by_admin and self._policy.credits_per_image > 0
        hold_id, reserved = None, 0
        if charge:
            hold = self._credits.reserve(
                client_id=cmd.client_id,
                amount=self._policy.credits_per_image,
                ttl_s=self._policy.hold_ttl_s,
                job_id=job_id,
                key=f"hold-{actor.id}-{key}" if key else f"hold-{job_id}",
            )
            hold_id, reserved = hold.hold_id, hold.amount
        values = {
            "id": job_id,
            "client_id": cmd.client_id or None,
            "is_admin": by_admin,
            "flow_id": cmd.flow_id or None,
            "products": request["products"],
            "settings": request["settings"],
            "instructions": instructions,
            "inspiration_images": request["inspiration_images"],
            "prompt": prompt,
            "model": settings.model,
            "max_attempts": self._policy.max_attempts,
            "hold_id": hold_id,
            "credits_reserved": reserved,
            "settlement": "held" if hold_id else "none",
            "regenerated_from": regenerated_from,
            "submitted_by": actor.id,
            "submitted_by_type": actor.type.value,
            "idempotency_key": key or None,
            "request_hash": request_hash,
            "request_id": current_request_id(),  # ties the job to the caller's logs
        }
        event = None
        if by_admin:
            state = {"status": "pending", "client_id": values["client_id"], "attempt_count": 0}
            state.update(settlement=values["settlement"], asset_id=None)
            data: dict[str, Any] = {"previous": None, "new": state, "prompt": prompt}
            data.update(settings=settings.to_dict(), regenerated_from=regenerated_from)
            action = "regenerate" if regenerated_from else "submit"
            event = self._event(f"generation.job.{action}", "job", job_id, actor, data)
        try:
            with self._autocommit.connect() as conn:
                job = jobstore.insert_job(conn, values, event)
        except IntegrityError:
            # The same key raced us; the first submit won. Its hold has the same key, so it is the same hold.
            existing = self._replay(actor.id, key, request_hash) if key else None
            if existing is None:
                raise
            return existing
        return job

    def _replay(self, submitted_by: str, key: str, request_hash: str) -> Any:
        j = generation_job.c
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(generation_job).where(j.submitted_by == submitted_by, j.idempotency_key == key)
            ).first()
        if row is not None and row.request_hash != request_hash:
            raise errors.IdempotencyConflict("this idempotency key was used for a different request")
        return row

    def _reload(self, job_id: str) -> Any:
        with self._engine.connect() as conn:
            return jobstore.get_job(conn, job_id)

    def cancel(self, job_id: str, reason: str, actor: Actor | None) -> Any:
        check_job_id(job_id)
        reason = check_reason(reason)
        if actor is None:
            raise errors.PermissionDenied("cancelling needs an acting identity")
        if is_admin(actor):
            require_admin(actor, "cancel jobs")
        j = generation_job.c
        with self._engine.begin() as conn:
            before = jobstore.lock_job(conn, job_id)
            if before is None:
                raise errors.NotFound("job", job_id)
            if not is_admin(actor) and actor.type == ActorType.USER and before.submitted_by != actor.id:
                raise errors.PermissionDenied("only the submitter or an admin may cancel this job")
            if before.status not in ("pending", "generating"):
                raise errors.Conflict(
                    f"job {job_id} is {before.status}; only pending or generating jobs can be cancelled"
                )
            job = conn.execute(
                generation_job.update()
                .where(j.id == job_id, j.status.in_(("pending", "generating")))
                .values(
                    status="cancelled",
                    cancelled_by=actor.id,
                    completed_at=sa.func.now(),
                    updated_at=sa.func.now(),
                    lease_owner=None,
                    lease_expires_at=None,
                    settlement=sa.case((j.settlement == "held", "release_pending"), else_=j.settlement),
                    error_message=reason or None,
                )
                .returning(generation_job)
            ).one()
            jobstore.record_transition(
                conn, job_id, before.status, "cancelled", before.attempt_count, reason or "cancelled", actor.id
            )
            if is_admin(actor):
                data = {"previous": job_state(before), "new": job_state(job), "reason": reason or None}
                jobstore.add_event(conn, self._event("generation.job.cancel", "job", job_id, actor, data))
        self._settler.settle(job_id)
        return self._reload(job_id)

    def regenerate(self, job_id: str, idempotency_key: str, actor: Actor | None) -> Any:
        check_job_id(job_id)
        with self._engine.connect() as conn:
            original = jobstore.get_job(conn, job_id)
        if original is None:
            raise errors.NotFound("job", job_id)
        settings = original.settings
        cmd = SubmitJob(
            client_id=original.client_id or "",
            admin_space=original.client_id is None,
            products=[Product(**p) for p in original.products],
            room_type=settings["room_type"],
            style=settings["style"],
            lighting=settings["lighting"],
            aspect_ratio=settings["aspect_ratio"],
            model=settings["model"],
            instructions=original.instructions,
            inspiration_images=tuple(original.inspiration_images),
            flow_id=original.flow_id or "",
            idempotency_key=idempotency_key,
        )
        if original.client_id is None and not is_admin(actor):
            raise errors.PermissionDenied("only admins regenerate admin-space jobs")
        if actor is not None and actor.type == ActorType.USER and original.submitted_by != actor.id:
            # A user may regenerate their own jobs only (they are charged); the app's system actor any.
            raise errors.PermissionDenied("only the submitter or an admin may regenerate this job")
        return self.submit(cmd, actor, regenerated_from=job_id)

    # -- assets ------------------------------------------------------------------------------------

    def _change_asset(
        self, asset_id: str, actor: Actor | None, action: str, change: dict[str, Any], *, allow: Any = None
    ) -> Any:
        check_asset_id(asset_id)
        admin = require_admin(actor, f"{action} assets")
        a = generated_asset.c
        with self._engine.begin() as conn:
            before = conn.execute(sa.select(generated_asset).where(a.id == asset_id).with_for_update()).first()
            if before is None:
                raise errors.NotFound("asset", asset_id)
            if allow is not None:
                allow(before)
            after = conn.execute(
                generated_asset.update().where(a.id == asset_id).values(**change).returning(generated_asset)
            ).one()
            data = {"previous": asset_state(before), "new": asset_state(after)}
            jobstore.add_event(conn, self._event(f"generation.asset.{action}", "asset", asset_id, admin, data))
        return after

    def review(self, asset_id: str, status: str, note: str, actor: Actor | None) -> Any:
        if status not in ("approved", "rejected", "pending"):
            raise errors.InvalidArgument("approval_status must be approved, rejected or pending")
        note = check_reason(note, "note", limit=1000)

        def allow(asset: Any) -> None:
            if asset.deleted_at is not None:
                raise errors.Conflict(f"asset {asset_id} is deleted")

        reviewer = actor.id if actor else None
        change = {
            "approval_status": status,
            "review_note": note or None,
            "reviewed_by": reviewer if status != "pending" else None,
            "reviewed_at": sa.func.now() if status != "pending" else None,
        }
        return self._change_asset(asset_id, actor, "review", change, allow=allow)

    def delete_asset(self, asset_id: str, reason: str, actor: Actor | None, *, grace_s: int) -> Any:
        reason = check_reason(reason)

        def allow(asset: Any) -> None:
            if asset.deleted_at is not None:
                raise errors.Conflict(f"asset {asset_id} is already deleted")

        change = {
            "deleted_at": sa.func.now(),
            "deleted_by": actor.id if actor else None,
            "purge_after": sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, grace_s),
        }
        return self._change_asset(asset_id, actor, "delete", change, allow=allow)

    def transfer(self, asset_id: str, client_id: str, actor: Actor | None) -> Any:
        require_admin(actor, "transfer assets")
        _check_client_id(client_id)

        def allow(asset: Any) -> None:
            if not asset.is_admin_generated:
                raise errors.Conflict("only admin-generated assets can be transferred")
            if asset.deleted_at is not None:
                raise errors.Conflict(f"asset {asset_id} is deleted")
            if asset.transferred_to_client_id is not None:
                raise errors.Conflict(f"asset {asset_id} was already transferred to {asset.transferred_to_client_id}")

        change = {
            "transferred_to_client_id": client_id,
            "transferred_at": sa.func.now(),
            "transferred_by": actor.id if actor else None,
            "gallery_client_id": client_id,
        }
        return self._change_asset(asset_id, actor, "transfer", change, allow=allow)

    def _event(self, type_: str, entity: str, entity_id: str, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        return make_envelope(type=type_, source=SOURCE, entity_type=entity, entity_id=entity_id, data=data, actor=actor)
