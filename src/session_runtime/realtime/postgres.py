"""Changes committed on any server node, delivered to this node's subscribers.

Every write to a session fires a trigger that sends ``NOTIFY session_changes`` with only the
project id, the session id and the version (never the document: a payload is limited to 8,000
bytes). Each node ``LISTEN``s on one dedicated connection. For a change someone here follows,
and that this node has not already published itself, it reads the row once and publishes it to
the local feed; several notices for one session while a read is pending make one read.

The listener keeps ``delivered``: the latest moment up to which every committed change reached
this node (a notice heard, a health check answered: PostgreSQL sends the notices of earlier
commits first). When the listening connection drops, it connects again by itself (exponential
backoff with full jitter, so that many nodes do not come back in step) and then brings every
subscriber up to date: the current snapshot of each followed session, and the sessions of each
followed project changed since ``delivered`` (less ``CATCH_UP_MARGIN``, for the clocks of other
nodes and writes that took their time to commit), read a page at a time by keyset on
``(updated_at, id)``. So nothing is missed in state, though intermediate versions may be, and
each catch-up reads only what changed since the last delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import orjson

from ..domain.models import Session
from ..domain.timestamps import to_micros, utc_now
from .hub import LocalChangeFeed

logger = logging.getLogger(__name__)

CHANNEL: Final = "session_changes"
CATCH_UP_MARGIN: Final = timedelta(seconds=2)
CATCH_UP_PAGE: Final = 200
"""Sessions read per query while catching up: whole documents, so a page stays small."""

Position = tuple[int, str]
"""Where a change sits in the order of changes: ``(updated_at in microseconds, session id)``."""


class ListenableStore(Protocol):
    """What the listener needs of a PostgreSQL store."""

    async def connect_listener(self) -> Any: ...

    async def get_session(self, project_id: str, session_id: str) -> Session | None: ...

    async def sessions_changed_after(
        self, project_id: str, after: Position, limit: int
    ) -> list[Session]: ...


class PostgresChangeListener:
    """Follows ``session_changes`` and republishes each change on the local feed."""

    def __init__(
        self,
        store: ListenableStore,
        feed: LocalChangeFeed,
        *,
        health_check_seconds: float = 5.0,
        initial_backoff_seconds: float = 0.05,
        max_backoff_seconds: float = 2.0,
        catch_up_page: int = CATCH_UP_PAGE,
        catch_up_margin: timedelta = CATCH_UP_MARGIN,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.feed = feed
        self.health_check_seconds = health_check_seconds
        self.initial_backoff_seconds = initial_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.catch_up_page = catch_up_page
        self.catch_up_margin = catch_up_margin
        self.clock = clock
        self.is_listening = asyncio.Event()
        self.reconnections = 0
        self.delivered: Position | None = None
        """Every change before this position, ``(microseconds, "")`` or a session's, reached
        this node."""
        self.catch_up_reads: deque[int] = deque(maxlen=64)
        """How many sessions of followed projects each catch-up read, the latest last."""
        self._heard_while_catching_up: Position | None = None
        self._is_catching_up = False
        self._missed: set[tuple[str, str]] = set()
        self._pending: dict[tuple[str, str], int] = {}
        self._has_pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # Changes before the node listened are not this listener's to deliver: a subscriber
        # reads its first snapshot from the store.
        self.delivered = (to_micros(self.clock()), "")
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

    def backoff_seconds(self, attempt: int) -> float:
        """How long to wait before reconnection ``attempt`` (0 first): full jitter, capped."""
        ceiling = self.initial_backoff_seconds * 2 ** min(attempt, 30)
        return random.uniform(0, min(self.max_backoff_seconds, ceiling))

    # -- listening --------------------------------------------------------------------------

    async def _listen(self) -> None:
        attempt = 0
        has_listened = False
        while True:
            connection = None
            lost = asyncio.Event()
            try:
                connection = await self.store.connect_listener()
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(CHANNEL, self._on_notice)
                listening_since = self.clock()
                if has_listened or attempt > 0:  # subscribers may have come meanwhile
                    await self._catch_up(listening_since)
                    self.reconnections += 1
                    logger.info("listening for changes again")
                has_listened = True
                self.is_listening.set()
                attempt = 0
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.health_check_seconds):
                            await lost.wait()
                    if not lost.is_set():
                        # A half-open connection only shows when used.
                        asked_at = self.clock()
                        async with asyncio.timeout(self.health_check_seconds):
                            await connection.fetchval("SELECT 1")
                        self._hear(asked_at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("the change listener lost PostgreSQL: %s", exc)
            finally:
                self.is_listening.clear()
                self._end_catch_up(completed=False)
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), timeout=1)
            await asyncio.sleep(self.backoff_seconds(attempt))
            attempt += 1

    def _on_notice(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._hear(self.clock())
        try:
            project_id, session_id, version = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            logger.warning("ignoring a malformed change notice: %.100s", payload)
            return
        feed = self.feed
        if not feed.is_watched(project_id, session_id):
            return
        if feed.published_version(project_id, session_id) >= version:
            return  # published here already, by the write that made it
        key = (project_id, session_id)
        if self._pending.get(key, 0) < version:
            self._pending[key] = version
            self._has_pending.set()

    def _hear(self, moment: datetime) -> None:
        """Every change committed before ``moment`` has reached this node."""
        position = (to_micros(moment), "")
        # While a catch-up runs, what it has not read yet lies before what is heard: that
        # counts only once it is complete, so a catch-up cut short starts over from where it was.
        if self._is_catching_up:
            self._heard_while_catching_up = _later(self._heard_while_catching_up, position)
        else:
            self.delivered = _later(self.delivered, position)

    async def _read_changes(self) -> None:
        while True:
            await self._has_pending.wait()
            self._has_pending.clear()
            pending, self._pending = self._pending, {}
            for key, version in pending.items():
                if self.feed.published_version(*key) >= version:
                    continue
                try:
                    session = await self.store.get_session(*key)
                except Exception as exc:
                    # The next catch-up reads it again.
                    logger.warning("could not read a changed session: %s", exc)
                    self._missed.add(key)
                    continue
                if session is not None:
                    self.feed.publish(session)

    async def _catch_up(self, listening_since: datetime) -> None:
        """Bring every subscriber here up to date after a gap in the notices.

        Notices come again since ``listening_since``: once this is done, everything up to
        then has been delivered.
        """
        self._is_catching_up = True
        missed, self._missed = self._missed, set()
        try:
            for project_id, session_id in {*self.feed.watched_sessions(), *missed}:
                session = await self.store.get_session(project_id, session_id)
                if session is not None:
                    self.feed.publish(session)
        except BaseException:
            self._missed |= missed
            raise
        start = self.delivered or (to_micros(self.clock()), "")
        margin = _micros(self.catch_up_margin)
        origin: Position = (start[0] - margin, "") if margin else start
        read = 0
        for project_id in self.feed.watched_projects():
            read += await self._catch_up_project(project_id, origin)
        self.catch_up_reads.append(read)
        self._end_catch_up(completed=True)
        self._hear(listening_since)

    async def _catch_up_project(self, project_id: str, position: Position) -> int:
        """Publish the project's sessions changed after ``position``; how many there were."""
        read = 0
        while True:
            page = await self.store.sessions_changed_after(project_id, position, self.catch_up_page)
            for session in page:
                self.feed.publish(session)
            read += len(page)
            if len(page) < self.catch_up_page:
                return read
            position = (to_micros(page[-1].updated_at), page[-1].id)

    def _end_catch_up(self, *, completed: bool) -> None:
        heard, self._heard_while_catching_up = self._heard_while_catching_up, None
        self._is_catching_up = False
        if completed and heard is not None:
            self.delivered = _later(self.delivered, heard)


def _later(current: Position | None, position: Position) -> Position:
    return position if current is None or position > current else current


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _setter(event: asyncio.Event) -> Any:
    def set_event(_connection: Any) -> None:
        event.set()

    return set_event
