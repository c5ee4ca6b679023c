"""Live subscriptions to one session over server-sent events: ``subscribe_session``.

A subscription mirrors the contract's ``useSubscribeSession`` hook: ``.session`` (the latest
snapshot), ``.is_loading`` (no snapshot yet) and ``.error`` (the last error), and it yields every
new snapshot to whoever iterates it. It follows
``GET /v1/projects/{p}/sessions/{s}/events`` and, when the stream drops (a network blip, a server
restart), connects again by itself with backoff (:class:`ReconnectPolicy`), sending
``Last-Event-ID: <version seen>`` so that the server sends the current snapshot at once when it
is newer: nothing is missed in state. It gives up on a final error (401, 403, 404) or after too
many failed attempts, and then raises that error from the iteration.

Nothing happens until iteration starts; state changes only as it goes on.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Generator, Iterator
from contextlib import aclosing
from typing import Generic, TypeVar

import httpx
import pydantic

from ..domain.errors import NotFoundError, SessionRuntimeError
from ..domain.keys import session_keys
from ..domain.models import Session
from .cache import QueryCache
from .errors import error_from_response, map_transport_errors
from .operations import events_path
from .reconnect import ReconnectPolicy
from .sse import Comment, EventStreamDecoder, ServerSentEvent

__all__ = ["AsyncLiveSession", "LiveSession"]

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
SnapshotsT = TypeVar("SnapshotsT", Generator[Session, None, None], AsyncGenerator[Session, None])


class _LiveState:
    """What both kinds of subscription know, updated one server-sent event at a time (no I/O)."""

    def __init__(self, project_id: str, session_id: str | None, cache: QueryCache) -> None:
        self.project_id = project_id
        self.session_id = session_id
        self.cache = cache
        self.session: Session | None = None
        self.is_loading = session_id is not None
        self.error: SessionRuntimeError | None = None
        self.is_ended = False
        self.reconnects = 0
        self.failures_in_a_row = 0

    def request_headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if self.session is not None:
            headers["Last-Event-ID"] = str(self.session.version)
        return headers

    def connected(self) -> None:
        self.error = None
        self.failures_in_a_row = 0

    def receive(self, item: ServerSentEvent | Comment) -> Session | None:
        """The new snapshot ``item`` carries, if it carries one we have not seen."""
        if isinstance(item, Comment):
            return None
        if item.event == "end":
            self.is_ended = True
            self.is_loading = False
            return None
        if item.event == "erased":
            # The session is gone for good: forget it, say why, and stop following.
            self.is_ended = True
            self.is_loading = False
            self.session = None
            self.error = NotFoundError(
                "the session was erased", details={"resource": "session", "erased": True}
            )
            if self.session_id is not None:
                self.cache.invalidate(session_keys.detail(self.project_id, self.session_id))
            return None
        if item.event != "snapshot":
            return None
        try:
            session = Session.model_validate_json(item.data)
        except pydantic.ValidationError as exc:
            raise SessionRuntimeError(
                "the server sent a snapshot this client cannot read",
                details={"eventId": item.id},
            ) from exc
        if self.session is not None and session.version <= self.session.version:
            return None
        assert self.session_id is not None
        self.session = session
        self.is_loading = False
        self.cache.set_session(session_keys.detail(self.project_id, self.session_id), session)
        return session

    def fail(self, error: SessionRuntimeError) -> None:
        self.error = error
        self.is_loading = False


def _items(response: httpx.Response) -> Iterator[ServerSentEvent | Comment]:
    decoder = EventStreamDecoder()
    for chunk in response.iter_bytes():
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def _aitems(response: httpx.Response) -> AsyncGenerator[ServerSentEvent | Comment, None]:
    decoder = EventStreamDecoder()
    async for chunk in response.aiter_bytes():
        for item in decoder.feed(chunk):
            yield item
    for item in decoder.close():
        yield item


def _stream_timeout(timeout: httpx.Timeout, policy: ReconnectPolicy) -> httpx.Timeout:
    # A stream is quiet between changes, but never longer than a heartbeat: reading nothing
    # for `idle_timeout` means the connection is dead.
    return httpx.Timeout(
        connect=timeout.connect, read=policy.idle_timeout, write=timeout.write, pool=timeout.pool
    )


class _LiveView(Generic[HttpT, SnapshotsT]):
    """The read-only face both subscriptions share, and what they are made of."""

    def __init__(
        self,
        http: HttpT,
        cache: QueryCache,
        project_id: str,
        session_id: str | None,
        policy: ReconnectPolicy,
    ) -> None:
        self._http: HttpT = http
        self._policy = policy
        self._state = _LiveState(project_id, session_id, cache)
        self._path = "" if session_id is None else events_path(project_id, session_id)
        self._closing = threading.Event()
        # Held while a reader waits for the next snapshot: the blocking client may be read
        # from several threads, the async one from one task (which never waits for it).
        self._reading = threading.Lock()
        self._snapshots: SnapshotsT | None = None

    @property
    def is_closed(self) -> bool:
        return self._closing.is_set()

    def _retry_delay(self, error: SessionRuntimeError) -> float:
        """Seconds to wait before following again after ``error``; raises ``error`` when the
        policy gives up (it is then the subscription's final error)."""
        state = self._state
        state.failures_in_a_row += 1
        if not self._policy.should_retry(error, state.failures_in_a_row):
            state.fail(error)
            raise error
        state.error = error
        return self._policy.delay(state.failures_in_a_row, error)

    @property
    def project_id(self) -> str:
        return self._state.project_id

    @property
    def session_id(self) -> str | None:
        return self._state.session_id

    @property
    def session(self) -> Session | None:
        """The latest snapshot, or ``None`` before the first one (or when disabled)."""
        return self._state.session

    @property
    def is_loading(self) -> bool:
        """``True`` until the first snapshot arrives (or the subscription fails or closes)."""
        return self._state.is_loading

    @property
    def error(self) -> SessionRuntimeError | None:
        """The last error: while reconnecting, the one that dropped the stream; ``None`` once
        connected again; after giving up, the error that ended it."""
        return self._state.error

    @property
    def is_enabled(self) -> bool:
        """``False`` for ``subscribe_session(None)``: no stream, no session, never loading."""
        return self._state.session_id is not None

    @property
    def is_ended(self) -> bool:
        """Whether the server said the session reached a final status (iteration has stopped)."""
        return self._state.is_ended

    @property
    def reconnects(self) -> int:
        """How many times the stream was opened again after the first time."""
        return self._state.reconnects

    def __repr__(self) -> str:
        version = None if self.session is None else self.session.version
        return (
            f"<{type(self).__name__} {self.project_id}/{self.session_id} version={version} "
            f"loading={self.is_loading} error={self.error!r}>"
        )


class LiveSession(_LiveView[httpx.Client, Generator[Session, None, None]]):
    """A live view of one session, for the blocking client.

    >>> with project.subscribe_session(session_id) as live:          # doctest: +SKIP
    ...     for session in live:                # the current snapshot, then every change
    ...         print(session.version, session.current_step_index)
    >>> live.session.status                     # the last snapshot  # doctest: +SKIP
    <SessionStatus.COMPLETED: 'completed'>

    Iterate it from one thread at a time. ``close()`` from another thread takes effect at the
    stream's next event or heartbeat.
    """

    def __iter__(self) -> LiveSession:
        return self

    def __next__(self) -> Session:
        with self._reading:
            if self._closing.is_set() or self._state.session_id is None:
                raise StopIteration
            if self._snapshots is None:
                self._snapshots = self._follow()
            return next(self._snapshots)

    def close(self) -> None:
        """Stop following and let go of the connection. Closing twice is harmless."""
        self._closing.set()
        self._state.is_loading = False
        # A thread waiting in `__next__` holds the lock: it sees `_closing` at the stream's
        # next event or heartbeat and lets go of the connection itself.
        if self._reading.acquire(blocking=False):
            try:
                if self._snapshots is not None:
                    self._snapshots.close()
            finally:
                self._reading.release()

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _follow(self) -> Generator[Session, None, None]:
        state, policy = self._state, self._policy
        timeout = _stream_timeout(self._http.timeout, policy)
        while not self._closing.is_set():
            try:
                with (
                    map_transport_errors(),
                    self._http.stream(
                        "GET", self._path, headers=state.request_headers(), timeout=timeout
                    ) as response,
                ):
                    if response.status_code != 200:
                        response.read()
                        raise error_from_response(response)
                    state.connected()
                    for item in _items(response):
                        snapshot = state.receive(item)
                        if snapshot is not None:
                            yield snapshot
                        if state.is_ended or self._closing.is_set():
                            return
                delay = policy.delay(1)  # the server let go without `end`: follow again
            except SessionRuntimeError as error:
                delay = self._retry_delay(error)
            if self._closing.wait(delay):
                return
            state.reconnects += 1


class AsyncLiveSession(_LiveView[httpx.AsyncClient, AsyncGenerator[Session, None]]):
    """A live view of one session, for the async client.

    >>> async with project.subscribe_session(session_id) as live:    # doctest: +SKIP
    ...     async for session in live:
    ...         print(session.version, session.status)

    Iterate it from one task at a time; ``aclose()`` from another task takes effect at the
    stream's next event or heartbeat (cancel the iterating task to stop at once).
    """

    def __aiter__(self) -> AsyncLiveSession:
        return self

    async def __anext__(self) -> Session:
        if self._closing.is_set() or self._state.session_id is None:
            raise StopAsyncIteration
        if self._snapshots is None:
            self._snapshots = self._follow()
        return await anext(self._snapshots)

    async def aclose(self) -> None:
        """Stop following and let go of the connection. Closing twice is harmless."""
        self._closing.set()
        self._state.is_loading = False
        if self._snapshots is not None:
            try:
                await self._snapshots.aclose()
            except RuntimeError:
                pass  # being iterated by another task: it stops at its next event

    async def __aenter__(self) -> AsyncLiveSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _follow(self) -> AsyncGenerator[Session, None]:
        state, policy = self._state, self._policy
        timeout = _stream_timeout(self._http.timeout, policy)
        while not self._closing.is_set():
            try:
                with map_transport_errors():
                    async with self._http.stream(
                        "GET", self._path, headers=state.request_headers(), timeout=timeout
                    ) as response:
                        if response.status_code != 200:
                            await response.aread()
                            raise error_from_response(response)
                        state.connected()
                        async with aclosing(_aitems(response)) as items:
                            async for item in items:
                                snapshot = state.receive(item)
                                if snapshot is not None:
                                    yield snapshot
                                if state.is_ended or self._closing.is_set():
                                    return
                delay = policy.delay(1)
            except SessionRuntimeError as error:
                delay = self._retry_delay(error)
            await asyncio.sleep(delay)
            state.reconnects += 1
