"""Timestamps to and from protobuf: exact, the same as the library's own conversion, ranges refused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from scenergy.common.protobuf import InvalidTimestamp, from_timestamp, to_timestamp


def library_timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def test_to_timestamp_agrees_with_the_library_to_the_microsecond():
    rnd = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    values = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # before the epoch: nanos stay positive
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    values += [datetime(1900, 1, 1, tzinfo=UTC) + timedelta(microseconds=rnd.randrange(10**17)) for _ in range(500)]
    for value in values:
        # The extremes can't be shown in other zones (datetime's range ends there).
        for local in [value] if value.year in (1, 9999) else [value.astimezone(zone) for zone in zones]:
            assert to_timestamp(local) == library_timestamp(local), local
            if value != datetime(1970, 1, 1, tzinfo=UTC):  # the epoch is the unset value on the wire
                assert from_timestamp(to_timestamp(local), "at") == value


def test_from_timestamp_agrees_with_the_library():
    rnd = random.Random(11)
    stamps = [Timestamp(seconds=rnd.randrange(-(10**10), 10**11), nanos=rnd.randrange(10**9)) for _ in range(2000)]
    stamps += [Timestamp(seconds=5, nanos=999), Timestamp(seconds=-5, nanos=1500), Timestamp(seconds=0, nanos=1)]
    for stamp in stamps:
        assert from_timestamp(stamp, "at") == stamp.ToDatetime(tzinfo=UTC), stamp


def test_a_naive_time_is_taken_as_local_time_as_before():
    naive = datetime(2026, 3, 1, 12, 0, 0, 250_000)
    assert to_timestamp(naive) == library_timestamp(naive)


def test_none_and_the_zero_timestamp_mean_unset():
    assert to_timestamp(None) is None
    assert from_timestamp(Timestamp(), "at") is None


def test_a_timestamp_beyond_datetimes_range_is_refused_naming_the_field():
    with pytest.raises(InvalidTimestamp, match="created_to"):
        from_timestamp(Timestamp(seconds=10**12), "created_to")
