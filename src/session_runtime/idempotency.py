"""Idempotency keys at the service ring: claims for keyed requests, and their expiry.

Any mutation takes a keyed request in one line: build a claim for it here and pass it to the
operation as ``idempotency=``; the store keeps it in the write's own transaction (see
``domain.idempotency`` for the rules). Records are kept for ``ttl`` (a setting, one day by
default) and deleted afterwards by the server's sweeper.

>>> keys = IdempotencyKeys(store, clock=utc_now, ttl=timedelta(days=1))     # doctest: +SKIP
>>> claim = keys.claim(principal, "k-1", method="PATCH", path=path,         # doctest: +SKIP
...                    body=body, if_match=None, render=render)
>>> await service.update_session_progress(principal, "p1", body,            # doctest: +SKIP
...                                       idempotency=claim)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypedDict, TypeVar, Unpack

from .domain.auth import Principal
from .domain.idempotency import (
    IdempotencyClaim,
    StoredResponse,
    idempotency_caller,
    request_fingerprint,
)
from .domain.ports import Store

logger = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(days=1)

ResultT = TypeVar("ResultT")


class RequestFacts(TypedDict):
    """What makes two keyed requests the same request: the parts of its fingerprint."""

    method: str
    path: str
    body: Mapping[str, Any] | None
    if_match: str | None


class IdempotencyKeys:
    """Builds the claims of keyed requests and prunes expired records, over one ``Store``."""

    def __init__(
        self, store: Store, *, clock: Callable[[], datetime], ttl: timedelta = DEFAULT_TTL
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("the idempotency ttl must be positive")
        self.store = store
        self.clock = clock
        self.ttl = ttl

    def claim(
        self,
        owner: Principal | str,
        key: str | None,
        *,
        render: Callable[[ResultT], StoredResponse],
        **request: Unpack[RequestFacts],
    ) -> IdempotencyClaim[ResultT] | None:
        """The claim of a request with ``key`` (already checked), or ``None`` without one.

        ``owner`` is whose keys these are: the caller's principal or, for a request without
        one (joining by a link), the caller name the route gives it."""
        if key is None:
            return None
        now = self.clock()
        return IdempotencyClaim(
            caller=owner if isinstance(owner, str) else idempotency_caller(owner),
            key=key,
            fingerprint=request_fingerprint(**request),
            render=render,
            now=now,
            expires_at=now + self.ttl,
        )

    async def prune(self) -> int:
        """Delete every record past its expiry; return how many."""
        count = await self.store.prune_idempotency_records(self.clock())
        if count:
            logger.info("deleted %d expired idempotency keys", count)
        return count
