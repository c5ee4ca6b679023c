"""How fast guests may join: per client address and per join link, a token bucket each.

The default lets one venue in: its guests' phones usually share one public address (the
venue's Wi-Fi behind NAT, or a carrier's), so a per-address limit as tight as Firebase's (100
anonymous accounts per hour per address) would turn the crowd away after its first hundred.
Here an address may join 300 guests at once (a queue at the door scanning the same QR code)
and then 60 a minute, 3,600 an hour, sustained. A script on one address gets no further than
that, and each link's cap, expiry and its own rate (1,000 at once, then 600 a minute) bound
what a leaked code can do. Refusals are 429 ``RESOURCE_EXHAUSTED`` with ``Retry-After``.
Like the per-token limits, each server process counts on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import ResourceExhaustedError
from ..settings import Settings
from .limits import RateLimiter


@dataclass
class JoinLimits:
    """The two buckets every join passes, either off when its rate setting is 0."""

    per_address: RateLimiter | None = None
    per_link: RateLimiter | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> JoinLimits:
        return cls(
            per_address=_per_minute(
                settings.joins_per_address_per_minute, settings.join_burst_per_address
            ),
            per_link=_per_minute(settings.joins_per_link_per_minute, settings.join_burst_per_link),
        )

    def check(self, address: str, code: str) -> None:
        """Count one join from ``address`` by ``code``; 429 when either is over its rate."""
        if self.per_address is not None:
            _take(self.per_address, address, "from this address")
        if self.per_link is not None:
            _take(self.per_link, code, "by this link")


def _per_minute(per_minute: float, burst: int) -> RateLimiter | None:
    """A bucket of ``burst`` joins refilled at ``per_minute``; none (off) at 0."""
    return RateLimiter(rate=per_minute / 60.0, burst=burst) if per_minute > 0 else None


def _take(limiter: RateLimiter, key: str, whence: str) -> None:
    try:
        limiter.take(key)
    except ResourceExhaustedError as refusal:
        per_minute = limiter.rate * 60
        raise ResourceExhaustedError(
            f"too many guests joined {whence} just now (more than {per_minute:g} a minute "
            f"after the first {int(limiter.burst)}); retry after {refusal.retry_after:g} s",
            details={
                "perMinute": per_minute,
                "burst": int(limiter.burst),
                "retryAfter": refusal.retry_after,
            },
            http_status=429,
            retry_after=refusal.retry_after,
        ) from None
