"""Changes committed on any server node, delivered to this node's subscribers.

Every write to a session fires a trigger that sends ``NOTIFY session_changes`` with only the
project id, the session id and the version (never the document: a payload is limited to 8,000
bytes). Each node ``LISTEN``s on one dedicated connection. For a change someone here follows,
and that this node has not already published itself, it reads the row once and publishes it to
the local feed; several notices for one session while a read is pending make one read.

When the listening connection drops, the listener connects again by itself (with backoff) and
then brings every subscriber up to date: the current snapshot of each followed session, and
every session of a followed project changed since shortly before the connection was lost. So
nothing is missed in state, though intermediate versions may be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import orjson

from ..domain.models import Session
from ..domain.timestamps import utc_now
from .hub import LocalChangeFeed

logger = logging.getLogger(__name__)

CHANNEL: Final = "session_changes"
ERASED_VERSION: Final = 0  # what a notice carries for an erased session (see postgres_guests)
_CATCH_UP_MARGIN: Final = timedelta(seconds=2)


class ListenableStore(Protocol):
    """What the listener needs of a PostgreSQL store."""

    async def connect_listener(self) -> Any: ...

    async def get_session(self, project_id: str, session_id: str) -> Session | None: ...

    async def sessions_changed_since(
        self, project_ids: list[str], since: datetime
    ) -> list[Session]: ...


class PostgresChangeListener:
    """Follows ``session_changes`` and republishes each change on the local feed."""

    def __init__(
        self,
        store: ListenableStore,
        feed: LocalChangeFeed,
        *,
        health_check_seconds: float = 5.0,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self.store = store
        self.feed = feed
        self.health_check_seconds = health_check_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.is_listening = asyncio.Event()
        self.reconnections = 0
        self._pending: dict[tuple[str, str], int] = {}
        self._has_pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="pg-listen"),
            asyncio.create_task(self._read_changes(), name="pg-read-changes"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # -- listening --------------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = 0.05
        lost_at: datetime | None = None
        while True:
            connection = None
            lost = asyncio.Event()
            try:
                connection = await self.store.connect_listener()
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(CHANNEL, self._on_notice)
                if lost_at is not None:
                    await self._catch_up(lost_at - _CATCH_UP_MARGIN)
                    self.reconnections += 1
                    logger.info("listening for changes again")
                self.is_listening.set()
                backoff = 0.05
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.health_check_seconds):
                            await lost.wait()
                    if not lost.is_set():
                        # A half-open connection only shows when used.
                        async with asyncio.timeout(self.health_check_seconds):
                            await connection.fetchval("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("the change listener lost PostgreSQL: %s", exc)
            finally:
                self.is_listening.clear()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), timeout=1)
            if lost_at is None:
                lost_at = utc_now()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_seconds)

    def _on_notice(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            project_id, session_id, version = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            logger.warning("ignoring a malformed change notice: %.100s", payload)
            return
        feed = self.feed
        if not feed.is_watched(project_id, session_id):
            return
        if version == ERASED_VERSION:
            feed.publish_erased(project_id, session_id)
            return
        if feed.published_version(project_id, session_id) >= version:
            return  # published here already, by the write that made it
        key = (project_id, session_id)
        if self._pending.get(key, 0) < version:
            self._pending[key] = version
            self._has_pending.set()

    async def _read_changes(self) -> None:
        while True:
            await self._has_pending.wait()
            self._has_pending.clear()
            pending, self._pending = self._pending, {}
            for (project_id, session_id), version in pending.items():
                if self.feed.published_version(project_id, session_id) >= version:
                    continue
                try:
                    session = await self.store.get_session(project_id, session_id)
                except Exception as exc:
                    # The listener's catch-up after a reconnect covers what is lost here.
                    logger.warning("could not read a changed session: %s", exc)
                    continue
                if session is not None:
                    self.feed.publish(session)

    async def _catch_up(self, since: datetime) -> None:
        """Bring every subscriber here up to date after a gap in the notices."""
        for project_id, session_id in self.feed.watched_sessions():
            session = await self.store.get_session(project_id, session_id)
            if session is not None:
                self.feed.publish(session)
        projects = self.feed.watched_projects()
        if projects:
            for session in await self.store.sessions_changed_since(projects, since):
                self.feed.publish(session)


def _setter(event: asyncio.Event) -> Any:
    def set_event(_connection: Any) -> None:
        event.set()

    return set_event
