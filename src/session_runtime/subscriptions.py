"""Subscriptions handed out by the service: async iterators over committed snapshots."""

from __future__ import annotations

from typing import Self

from .domain.models import Session
from .domain.ports import Channel


class _Subscription:
    """What both kinds share: a mailbox to read, closed once, and ``async with`` that closes it."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._is_done = False

    @property
    def is_closed(self) -> bool:
        return self._is_done

    def close(self) -> None:
        """Stop following; frees the subscription at once. Closing twice is harmless."""
        self._is_done = True
        self._channel.close()

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class SessionSubscription(_Subscription):
    """Follows one session; yields snapshots in strictly increasing ``version``.

    The first item is the current snapshot. A consumer that falls behind gets the latest
    snapshot, never a backlog. Iteration ends after a final status, or when closed::

        async with await service.subscribe_session(principal, project_id, session_id) as sub:
            async for session in sub:
                print(session.version, session.status)
    """

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.session: Session | None = None

    async def __anext__(self) -> Session:
        while not self._is_done:
            if self.session is not None and self.session.is_final:
                self.close()
                break
            session = await self._channel.get()
            if session is None:
                self._is_done = True
                break
            if self.session is not None and session.version <= self.session.version:
                continue
            self.session = session
            return session
        raise StopAsyncIteration


class ProjectSubscription(_Subscription):
    """Follows every session of a project: one item per change, the latest per session."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self._versions: dict[str, int] = {}

    async def __anext__(self) -> Session:
        while not self._is_done:
            session = await self._channel.get()
            if session is None:
                break
            if session.version <= self._versions.get(session.id, 0):
                continue
            if session.is_final:
                # A final session will not change again: keep nothing for it.
                self._versions.pop(session.id, None)
            else:
                self._versions[session.id] = session.version
            return session
        self._is_done = True
        raise StopAsyncIteration
