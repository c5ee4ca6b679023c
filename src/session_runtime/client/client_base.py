"""What the blocking and the async client hold in common that does no I/O.

``AsyncSessionRuntimeClient`` (and ``SessionRuntimeClient``, generated from it) add only what
waits on the network: sending, joining, flushing, subscribing, closing. The cache, the reconnect
policy, the guest identity, the outbox's ledger and the views over them live here once, so the
two clients cannot drift apart on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
import pydantic

from ..domain.guest_views import JoinResponse
from ..domain.models import Session
from .cache import QueryCache
from .operations import Call
from .outbox import FailedWrite, Outbox, PendingWrite, SessionView, WriteFailedCallback
from .outbox_senders import OutboxLedger
from .reconnect import ReconnectPolicy

__all__ = ["ClientBase", "ProjectClientBase"]

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
ResultT = TypeVar("ResultT", bound=pydantic.BaseModel)


class ClientBase(Generic[HttpT]):
    """The state of a client beside its connection, and what can be read from it at once."""

    def __init__(
        self,
        http: HttpT,
        cache: QueryCache | None,
        reconnect: ReconnectPolicy | None,
        outbox: str | Path | None,
        outbox_policy: ReconnectPolicy,
        on_write_failed: WriteFailedCallback | None,
    ) -> None:
        self.cache = cache if cache is not None else QueryCache()
        self.reconnect = reconnect if reconnect is not None else ReconnectPolicy()
        self.guest: JoinResponse | None = None
        self._http: HttpT = http
        self._ledger: OutboxLedger | None = None
        if outbox is not None:
            self._ledger = OutboxLedger(Outbox(outbox), self.cache, outbox_policy, on_write_failed)

    @property
    def base_url(self) -> httpx.URL:
        return self._http.base_url

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    @property
    def has_outbox(self) -> bool:
        return self._ledger is not None

    @property
    def pending_writes(self) -> list[PendingWrite]:
        """The writes queued in the outbox, oldest first (none without an outbox)."""
        return [] if self._ledger is None else self._ledger.outbox.pending()

    @property
    def failed_writes(self) -> list[FailedWrite]:
        """Queued writes the server refused for good since this client started."""
        return [] if self._ledger is None else list(self._ledger.failed_writes)

    def session_view(self, project_id: str, session_id: str) -> SessionView:
        """The session's last server snapshot with the outbox's pending writes merged in."""
        if self._ledger is None:
            raise RuntimeError("this client has no outbox: pass outbox='path/to/outbox.db'")
        return self._ledger.view(project_id, session_id)

    def _cached_answer(self, call: Call[ResultT], use_cache: bool) -> ResultT | None:
        """The answer a fresh cache entry holds, when the caller allows the cache."""
        return call.cached(self.cache) if use_cache else None

    def _finish(self, call: Call[ResultT], response: httpx.Response) -> ResultT:
        """Read the server's answer; the outbox keeps a session it returns as its base."""
        result = call.finish(response, self.cache)
        if self._ledger is not None and isinstance(result, Session):
            self._ledger.outbox.remember(result)
        return result

    def _become_guest(self, identity: JoinResponse) -> None:
        """Become the guest that joined: its identity, and its token on every request."""
        self.guest = identity
        self._http.headers["Authorization"] = f"Bearer {identity.token}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"


ClientT = TypeVar("ClientT", bound=ClientBase[Any])


class ProjectClientBase(Generic[ClientT]):
    """One project's handle on a client: what it reads without asking the server."""

    def __init__(self, client: ClientT, project_id: str) -> None:
        self.client = client
        self.project_id = project_id

    def session_view(self, session_id: str) -> SessionView:
        """The session as this client sees it: the server's last snapshot with the outbox's
        pending writes merged in, and ``has_pending_writes`` (needs an outbox)."""
        return self.client.session_view(self.project_id, session_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.project_id!r} of {self.client!r}>"
