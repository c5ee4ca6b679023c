"""The reconnection policy: how long to wait, and when to give up."""

from __future__ import annotations

import pytest

from session_runtime.client import (
    NotFoundError,
    PermissionDeniedError,
    ReconnectPolicy,
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    UnavailableError,
)


def test_delays_grow_then_stop_growing() -> None:
    policy = ReconnectPolicy(initial_delay=0.1, max_delay=1.0, multiplier=2, jitter=0)
    assert [policy.delay(n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1, 1])
    assert policy.delay(0) == pytest.approx(0.1)


def test_jitter_only_shortens() -> None:
    policy = ReconnectPolicy(initial_delay=1, max_delay=1, jitter=0.5)
    delays = {policy.delay(1) for _ in range(200)}
    assert all(0.5 <= delay <= 1 for delay in delays)
    assert len(delays) > 1


def test_retry_after_is_obeyed() -> None:
    policy = ReconnectPolicy(initial_delay=0.1, max_delay=1, jitter=0)
    limited = ResourceExhaustedError("slow down", http_status=429, retry_after=3)
    assert policy.delay(1, limited) == 3


def test_only_what_may_pass_is_retried() -> None:
    policy = ReconnectPolicy(max_attempts=3)
    assert policy.should_retry(UnavailableError("down"), 1)
    assert policy.should_retry(ResourceExhaustedError("rate", http_status=429), 1)
    for final in (
        UnauthenticatedError("who?"),
        PermissionDeniedError("no"),
        NotFoundError("gone"),
        ResourceExhaustedError("too big", http_status=413),
        SessionRuntimeError("a server bug"),
    ):
        assert not policy.should_retry(final, 1)


def test_attempts_are_bounded_unless_told_otherwise() -> None:
    error = UnavailableError("down")
    assert ReconnectPolicy(max_attempts=3).should_retry(error, 3)
    assert not ReconnectPolicy(max_attempts=3).should_retry(error, 4)
    assert not ReconnectPolicy(max_attempts=0).should_retry(error, 1)
    assert ReconnectPolicy(max_attempts=None).should_retry(error, 10_000)


@pytest.mark.parametrize(
    "options",
    [
        {"initial_delay": -1},
        {"initial_delay": 2, "max_delay": 1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"max_attempts": -1},
        {"idle_timeout": 0},
    ],
)
def test_nonsense_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**options)  # type: ignore[arg-type]
