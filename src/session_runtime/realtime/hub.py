"""In-process fan-out of committed sessions to subscribers.

Each subscriber has a mailbox holding at most the newest snapshot per session: publishing
replaces what is waiting instead of queueing behind it, so a slow subscriber costs a writer one
dictionary store and never blocks it. Everything runs on the event loop's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from cachetools import FIFOCache

from ..domain.models import Session

K = TypeVar("K")


class Mailbox:
    """The newest snapshot per session, waiting for one consumer."""

    __slots__ = ("_event", "_is_closed", "_on_close", "_pending")

    def __init__(self, on_close: Callable[[Mailbox], None]) -> None:
        self._pending: dict[str, Session] = {}
        self._event = asyncio.Event()
        self._is_closed = False
        self._on_close = on_close

    def offer(self, session: Session) -> None:
        if self._is_closed:
            return
        waiting = self._pending.get(session.id)
        if waiting is not None and waiting.version >= session.version:
            return
        self._pending[session.id] = session
        self._event.set()

    async def get(self) -> Session | None:
        while not self._pending:
            if self._is_closed:
                return None
            self._event.clear()
            await self._event.wait()
        session_id = next(iter(self._pending))
        return self._pending.pop(session_id)

    def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            self._pending.clear()
            self._event.set()
            self._on_close(self)


class LocalChangeFeed:
    """Routes each published session to the mailboxes following it or its project."""

    def __init__(self, *, remembered_versions: int = 50_000) -> None:
        self._by_session: dict[tuple[str, str], set[Mailbox]] = {}
        self._by_project: dict[str, set[Mailbox]] = {}
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
        if self._versions.get(key, 0) < session.version:
            self._versions[key] = session.version
        for mailbox in self._by_session.get(key, ()):
            mailbox.offer(session)
        for mailbox in self._by_project.get(session.project_id, ()):
            mailbox.offer(session)

    def subscribe_session(self, project_id: str, session_id: str) -> Mailbox:
        key = (project_id, session_id)

        def forget(mailbox: Mailbox) -> None:
            _discard(self._by_session, key, mailbox)

        mailbox = Mailbox(forget)
        self._by_session.setdefault(key, set()).add(mailbox)
        return mailbox

    def subscribe_project(self, project_id: str) -> Mailbox:
        def forget(mailbox: Mailbox) -> None:
            _discard(self._by_project, project_id, mailbox)

        mailbox = Mailbox(forget)
        self._by_project.setdefault(project_id, set()).add(mailbox)
        return mailbox


def _discard(index: dict[K, set[Mailbox]], key: K, mailbox: Mailbox) -> None:
    mailboxes = index.get(key)
    if mailboxes is not None:
        mailboxes.discard(mailbox)
        if not mailboxes:
            del index[key]
