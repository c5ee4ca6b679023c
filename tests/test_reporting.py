"""What a swept session's ``endReason`` says."""

from __future__ import annotations

from datetime import timedelta

import pytest

from session_runtime.reporting import stale_reason


@pytest.mark.parametrize(
    ("idle", "reason"),
    [
        (timedelta(minutes=30), "no update for 30 minutes"),
        (timedelta(minutes=1), "no update for 1 minute"),
        (timedelta(hours=2), "no update for 120 minutes"),
        (timedelta(seconds=90), "no update for 90 seconds"),
        (timedelta(seconds=1), "no update for 1 second"),
        (timedelta(seconds=1.5), "no update for 1.5 seconds"),
    ],
)
def test_the_reason_names_the_idle_time(idle: timedelta, reason: str) -> None:
    assert stale_reason(idle) == reason
