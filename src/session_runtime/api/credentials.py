"""Re-checking the token of a connection that stays open.

A request is authenticated once and is over in milliseconds; an SSE stream or a WebSocket
lives for hours. So a long-lived connection asks the service again whether its token still
stands for a principal: on every WebSocket subscribe, and on a timer while it is open. The
timer is one for the whole server (``TokenWatch``): it checks each distinct token of the open
connections once per round, however many connections share it, so an open connection costs
an entry in a dictionary, not a task. Each check goes through ``SessionService.authenticate``,
with its token cache, so a check usually costs a dictionary look-up, and whatever makes
``authenticate`` refuse a token (revoked, unknown, and expired once tokens expire) ends the
connections that hold it the same way:

- SSE: an ``error`` event carrying the one error body (``UNAUTHENTICATED``), then the end;
- WebSocket: an ``error`` message, then close code 4401.

The rounds run at (up to) half the token cache window: a revocation through this server (whose cache
forgets the token at once) reaches its open connections within half the window; one made by
another process (``session-runtime tokens revoke``) within the window and a half, since this
server may trust the token for up to one window after the revocation.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Final, Protocol

from ..domain.errors import SessionRuntimeError, UnauthenticatedError
from ..service import SessionService

logger = logging.getLogger(__name__)

# With no token cache every check reads the store: once a second per token is plenty.
UNCACHED_RECHECK_SECONDS: Final = 1.0
# However short the cache window, tokens are not re-checked more often than this.
SHORTEST_RECHECK_SECONDS: Final = 0.1


def recheck_seconds(token_cache_seconds: float) -> float:
    """How often an open connection re-checks its token, given the token cache window.

    >>> recheck_seconds(2.0), recheck_seconds(0.0)
    (1.0, 1.0)
    """
    if token_cache_seconds <= 0:
        return UNCACHED_RECHECK_SECONDS
    return max(SHORTEST_RECHECK_SECONDS, token_cache_seconds / 2)


async def token_lapse(service: SessionService, token: str) -> UnauthenticatedError | None:
    """``None`` while the token is valid; the refusal once it is not.

    Only a refusal of the token ends a connection: when storage cannot answer
    (``UNAVAILABLE``), that says nothing about the token, and the next check asks again.
    """
    try:
        await service.authenticate(token)
    except UnauthenticatedError as error:
        return error
    except SessionRuntimeError as error:
        logger.warning("could not re-check a connection's token: %s", error.code)
    return None


class LapseWatcher(Protocol):
    """An open connection, told when its token lapses."""

    def token_lapsed(self, error: UnauthenticatedError) -> None: ...


class TokenWatch:
    """Re-checks the tokens of every open connection, one round every ``interval``.

    ``watch(token, watcher)`` registers a connection and ``unwatch`` forgets it. When a token
    lapses, every watcher registered for it is told once (``token_lapsed``, on the event loop's
    thread; it must not block) and the token is forgotten. The rounds run in one task that
    exists only while something is watched. Each wait is a little shorter than ``interval``,
    by a random amount, so that several servers started at one moment do not all miss their
    token caches at once.
    """

    def __init__(self, service: SessionService, *, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._watchers: dict[str, set[LapseWatcher]] = {}
        self._rounds: asyncio.Task[None] | None = None

    @property
    def watched_tokens(self) -> int:
        return len(self._watchers)

    def watch(self, token: str, watcher: LapseWatcher) -> None:
        self._watchers.setdefault(token, set()).add(watcher)
        if self._rounds is None:
            self._rounds = asyncio.get_running_loop().create_task(self._run())

    def unwatch(self, token: str, watcher: LapseWatcher) -> None:
        watchers = self._watchers.get(token)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[token]

    async def close(self) -> None:
        """Stop the rounds (the server is shutting down)."""
        rounds, self._rounds = self._rounds, None
        if rounds is not None:
            rounds.cancel()
            await asyncio.gather(rounds, return_exceptions=True)

    async def _run(self) -> None:
        try:
            while self._watchers:
                await asyncio.sleep(self.interval * random.uniform(0.75, 1.0))
                for token in list(self._watchers):
                    error = await token_lapse(self.service, token)
                    if error is not None:
                        for watcher in self._watchers.pop(token, set()):
                            try:
                                watcher.token_lapsed(error)
                            except Exception:
                                logger.exception("could not end a connection whose token lapsed")
        finally:
            if self._rounds is asyncio.current_task():
                self._rounds = None
