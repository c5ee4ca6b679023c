"""The async client: ``AsyncSessionRuntimeClient`` and its per-project handle.

Every operation is awaited::

    async with AsyncSessionRuntimeClient("http://127.0.0.1:8000", token) as client:
        project = client.project("p1")
        created = await project.create_session(
            event_id="e1", experience_id="x1", mode="guest", config_source="published"
        )
        await project.update_session_progress(created.session_id, current_step_index=1)
        async with project.subscribe_session(created.session_id) as live:
            async for session in live:
                print(session.version, session.status)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pydantic

from ..domain.models import (
    ConfigSource,
    CreateSessionResult,
    MediaReference,
    Mode,
    Session,
    SessionPage,
    SessionStatus,
)
from ..domain.stats import SessionStats
from . import operations
from .cache import QueryCache
from .errors import map_transport_errors
from .live import AsyncLiveSession
from .operations import DEFAULT_TIMEOUT, Call, client_headers
from .reconnect import ReconnectPolicy

__all__ = ["AsyncProjectClient", "AsyncSessionRuntimeClient"]

ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)


class AsyncSessionRuntimeClient:
    """Talks to a session-runtime server over HTTP, from asyncio; share it within one loop.

    ``token`` is a member or guest token. ``transport`` replaces httpx's network transport (to
    mount an app in-process, say). ``cache`` and ``reconnect`` default to a fresh
    :class:`QueryCache` and :class:`ReconnectPolicy`.

    Failures raise the server's own error classes (``NotFoundError``,
    ``FailedPreconditionError``, ...); a server that cannot be reached raises
    ``UnavailableError``.
    """

    def __init__(
        self,
        base_url: str | httpx.URL,
        token: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: QueryCache | None = None,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        self.cache = cache if cache is not None else QueryCache()
        self.reconnect = reconnect if reconnect is not None else ReconnectPolicy()
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=client_headers(token), timeout=timeout, transport=transport
        )

    @property
    def base_url(self) -> httpx.URL:
        return self._http.base_url

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def project(self, project_id: str) -> AsyncProjectClient:
        """The operations on one project's sessions.

        >>> project = client.project("p1")                                  # doctest: +SKIP
        """
        return AsyncProjectClient(self, project_id)

    async def send(self, call: Call[ResultT], *, use_cache: bool = False) -> ResultT:
        """Run one operation (see ``session_runtime.client.operations``)."""
        if use_cache:
            cached = call.cached(self.cache)
            if cached is not None:
                return cached
        request = call.build_request(self._http)
        with map_transport_errors():
            response = await self._http.send(request)
        return call.finish(response, self.cache)

    def _subscribe(
        self, project_id: str, session_id: str | None, reconnect: ReconnectPolicy | None
    ) -> AsyncLiveSession:
        policy = reconnect or self.reconnect
        return AsyncLiveSession(self._http, self.cache, project_id, session_id, policy)

    async def aclose(self) -> None:
        """Close the connections. Subscriptions opened through this client stop working."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSessionRuntimeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncSessionRuntimeClient {self.base_url}>"


class AsyncProjectClient:
    """The session operations of one project, as the contract's hooks name them."""

    def __init__(self, client: AsyncSessionRuntimeClient, project_id: str) -> None:
        self.client = client
        self.project_id = project_id

    async def create_session(
        self,
        *,
        event_id: str,
        experience_id: str,
        mode: Mode | str,
        config_source: ConfigSource | str,
    ) -> CreateSessionResult:
        """Start a session (``status="active"``, ``currentStepIndex=0``, ``version=1``).

        >>> created = await project.create_session(                          # doctest: +SKIP
        ...     event_id="e1", experience_id="x1", mode="guest", config_source="published")
        >>> created.session.version                                          # doctest: +SKIP
        1
        """
        return await self.client.send(
            operations.create_session(
                self.project_id,
                event_id=event_id,
                experience_id=experience_id,
                mode=mode,
                config_source=config_source,
            )
        )

    async def get_session(self, session_id: str, *, use_cache: bool = False) -> Session:
        """The session as stored. With ``use_cache=True``, a fresh cached copy is returned
        without asking the server."""
        return await self.client.send(
            operations.get_session(self.project_id, session_id), use_cache=use_cache
        )

    async def list_sessions(
        self,
        event_id: str | None = None,
        experience_id: str | None = None,
        status: SessionStatus | str | None = None,
        mode: Mode | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        *,
        use_cache: bool = False,
    ) -> SessionPage:
        """A page of sessions, newest first; pass ``page.next_cursor`` as ``cursor`` for more.

        >>> page = await project.list_sessions(status="active", limit=20)          # doctest: +SKIP
        """
        call = operations.list_sessions(
            self.project_id,
            event_id=event_id,
            experience_id=experience_id,
            status=status,
            mode=mode,
            limit=limit,
            cursor=cursor,
        )
        return await self.client.send(call, use_cache=use_cache)

    async def session_stats(
        self,
        event_id: str | None = None,
        experience_id: str | None = None,
        mode: Mode | str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> SessionStats:
        """Funnel figures per experience (members only; ``mode`` defaults to guest).

        >>> stats = await project.session_stats(experience_id="x1")          # doctest: +SKIP
        >>> [step.reached for step in stats.experiences[0].steps]           # doctest: +SKIP
        [12, 9, 7]
        """
        return await self.client.send(
            operations.session_stats(
                self.project_id,
                event_id=event_id,
                experience_id=experience_id,
                mode=mode,
                created_from=created_from,
                created_to=created_to,
            )
        )

    async def update_session_progress(
        self,
        session_id: str,
        *,
        current_step_index: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, MediaReference] | None = None,
        expected_version: int | None = None,
    ) -> Session:
        """Record progress: ``inputs``/``outputs`` deep-merge, ``current_step_index`` replaces.

        With ``expected_version`` the write happens only if the session is still at that
        version (``If-Match``), else ``FailedPreconditionError``.

        >>> await project.update_session_progress(                           # doctest: +SKIP
        ...     session_id, current_step_index=2,
        ...     outputs={"portrait": {"mediaAssetId": "m1", "url": "https://cdn/m1.jpg"}})
        """
        return await self.client.send(
            operations.update_session_progress(
                self.project_id,
                session_id,
                current_step_index=current_step_index,
                inputs=inputs,
                outputs=outputs,
                expected_version=expected_version,
            )
        )

    async def complete_session(
        self, session_id: str, *, expected_version: int | None = None
    ) -> Session:
        """Mark the session completed. Repeating it is a harmless no-op."""
        return await self.client.send(
            operations.complete_session(
                self.project_id, session_id, expected_version=expected_version
            )
        )

    async def abandon_session(
        self, session_id: str, reason: str | None = None, *, expected_version: int | None = None
    ) -> Session:
        """Mark the session abandoned (the guest left), with an optional reason. Safe to retry."""
        return await self.client.send(
            operations.abandon_session(
                self.project_id, session_id, reason=reason, expected_version=expected_version
            )
        )

    async def fail_session(
        self, session_id: str, reason: str, *, expected_version: int | None = None
    ) -> Session:
        """Mark the session failed (status ``error``) with a reason. Safe to retry."""
        return await self.client.send(
            operations.fail_session(
                self.project_id, session_id, reason, expected_version=expected_version
            )
        )

    def subscribe_session(
        self, session_id: str | None, *, reconnect: ReconnectPolicy | None = None
    ) -> AsyncLiveSession:
        """Follow one session live; ``None`` gives a disabled subscription (nothing to follow).

        >>> async with project.subscribe_session(session_id) as live:        # doctest: +SKIP
        ...     async for session in live:
        ...         print(session.version)
        """
        return self.client._subscribe(self.project_id, session_id, reconnect)

    def __repr__(self) -> str:
        return f"<AsyncProjectClient {self.project_id!r} of {self.client!r}>"
