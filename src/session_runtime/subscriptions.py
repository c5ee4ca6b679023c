"""Subscriptions handed out by the service: async iterators over committed snapshots.

Each can also be read without waiting (``take``), which is how the servers' streams read
them: they listen on the channel and take what is waiting when called back, so an idle
stream holds no task of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from .domain.guests import SessionErased
from .domain.models import Session, SessionStatus
from .domain.ports import Channel


class _Subscription:
    """What both kinds share: a channel to read, closed once, and ``async with`` that closes
    it."""

    __slots__ = ("_channel", "_is_done")

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

    def _next_change(self) -> Session | SessionErased | None:
        """What the channel holds next; ``None`` when nothing (done, if the channel closed)."""
        change = self._channel.take()
        if change is None and self._channel.is_closed:
            self._is_done = True
        return change

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever something may be ready to ``take``, and once when the
        subscription closes."""
        self._channel.listen(listener)

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class SessionSubscription(_Subscription):
    """Follows one session; yields snapshots in strictly increasing ``version``.

    The first item is the current snapshot. A consumer that falls behind gets the latest
    snapshot, never a backlog. Iteration ends after a final status, when the session is erased
    (``is_erased`` then says so, and ``erased`` holds the notice), or when closed::

        async with await service.subscribe_session(principal, project_id, session_id) as sub:
            async for session in sub:
                print(session.version, session.status)

    ``session`` is the latest snapshot iteration gave; ``version`` and ``final_status`` are
    kept by ``take`` too, which keeps no snapshot.
    """

    __slots__ = ("erased", "final_status", "session", "version")

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self.session: Session | None = None
        self.version = 0
        self.final_status: SessionStatus | None = None
        self.erased: SessionErased | None = None

    @property
    def is_erased(self) -> bool:
        return self.erased is not None

    def take(self) -> Session | None:
        """The next newer snapshot already waiting, without waiting; ``None`` when there is
        none (then ``is_closed`` says whether one may still come)."""
        while not self._is_done:
            if self.final_status is not None:
                self.close()
                break
            change = self._next_change()
            if change is None:
                break
            if isinstance(change, SessionErased):
                self.erased = change
                self.close()
                break
            if change.version <= self.version:
                continue
            self.version = change.version
            if change.is_final:
                self.final_status = change.status
            return change
        return None

    async def __anext__(self) -> Session:
        while True:
            session = self.take()
            if session is not None:
                self.session = session
                return session
            if self._is_done:
                raise StopAsyncIteration
            await self._channel.wait()


class ProjectSubscription(_Subscription):
    """Follows every session of a project: one item per change, the latest per session, and a
    ``SessionErased`` for each session erased."""

    __slots__ = ("_versions",)

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        self._versions: dict[str, int] = {}

    def take(self) -> Session | SessionErased | None:
        """The next change already waiting, without waiting; ``None`` when there is none."""
        while not self._is_done:
            change = self._next_change()
            if change is None:
                break
            if isinstance(change, SessionErased):
                self._versions.pop(change.session_id, None)
                return change
            if change.version <= self._versions.get(change.id, 0):
                continue
            if change.is_final:
                # A final session will not change again: keep nothing for it.
                self._versions.pop(change.id, None)
            else:
                self._versions[change.id] = change.version
            return change
        return None

    async def __anext__(self) -> Session | SessionErased:
        while True:
            change = self.take()
            if change is not None:
                return change
            if self._is_done:
                raise StopAsyncIteration
            await self._channel.wait()
