"""When and how soon a live subscription connects again after losing its stream."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..domain.errors import ResourceExhaustedError, SessionRuntimeError, UnavailableError

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter, bounded in delay and in attempts.

    After a stream drops, the subscription waits ``delay(n)`` before its ``n``-th consecutive
    attempt: ``initial_delay * multiplier ** (n - 1)``, at most ``max_delay``, shortened by up to
    ``jitter`` (a fraction) so that many screens do not reconnect in step. An attempt succeeds
    when the server answers 200; a dropped stream after that starts counting again from 1. After
    ``max_attempts`` failed attempts in a row (``None``: never) the subscription gives up.

    ``idle_timeout`` is how long a stream may stay silent (no snapshot, no heartbeat) before it
    is taken for dead; keep it a few times the server's heartbeat interval.

    >>> ReconnectPolicy(initial_delay=0.1, jitter=0).delay(3)
    0.4
    """

    initial_delay: float = 0.25
    max_delay: float = 5.0
    multiplier: float = 2.0
    jitter: float = 0.2
    max_attempts: int | None = 10
    idle_timeout: float = 45.0

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < self.initial_delay:
            raise ValueError("need 0 <= initial_delay <= max_delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError("max_attempts must be >= 0 (or None)")
        if self.idle_timeout <= 0:
            raise ValueError("idle_timeout must be > 0")

    def delay(self, attempt: int, error: SessionRuntimeError | None = None) -> float:
        """Seconds to wait before the ``attempt``-th consecutive attempt (1, 2, ...).

        A server that said when to come back (``Retry-After``) is obeyed.
        """
        exponent = max(0, attempt - 1)
        delay = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        delay *= 1 - self.jitter * random.random()
        if isinstance(error, ResourceExhaustedError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay

    def should_retry(self, error: SessionRuntimeError, attempt: int) -> bool:
        """Whether to try again after ``attempt`` consecutive failures ending in ``error``.

        Only what may pass by itself is retried: the server or the network being unavailable,
        and a rate limit. A refused token, a missing session or a denied permission is final.
        """
        if self.max_attempts is not None and attempt > self.max_attempts:
            return False
        if isinstance(error, UnavailableError):
            return True
        return isinstance(error, ResourceExhaustedError) and error.http_status == 429
