"""Protobuf messages of the services to the gateway's JSON shapes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import request
from google.protobuf.timestamp_pb2 import Timestamp

from scenergy.common.ids import new_id


def iso(stamp: Timestamp) -> str | None:
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    return stamp.ToDatetime(tzinfo=UTC).isoformat()


def stamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    result = Timestamp()
    result.FromDatetime(value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC))
    return result


def loads(text: str) -> Any:
    return json.loads(text) if text else None


def idempotency_key_for(admin_id: str) -> str:
    """The key a service gets: derived from the caller's Idempotency-Key (per admin), or a fresh one."""
    sent = request.headers.get("Idempotency-Key")
    if not sent:
        return new_id("key")
    return "gw_" + hashlib.sha256(f"{admin_id}\n{sent}".encode()).hexdigest()[:40]
