"""Audit events of the gateway's own mutations, written to its outbox in the mutation's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from admin_api.adapters.tables import outbox
from scenergy.common.events import make_envelope
from scenergy.common.identity import Actor
from scenergy.common.outbox import outbox_row

SOURCE = "admin_api"


def record(
    conn: Connection,
    action: str,
    entity_id: str,
    *,
    previous: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    actor: Actor | None = None,
    error_code: str | None = None,
    error_message: str = "",
    **data: Any,
) -> dict[str, Any]:
    """Write the event for `action` (`entity.verb`) in `conn`'s transaction; returns the envelope."""
    entity, verb = action.split(".")
    envelope = make_envelope(
        type=f"{SOURCE}.{entity}.{verb}",
        source=SOURCE,
        entity_type=entity,
        entity_id=entity_id,
        data={"previous": previous, "new": new, **data},
        actor=actor,
        outcome="failure" if error_code else "success",
        error_code=error_code,
        error_message=error_message,
    )
    conn.execute(outbox.insert().values(**outbox_row(envelope)))
    return envelope
