"""The blocking client: ``SessionRuntimeClient`` and its per-project handle.

>>> from session_runtime.client import SessionRuntimeClient
>>> with SessionRuntimeClient("http://127.0.0.1:8000", token) as client:   # doctest: +SKIP
...     project = client.project("p1")
...     created = project.create_session(event_id="e1", experience_id="x1",
...                                      mode="guest", config_source="published")
...     project.update_session_progress(created.session_id, current_step_index=1,
...                                     inputs={"name": "Ada"})
...     project.complete_session(created.session_id)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
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
from .live import LiveSession
from .operations import DEFAULT_TIMEOUT, Call, client_headers, new_session_id
from .outbox import (
    DEFAULT_OUTBOX_POLICY,
    FailedWrite,
    Outbox,
    PendingWrite,
    SessionView,
    WriteFailedCallback,
)
from .outbox_senders import OutboxLedger, OutboxSender
from .reconnect import ReconnectPolicy

__all__ = ["ProjectClient", "SessionRuntimeClient"]

ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)


class SessionRuntimeClient:
    """Talks to a session-runtime server over HTTP, blocking; safe to share between threads.

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
        transport: httpx.BaseTransport | None = None,
        cache: QueryCache | None = None,
        reconnect: ReconnectPolicy | None = None,
        outbox: str | Path | None = None,
        on_write_failed: WriteFailedCallback | None = None,
        outbox_policy: ReconnectPolicy = DEFAULT_OUTBOX_POLICY,
    ) -> None:
        self.cache = cache if cache is not None else QueryCache()
        self.reconnect = reconnect if reconnect is not None else ReconnectPolicy()
        self._http = httpx.Client(
            base_url=base_url, headers=client_headers(token), timeout=timeout, transport=transport
        )
        self._outbox: OutboxSender | None = None
        if outbox is not None:
            ledger = OutboxLedger(Outbox(outbox), self.cache, outbox_policy, on_write_failed)
            self._outbox = OutboxSender(self._http, ledger)

    @property
    def base_url(self) -> httpx.URL:
        return self._http.base_url

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def project(self, project_id: str) -> ProjectClient:
        """The operations on one project's sessions.

        >>> project = client.project("p1")                                  # doctest: +SKIP
        """
        return ProjectClient(self, project_id)

    def send(self, call: Call[ResultT], *, use_cache: bool = False) -> ResultT:
        """Run one operation (see ``session_runtime.client.operations``)."""
        if use_cache:
            cached = call.cached(self.cache)
            if cached is not None:
                return cached
        if call.write is not None and self._outbox is not None:
            return self._outbox.submit(call)
        request = call.build_request(self._http)
        with map_transport_errors():
            response = self._http.send(request)
        result = call.finish(response, self.cache)
        if self._outbox is not None and isinstance(result, Session):
            self._outbox.ledger.outbox.remember(result)
        return result

    @property
    def has_outbox(self) -> bool:
        return self._outbox is not None

    def _ledger(self) -> OutboxLedger:
        if self._outbox is None:
            raise RuntimeError("this client has no outbox: pass outbox='path/to/outbox.db'")
        return self._outbox.ledger

    @property
    def pending_writes(self) -> list[PendingWrite]:
        """The writes queued in the outbox, oldest first (none without an outbox)."""
        return [] if self._outbox is None else self._outbox.ledger.outbox.pending()

    @property
    def failed_writes(self) -> list[FailedWrite]:
        """Queued writes the server refused for good since this client started."""
        return [] if self._outbox is None else list(self._outbox.ledger.failed_writes)

    def flush(self, timeout: float = 30.0) -> bool:
        """Send the outbox's queued writes now, waiting up to ``timeout`` seconds for the
        server; ``True`` once none is left."""
        if self._outbox is None:
            return True
        return self._outbox.flush(timeout)

    def session_view(self, project_id: str, session_id: str) -> SessionView:
        """The session's last server snapshot with the outbox's pending writes merged in."""
        return self._ledger().view(project_id, session_id)

    def _subscribe(
        self, project_id: str, session_id: str | None, reconnect: ReconnectPolicy | None
    ) -> LiveSession:
        policy = reconnect or self.reconnect
        return LiveSession(self._http, self.cache, project_id, session_id, policy)

    def close(self) -> None:
        """Close the connections. Subscriptions opened through this client stop working;
        queued writes stay in the outbox for the next client on that file."""
        if self._outbox is not None:
            self._outbox.close()
            self._outbox.ledger.outbox.close()
        self._http.close()

    def __enter__(self) -> SessionRuntimeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SessionRuntimeClient {self.base_url}>"


class ProjectClient:
    """The session operations of one project, as the contract's hooks name them."""

    def __init__(self, client: SessionRuntimeClient, project_id: str) -> None:
        self.client = client
        self.project_id = project_id

    def create_session(
        self,
        *,
        event_id: str,
        experience_id: str,
        mode: Mode | str,
        config_source: ConfigSource | str,
        session_id: str | None = None,
    ) -> CreateSessionResult:
        """Start a session (``status="active"``, ``currentStepIndex=0``, ``version=1``).

        >>> created = project.create_session(event_id="e1", experience_id="x1",  # doctest: +SKIP
        ...                                  mode="guest", config_source="published")
        >>> created.session.version                                          # doctest: +SKIP
        1

        ``session_id`` names the session (22+ URL-safe random characters, see
        ``new_session_id``); a create repeated with it finds the session instead of making
        another.
        """
        return self.client.send(
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

    def session_view(self, session_id: str) -> SessionView:
        """The session as this client sees it: the server's last snapshot with the outbox's
        pending writes merged in, and ``has_pending_writes`` (needs an outbox)."""
        return self.client.session_view(self.project_id, session_id)

    def get_session(self, session_id: str, *, use_cache: bool = False) -> Session:
        """The session as stored. With ``use_cache=True``, a fresh cached copy is returned
        without asking the server."""
        return self.client.send(
            operations.get_session(self.project_id, session_id), use_cache=use_cache
        )

    def list_sessions(
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

        >>> page = project.list_sessions(status="active", limit=20)          # doctest: +SKIP
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
        return self.client.send(call, use_cache=use_cache)

    def session_stats(
        self,
        event_id: str | None = None,
        experience_id: str | None = None,
        mode: Mode | str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> SessionStats:
        """Funnel figures per experience (members only; ``mode`` defaults to guest).

        >>> stats = project.session_stats(experience_id="x1")                # doctest: +SKIP
        >>> [step.reached for step in stats.experiences[0].steps]           # doctest: +SKIP
        [12, 9, 7]
        """
        return self.client.send(
            operations.session_stats(
                self.project_id,
                event_id=event_id,
                experience_id=experience_id,
                mode=mode,
                created_from=created_from,
                created_to=created_to,
            )
        )

    def update_session_progress(
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

        >>> project.update_session_progress(session_id, current_step_index=2,  # doctest: +SKIP
        ...     outputs={"portrait": {"mediaAssetId": "m1", "url": "https://cdn/m1.jpg"}})
        """
        return self.client.send(
            operations.update_session_progress(
                self.project_id,
                session_id,
                current_step_index=current_step_index,
                inputs=inputs,
                outputs=outputs,
                expected_version=expected_version,
            )
        )

    def complete_session(self, session_id: str, *, expected_version: int | None = None) -> Session:
        """Mark the session completed. Repeating it is a harmless no-op."""
        return self.client.send(
            operations.complete_session(
                self.project_id, session_id, expected_version=expected_version
            )
        )

    def abandon_session(
        self, session_id: str, reason: str | None = None, *, expected_version: int | None = None
    ) -> Session:
        """Mark the session abandoned (the guest left), with an optional reason. Safe to retry."""
        return self.client.send(
            operations.abandon_session(
                self.project_id, session_id, reason=reason, expected_version=expected_version
            )
        )

    def fail_session(
        self, session_id: str, reason: str, *, expected_version: int | None = None
    ) -> Session:
        """Mark the session failed (status ``error``) with a reason. Safe to retry."""
        return self.client.send(
            operations.fail_session(
                self.project_id, session_id, reason, expected_version=expected_version
            )
        )

    def subscribe_session(
        self, session_id: str | None, *, reconnect: ReconnectPolicy | None = None
    ) -> LiveSession:
        """Follow one session live; ``None`` gives a disabled subscription (nothing to follow).

        >>> with project.subscribe_session(session_id) as live:              # doctest: +SKIP
        ...     for session in live:
        ...         print(session.version)
        """
        return self.client._subscribe(self.project_id, session_id, reconnect)

    def __repr__(self) -> str:
        return f"<ProjectClient {self.project_id!r} of {self.client!r}>"
