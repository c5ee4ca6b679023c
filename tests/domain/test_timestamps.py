"""Server time: UTC, kept as whole microseconds since the Unix epoch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from session_runtime.domain.timestamps import EPOCH, from_micros, to_micros, utc_now


def test_now_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = utc_now()
    after = datetime.now(UTC)

    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after


@pytest.mark.parametrize(
    "moment",
    [
        EPOCH,
        datetime(2026, 1, 15, 9, 30, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_microseconds_round_trip_exactly(moment: datetime) -> None:
    assert from_micros(to_micros(moment)) == moment
    assert from_micros(to_micros(moment)).utcoffset() == timedelta(0)


def test_micros_count_from_the_epoch() -> None:
    assert to_micros(EPOCH) == 0
    assert to_micros(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1_000_000
    assert to_micros(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1


def test_other_offsets_are_converted_to_utc() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 15, 10, 30, tzinfo=paris)
    assert from_micros(to_micros(moment)) == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert from_micros(to_micros(moment)).utcoffset() == timedelta(0)


def test_large_timestamps_keep_every_microsecond() -> None:
    moment = datetime(2262, 4, 11, 23, 47, 16, 854_775, tzinfo=UTC)
    assert to_micros(moment) == 9_223_372_036_854_775
    assert from_micros(9_223_372_036_854_775) == moment
