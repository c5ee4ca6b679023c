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
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx
import pydantic

from ..domain import models
from ..domain.guest_views import CreatedShareLink, ErasureView
from ..domain.stats import SessionStats
from . import guest_operations, operations
from .cache import QueryCache
from .client_base import ClientBase, ProjectClientBase
from .errors import map_transport_errors
from .filters import SessionFilters, StatsFilters
from .live import AsyncLiveSession
from .operations import DEFAULT_TIMEOUT, Call, client_headers, new_session_id
from .outbox import DEFAULT_OUTBOX_POLICY, WriteFailedCallback
from .outbox_senders import AsyncOutboxSender
from .reconnect import ReconnectPolicy

__all__ = ["AsyncProjectClient", "AsyncSessionRuntimeClient"]

ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)


class AsyncSessionRuntimeClient(ClientBase[httpx.AsyncClient]):
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
        token: str | None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: QueryCache | None = None,
        reconnect: ReconnectPolicy | None = None,
        outbox: str | Path | None = None,
        on_write_failed: WriteFailedCallback | None = None,
        outbox_policy: ReconnectPolicy = DEFAULT_OUTBOX_POLICY,
    ) -> None:
        http = httpx.AsyncClient(
            base_url=base_url, headers=client_headers(token), timeout=timeout, transport=transport
        )
        super().__init__(http, cache, reconnect, outbox, outbox_policy, on_write_failed)
        self._outbox = None if self._ledger is None else AsyncOutboxSender(http, self._ledger)

    @classmethod
    async def join(
        cls,
        base_url: str | httpx.URL,
        code: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncSessionRuntimeClient:
        """Join by a link's code (no token needed) and get a client that is the new guest.

        ``client.guest`` holds the identity: ``token`` (keep it to come back), ``guest_id``
        (what ``created_by`` holds for its sessions), the project, the event, ``expires_at``.

        >>> guest = await AsyncSessionRuntimeClient.join(base_url, code)  # doctest: +SKIP
        >>> guest.guest.project_id                              # doctest: +SKIP
        'p1'
        """
        client = cls(base_url, None, timeout=timeout, transport=transport)
        try:
            identity = await client.send(guest_operations.join(code))
        except BaseException:
            await client.aclose()
            raise
        client._become_guest(identity)
        return client

    async def my_sessions(self, limit: int = 50) -> list[models.Session]:
        """The sessions this token created: active first, then newest first (resume).

        >>> [s.id for s in await client.my_sessions()]  # doctest: +SKIP
        """
        return (await self.send(guest_operations.my_sessions(limit))).items

    async def erase_me(self) -> ErasureView:
        """A guest erases itself: its sessions, their share links, its token (which stops
        working at once)."""
        return await self.send(guest_operations.erase_me())

    def project(self, project_id: str) -> AsyncProjectClient:
        """The operations on one project's sessions.

        >>> project = client.project("p1")                                  # doctest: +SKIP
        """
        return AsyncProjectClient(self, project_id)

    async def send(self, call: Call[ResultT], *, use_cache: bool = False) -> ResultT:
        """Run one operation (see ``session_runtime.client.operations``)."""
        cached = self._cached_answer(call, use_cache)
        if cached is not None:
            return cached
        if call.write is not None and self._outbox is not None:
            return await self._outbox.submit(call)
        request = call.build_request(self._http)
        with map_transport_errors():
            response = await self._http.send(request)
        return self._finish(call, response)

    async def flush(self, timeout: float = 30.0) -> bool:
        """Send the outbox's queued writes now, waiting up to ``timeout`` seconds for the
        server; ``True`` once none is left."""
        if self._outbox is None:
            return True
        return await self._outbox.flush(timeout)

    def _subscribe(
        self, project_id: str, session_id: str | None, reconnect: ReconnectPolicy | None
    ) -> AsyncLiveSession:
        policy = reconnect or self.reconnect
        return AsyncLiveSession(self._http, self.cache, project_id, session_id, policy)

    async def aclose(self) -> None:
        """Close the connections. Subscriptions opened through this client stop working;
        queued writes stay in the outbox for the next client on that file."""
        if self._outbox is not None:
            await self._outbox.close()
        if self._ledger is not None:
            self._ledger.outbox.close()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncSessionRuntimeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncProjectClient(ProjectClientBase[AsyncSessionRuntimeClient]):
    """The session operations of one project, as the contract's hooks name them."""

    async def create_session(
        self,
        *,
        event_id: str,
        experience_id: str,
        mode: models.Mode | str,
        config_source: models.ConfigSource | str,
        session_id: str | None = None,
    ) -> models.CreateSessionResult:
        """Start a session (``status="active"``, ``currentStepIndex=0``, ``version=1``).

        >>> created = await project.create_session(                          # doctest: +SKIP
        ...     event_id="e1", experience_id="x1", mode="guest", config_source="published")
        >>> created.session.version                                          # doctest: +SKIP
        1

        ``session_id`` names the session (22+ URL-safe random characters, see
        ``new_session_id``); a create repeated with it finds the session instead of making
        another.
        """
        return await self.client.send(
            operations.create_session(
                self.project_id,
                event_id=event_id,
                experience_id=experience_id,
                mode=mode,
                config_source=config_source,
                # Through an outbox the client names the session, so that writes to it can be
                # queued before the server has seen the create.
                session_id=session_id or (new_session_id() if self.client.has_outbox else None),
            )
        )

    async def get_session(self, session_id: str, *, use_cache: bool = False) -> models.Session:
        """The session as stored. With ``use_cache=True``, a fresh cached copy is returned
        without asking the server."""
        return await self.client.send(
            operations.get_session(self.project_id, session_id), use_cache=use_cache
        )

    async def list_sessions(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        use_cache: bool = False,
        **filters: Unpack[SessionFilters],
    ) -> models.SessionPage:
        """A page of sessions, newest first; pass ``page.next_cursor`` as ``cursor`` for more.

        The filters, each optional (see :class:`SessionFilters`): ``event_id``,
        ``experience_id``, ``status`` and ``mode``.

        >>> page = await project.list_sessions(status="active", limit=20)          # doctest: +SKIP
        """
        call = operations.list_sessions(self.project_id, limit=limit, cursor=cursor, **filters)
        return await self.client.send(call, use_cache=use_cache)

    async def session_stats(self, **filters: Unpack[StatsFilters]) -> SessionStats:
        """Funnel figures per experience (members only).

        The filters, each optional (see :class:`StatsFilters`): ``event_id``,
        ``experience_id``, ``mode`` (guest when left out), ``created_from`` and ``created_to``.

        >>> stats = await project.session_stats(experience_id="x1")          # doctest: +SKIP
        >>> [step.reached for step in stats.experiences[0].steps]           # doctest: +SKIP
        [12, 9, 7]
        """
        return await self.client.send(operations.session_stats(self.project_id, **filters))

    async def update_session_progress(
        self,
        session_id: str,
        *,
        current_step_index: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, models.MediaReference] | None = None,
        expected_version: int | None = None,
    ) -> models.Session:
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
    ) -> models.Session:
        """Mark the session completed. Repeating it is a harmless no-op."""
        return await self.client.send(
            operations.complete_session(
                self.project_id, session_id, expected_version=expected_version
            )
        )

    async def abandon_session(
        self, session_id: str, reason: str | None = None, *, expected_version: int | None = None
    ) -> models.Session:
        """Mark the session abandoned (the guest left), with an optional reason. Safe to retry."""
        return await self.client.send(
            operations.abandon_session(
                self.project_id, session_id, reason=reason, expected_version=expected_version
            )
        )

    async def fail_session(
        self, session_id: str, reason: str, *, expected_version: int | None = None
    ) -> models.Session:
        """Mark the session failed (status ``error``) with a reason. Safe to retry."""
        return await self.client.send(
            operations.fail_session(
                self.project_id, session_id, reason, expected_version=expected_version
            )
        )

    async def share_session(
        self, session_id: str, *, expires_in_seconds: int | None = None
    ) -> CreatedShareLink:
        """A public link to a completed session's outputs (never its inputs); ``url`` is shown
        only now. It expires (7 days unless asked for less) and can be revoked.

        >>> link = await project.share_session(session_id)  # doctest: +SKIP
        """
        return await self.client.send(
            guest_operations.share_session(
                self.project_id, session_id, expires_in_seconds=expires_in_seconds
            )
        )

    async def erase_guest(self, guest_id: str) -> ErasureView:
        """Erase one guest of the project (owners; a guest may erase itself): its sessions,
        their share links and its token. The answer gives the counts."""
        return await self.client.send(guest_operations.erase_guest(self.project_id, guest_id))

    def subscribe_session(
        self, session_id: str | None, *, reconnect: ReconnectPolicy | None = None
    ) -> AsyncLiveSession:
        """Follow one session live; ``None`` gives a disabled subscription (nothing to follow).

        >>> async with project.subscribe_session(session_id) as live:        # doctest: +SKIP
        ...     async for session in live:
        ...         print(session.version)
        """
        return self.client._subscribe(self.project_id, session_id, reconnect)
