"""In-process fan-out of committed sessions to subscribers.

Each subscriber has a mailbox holding at most the newest snapshot per session: publishing
replaces what is waiting instead of queueing behind it, so a slow subscriber costs a writer one
dictionary store and never blocks it. Everything runs on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

from cachetools import FIFOCache

from ..domain.guests import SessionErased
from ..domain.models import Session

_ERASED = sys.maxsize
Change = Session | SessionErased


class Mailbox:
    """The newest snapshot per session, waiting for one consumer.

    A consumer either waits (``get``, ``wait``) or is called back (``listen``) whenever
    something arrives or the mailbox closes, and then takes what is waiting (``take``). The
    servers' streams listen: an idle stream then holds no task and no waiting future, only this
    object. A waiting future exists only while a consumer waits.
    """

    __slots__ = ("_index", "_is_closed", "_key", "_listener", "_pending", "_waiter")

    def __init__(self, index: dict[Any, list[Mailbox]], key: object) -> None:
        """Registers itself in ``index`` under ``key``, and leaves it when closed."""
        self._pending: dict[str, Change] = {}
        self._waiter: asyncio.Future[None] | None = None
        self._listener: Callable[[], None] | None = None
        self._is_closed = False
        self._index = index
        self._key = key
        index.setdefault(key, []).append(self)

    @property
    def is_closed(self) -> bool:
        return self._is_closed

    def offer(self, session: Session) -> None:
        if self._is_closed:
            return
        waiting = self._pending.get(session.id)
        if waiting is not None and (
            isinstance(waiting, SessionErased) or waiting.version >= session.version
        ):
            return
        self._pending[session.id] = session
        self._wake()

    def offer_erased(self, erased: SessionErased) -> None:
        """The session is gone: this replaces any snapshot of it still waiting."""
        if not self._is_closed:
            self._pending[erased.session_id] = erased
            self._wake()

    def take(self) -> Change | None:
        """What is waiting, oldest session first, without waiting; ``None`` when nothing is."""
        pending = self._pending
        if not pending:
            return None
        change = pending.pop(next(iter(pending)))
        if not pending:
            self._pending = {}  # an emptied dict keeps its table; a new one holds none
        return change

    async def wait(self) -> None:
        """Return once something is waiting or the mailbox is closed."""
        while not self._pending and not self._is_closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def get(self) -> Change | None:
        """Wait for the next change; ``None`` once closed."""
        await self.wait()
        return self.take()

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop's thread) whenever something arrives and once
        when the mailbox closes; at once if something is waiting already."""
        self._listener = listener
        if self._pending or self._is_closed:
            listener()

    def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            self._pending.clear()
            self._wake()
            self._listener = None
            mailboxes = self._index.get(self._key)
            if mailboxes is not None:
                with contextlib.suppress(ValueError):  # one scan of the list, not two
                    mailboxes.remove(self)
                if not mailboxes:
                    del self._index[self._key]

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._listener is not None:
            self._listener()


class LocalChangeFeed:
    """Routes each published session to the mailboxes following it or its project."""

    def __init__(self, *, remembered_versions: int = 50_000) -> None:
        # A list per key: most sessions have one follower or a few (a set of one takes 216
        # bytes, a list of one 64); leaving a list of n followers costs O(n).
        self._by_session: dict[tuple[str, str], list[Mailbox]] = {}
        self._by_project: dict[str, list[Mailbox]] = {}
        # The last version published of recently changed sessions, so that a change feed across
        # nodes can skip reading back a change this node has already published. The session
        # written longest ago is forgotten first.
        self._versions: FIFOCache[tuple[str, str], int] = FIFOCache(maxsize=remembered_versions)

    @property
    def subscriber_count(self) -> int:
        return sum(map(len, self._by_session.values())) + sum(map(len, self._by_project.values()))

    def subscribers_of(self, project_id: str, session_id: str) -> int:
        """How many subscribers follow this one session."""
        return len(self._by_session.get((project_id, session_id), ()))

    def is_watched(self, project_id: str, session_id: str) -> bool:
        """Whether anyone here follows this session, alone or with its project."""
        return (project_id, session_id) in self._by_session or project_id in self._by_project

    def watched_sessions(self) -> list[tuple[str, str]]:
        return list(self._by_session)

    def watched_projects(self) -> list[str]:
        return list(self._by_project)

    def published_version(self, project_id: str, session_id: str) -> int:
        """The latest version published here of a recently changed session (0 if unknown)."""
        return self._versions.get((project_id, session_id), 0)

    def publish(self, session: Session) -> None:
        key = (session.project_id, session.id)
        versions = self._versions
        known = versions.get(key, 0)
        if known == _ERASED:
            return  # a write that raced its erasure: the session is gone
        if known < session.version:
            versions[key] = session.version
        for mailbox in self._by_session.get(key, ()):
            mailbox.offer(session)
        for mailbox in self._by_project.get(session.project_id, ()):
            mailbox.offer(session)

    def publish_erased(self, project_id: str, session_id: str) -> None:
        """Tell everyone following the session, or its project, that it was erased; once,
        however many times it is announced (by the erasing write, then by PostgreSQL's notice).
        """
        key = (project_id, session_id)
        versions = self._versions
        if versions.get(key) == _ERASED:
            return
        # Remembered as a version above any other, so no later notice of it is read back.
        versions[key] = _ERASED
        erased = SessionErased(project_id, session_id)
        for mailbox in list(self._by_session.get(key, ())):
            mailbox.offer_erased(erased)
        for mailbox in self._by_project.get(project_id, ()):
            mailbox.offer_erased(erased)

    def subscribe_session(self, project_id: str, session_id: str) -> Mailbox:
        return Mailbox(self._by_session, (project_id, session_id))

    def subscribe_project(self, project_id: str) -> Mailbox:
        return Mailbox(self._by_project, project_id)
