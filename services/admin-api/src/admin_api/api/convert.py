"""Protobuf messages of the services to the gateway's JSON shapes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import request
from google.protobuf.timestamp_pb2 import Timestamp

from scenergy.common.ids import new_id
from scenergy.common.protobuf import from_timestamp, to_timestamp


def iso(stamp: Timestamp) -> str | None:
    value = from_timestamp(stamp, "time")  # None when unset
    return value.isoformat() if value is not None else None


def stamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    return to_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))  # naive: UTC


def loads(text: str) -> Any:
    return json.loads(text) if text else None


def idempotency_key_for(admin_id: str) -> str:
    """The key a service gets: derived from the caller's Idempotency-Key (per admin), or a fresh one."""
    sent = request.headers.get("Idempotency-Key")
    if not sent:
        return new_id("key")
    return "gw_" + hashlib.sha256(f"{admin_id}\n{sent}".encode()).hexdigest()[:40]
