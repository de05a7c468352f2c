"""Protobuf timestamps to and from aware datetimes, the same way in every service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp


class InvalidTimestamp(ValueError):
    """A request carried a timestamp that is no real time."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """None stays None, so an unset time is an unset field.

    Exact to the microsecond, through timedelta arithmetic (Timestamp.FromDatetime does the same in
    pure Python, several times slower, and every reply of every service converts a few times)."""
    if value is None:
        return None
    if value.tzinfo is None:  # a naive time is local time, as datetime.astimezone takes it
        value = value.astimezone(UTC)
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def from_timestamp(stamp: Timestamp, field: str) -> datetime | None:
    """An unset (zero) timestamp is None; one out of datetime's range is refused, naming the field."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return None
    try:  # as Timestamp.ToDatetime (nanos cut toward zero to microseconds), without its pure-Python steps
        return _EPOCH + timedelta(seconds=stamp.seconds, microseconds=int(stamp.nanos / 1000))
    except (ValueError, OverflowError):
        raise InvalidTimestamp(f"{field} is not a valid time") from None
