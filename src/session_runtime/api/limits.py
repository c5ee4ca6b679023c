"""Per-token limits: a request rate (token bucket) and a cap on open subscriptions.

Both are keyed by the token's record id (``Principal.token_id``), never by the secret, so no
map in memory holds a usable credential. Requests without a valid token never get here: they
fail cheaply with 401 before any limit is looked at. Principals without a token record (the
in-process system principal) are not limited.

- **Rate.** Each token has a bucket of ``burst`` requests, refilled at ``rate`` per second.
  An HTTP request, the opening of an SSE stream and a WebSocket ``subscribe`` each take one;
  with the bucket empty the request is refused with 429 ``RESOURCE_EXHAUSTED`` and a
  ``Retry-After`` (whole seconds, at least 1) after which one request is sure to pass. A
  refused request takes nothing, so a client that backs off as told always gets through.
- **Open subscriptions.** SSE streams and WebSocket subscriptions together, across all the
  token's connections, are counted; one over the cap is refused with 429 and the count drops as
  soon as a subscription ends.

Both stay small whatever the clients do: the subscription map only holds tokens with a
subscription open, and the bucket map is swept of idle (full) buckets, then halved if most
remain, whenever it reaches ``max_buckets``. Losing a bucket only gives that token a fresh
burst. Each server process counts on its own: behind a load balancer, a token's rate and cap
apply per node.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Final

from ..domain.auth import Principal
from ..domain.errors import ResourceExhaustedError, SessionRuntimeError
from ..settings import Settings

MAX_BUCKETS: Final = 65_536


class _Bucket:
    __slots__ = ("level", "stamp")

    def __init__(self, level: float, stamp: float) -> None:
        self.level = level
        self.stamp = stamp


class RateLimiter:
    """A token bucket per token: ``rate`` requests per second sustained, ``burst`` at once.

    >>> limiter = RateLimiter(rate=1.0, burst=2)
    >>> limiter.take("token-1"); limiter.take("token-1")
    >>> limiter.take("token-1")
    Traceback (most recent call last):
    ...
    session_runtime.domain.errors.ResourceExhaustedError: ...
    """

    def __init__(self, *, rate: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limiter needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = float(burst)
        self.max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> None:
        """Count one request of ``key``; ``ResourceExhaustedError`` (429) when over the rate."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._shrink(now)
            self._buckets[key] = _Bucket(self.burst - 1.0, now)
            return
        level = bucket.level + (now - bucket.stamp) * self.rate
        if level > self.burst:
            level = self.burst
        bucket.stamp = now
        if level < 1.0:
            bucket.level = level
            raise self._refusal((1.0 - level) / self.rate)
        bucket.level = level - 1.0

    def __len__(self) -> int:
        return len(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def _shrink(self, now: float) -> None:
        """Forget full buckets (a fresh one is the same); if most remain, the oldest half.

        Each call frees at least a quarter of the map, so the sweep costs O(1) per new token
        however the tokens behave.
        """
        for key, bucket in list(self._buckets.items()):
            if bucket.level + (now - bucket.stamp) * self.rate >= self.burst:
                del self._buckets[key]
        if len(self._buckets) > self.max_buckets * 3 // 4:
            for key in list(self._buckets)[: len(self._buckets) // 2 + 1]:
                del self._buckets[key]

    def _refusal(self, wait: float) -> ResourceExhaustedError:
        retry_after = max(1, math.ceil(wait))
        return ResourceExhaustedError(
            f"this token makes more than {self.rate:g} requests per second; "
            f"retry after {retry_after} s",
            details={"limit": self.rate, "burst": int(self.burst), "retryAfter": retry_after},
            http_status=429,
            retry_after=retry_after,
        )


class SubscriptionLease:
    """One open subscription counted against its token; ``release`` it once it ends."""

    __slots__ = ("_counter", "_key")

    def __init__(self, counter: SubscriptionCounter | None, key: str) -> None:
        self._counter = counter
        self._key = key

    def release(self) -> None:
        """Stop counting this subscription; releasing again does nothing."""
        counter, self._counter = self._counter, None
        if counter is not None:
            counter._release(self._key)


_UNCOUNTED: Final = SubscriptionLease(None, "")


class SubscriptionCounter:
    """Open subscriptions per token, at most ``cap`` each.

    >>> counter = SubscriptionCounter(cap=1)
    >>> lease = counter.acquire("token-1")
    >>> counter.open_count("token-1")
    1
    >>> lease.release(); counter.open_count("token-1")
    0
    """

    def __init__(self, *, cap: int) -> None:
        if cap < 1:
            raise ValueError("a subscription cap must be at least 1")
        self.cap = cap
        self._open: dict[str, int] = {}

    def acquire(self, key: str) -> SubscriptionLease:
        """Count one more subscription of ``key``; ``ResourceExhaustedError`` (429) at the cap."""
        count = self._open.get(key, 0)
        if count >= self.cap:
            raise ResourceExhaustedError(
                f"this token holds {self.cap} open subscriptions, the most it may; close one first",
                details={"limit": self.cap},
                http_status=429,
            )
        self._open[key] = count + 1
        return SubscriptionLease(self, key)

    def open_count(self, key: str) -> int:
        return self._open.get(key, 0)

    def __len__(self) -> int:
        return len(self._open)

    def _release(self, key: str) -> None:
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)


@dataclass
class Limits:
    """The limits of one server process, applied to authenticated principals.

    Either part is ``None`` when its setting is 0 (off).
    """

    rate: RateLimiter | None = None
    subscriptions: SubscriptionCounter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
        cap = settings.max_subscriptions_per_token
        return cls(
            rate=RateLimiter(rate=rate, burst=burst) if rate > 0 else None,
            subscriptions=SubscriptionCounter(cap=cap) if cap > 0 else None,
        )

    def check_rate(self, principal: Principal) -> None:
        """Count one request of ``principal``'s token; 429 when it is over its rate."""
        if self.rate is not None:
            key = getattr(principal, "token_id", None)
            if key is not None:
                self.rate.take(key)

    def open_subscription(self, principal: Principal) -> SubscriptionLease:
        """Count one open subscription of ``principal``'s token; 429 at the cap."""
        if self.subscriptions is None:
            return _UNCOUNTED
        key = getattr(principal, "token_id", None)
        if key is None:
            return _UNCOUNTED
        return self.subscriptions.acquire(key)


def retry_after_headers(error: SessionRuntimeError) -> list[tuple[bytes, bytes]]:
    """``Retry-After`` (whole seconds, at least 1) for a rate refusal; nothing otherwise."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None:
        return []
    return [(b"retry-after", b"%d" % max(1, math.ceil(retry_after)))]
