"""Re-checking the token of a connection that stays open.

A request is authenticated once and is over in milliseconds; an SSE stream or a WebSocket
lives for hours. So a long-lived connection asks the service again whether its token still
stands for a principal: on every WebSocket subscribe, and on a timer (one per connection,
not per subscription) while it is open. Each check goes through
``SessionService.authenticate``, with its token cache, so a check usually costs a dictionary
look-up, and whatever makes ``authenticate`` refuse a token (revoked, unknown, and expired
once tokens expire) ends the connection the same way:

- SSE: an ``error`` event carrying the one error body (``UNAUTHENTICATED``), then the end;
- WebSocket: an ``error`` message, then close code 4401.

The timer runs at (up to) half the token cache window: a revocation through this server (whose cache
forgets the token at once) reaches its open connections within half the window; one made by
another process (``session-runtime tokens revoke``) within the window and a half, since this
server may trust the token for up to one window after the revocation.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final

from ..domain.errors import SessionRuntimeError, UnauthenticatedError
from ..service import SessionService

logger = logging.getLogger(__name__)

# With no token cache every check reads the store: once a second per connection is plenty.
UNCACHED_RECHECK_SECONDS: Final = 1.0
# However short the cache window, a connection does not re-check more often than this.
SHORTEST_RECHECK_SECONDS: Final = 0.1

OnLapse = Callable[[UnauthenticatedError], Awaitable[None]]


def recheck_seconds(token_cache_seconds: float) -> float:
    """How often an open connection re-checks its token, given the token cache window.

    >>> recheck_seconds(2.0), recheck_seconds(0.0)
    (1.0, 1.0)
    """
    if token_cache_seconds <= 0:
        return UNCACHED_RECHECK_SECONDS
    return max(SHORTEST_RECHECK_SECONDS, token_cache_seconds / 2)


class CredentialCheck:
    """One connection's token, and the question whether it still stands for a principal."""

    __slots__ = ("interval", "service", "token")

    def __init__(self, service: SessionService, token: str, *, interval: float) -> None:
        self.service = service
        self.token = token
        self.interval = interval

    async def lapse(self) -> UnauthenticatedError | None:
        """``None`` while the token is valid; the refusal once it is not.

        Only a refusal of the token ends a connection: when storage cannot answer
        (``UNAVAILABLE``), that says nothing about the token, and the next check asks again.
        """
        try:
            await self.service.authenticate(self.token)
        except UnauthenticatedError as error:
            return error
        except SessionRuntimeError as error:
            logger.warning("could not re-check a connection's token: %s", error.code)
        return None

    async def watch(self, on_lapse: OnLapse) -> None:
        """Re-check every ``interval`` until the token lapses, then call ``on_lapse`` once.

        Runs until cancelled (the connection closed) or the token lapsed. Each wait is a
        little shorter than ``interval``, by a random amount, so that connections opened at
        one moment (a reconnect after a restart) do not all miss the token cache at once.
        """
        while True:
            await asyncio.sleep(self.interval * random.uniform(0.75, 1.0))
            error = await self.lapse()
            if error is not None:
                await on_lapse(error)
                return
