"""Helpers of the gateway's tests (not used by the service): its audit events, and directory rows."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from admin_api.adapters.tables import client, outbox
from scenergy.common.ids import new_id


def events_of(container: Any, action: str, entity_id: str | None = None) -> list[dict[str, Any]]:
    """The envelopes of `action` (entity.verb) the gateway wrote to its outbox, oldest first."""
    entity, verb = action.split(".")
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.payload)
            .where(outbox.c.routing_key == f"admin_api.{entity}.{verb}")
            .order_by(outbox.c.seq)
        ).scalars()
        return [p for p in rows if entity_id is None or p["entity"]["id"] == entity_id]


def tag() -> str:
    """A short unique word, to find a test's own rows among everyone else's."""
    return "t" + uuid.uuid4().hex[:10]


def make_client(container: Any, name: str = "Acme", **values: Any) -> str:
    """A client row straight into the database (no credits account: its balance is null)."""
    client_id = new_id("cli")
    slug = values.pop("slug", client_id.replace("_", "-"))
    with container.engine.begin() as conn:
        conn.execute(client.insert().values(id=client_id, name=name, slug=slug, **values))
    return client_id
