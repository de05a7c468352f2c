"""Protobuf timestamps to and from aware datetimes, the same way in every service."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


class InvalidTimestamp(ValueError):
    """A request carried a timestamp that is no real time."""


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """None stays None, so an unset time is an unset field."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def from_timestamp(stamp: Timestamp, field: str) -> datetime | None:
    """An unset (zero) timestamp is None; one out of datetime's range is refused, naming the field."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidTimestamp(f"{field} is not a valid time") from None
