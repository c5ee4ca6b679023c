"""What the service needs from the outer rings: a ``Store`` and a ``ChangeFeed``.

The service knows these protocols only; SQLite, PostgreSQL and the real-time fan-out implement
them in ``storage/`` and ``realtime/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .guest_store import GuestStore
from .guests import SessionErased
from .idempotency import IdempotencyClaim
from .models import Event, Experience, Mode, Project, Session, SessionStatus
from .stats import StatsAggregate
from .tokens import TokenRecord

SessionMutation = Callable[[Session], Session | None]
"""Given the stored session, return the session to write, or ``None`` to leave it as it is.

Runs inside the store's transaction, with the row locked against other writers; it may raise a
``SessionRuntimeError`` to refuse, and then nothing is written.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionScope:
    """The sessions of one project, maybe of one event and of one experience: what a listing
    and the funnel figures both narrow by."""

    project_id: str
    event_id: str | None = None
    experience_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionQuery(SessionScope):
    """A page of a project's sessions, newest first (``created_at``, then ``id``, descending)."""

    limit: int
    status: SessionStatus | None = None
    mode: Mode | None = None
    created_by: str | None = None
    # Keyset: only sessions strictly older than this (created_at, id) position.
    before: tuple[datetime, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatsQuery(SessionScope):
    """Which sessions the funnel counts: one mode, optional filters, ``created_at`` in
    ``[created_from, created_to)``."""

    mode: Mode
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class PurgeQuery:
    """Sessions last updated before ``updated_before``, optionally of one mode or project."""

    updated_before: datetime
    mode: Mode | None = None
    project_id: str | None = None


@dataclass(frozen=True, slots=True)
class PurgeCount:
    """How many sessions of one project, mode and status a purge matched."""

    project_id: str
    mode: Mode
    status: SessionStatus
    count: int


class Store(GuestStore, Protocol):
    """Durable storage of the catalog, tokens, sessions and guests' links.

    Every method is one transaction. ``update_session`` reads the row, applies the mutation and
    writes the result atomically; concurrent updates of one session are serialised, never lost.
    Insert methods raise ``FailedPreconditionError`` when the id exists; writes raise
    ``ResourceExhaustedError`` when a session would exceed its size limit; storage that cannot
    be reached raises ``UnavailableError``.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert_project(self, project: Project) -> None: ...

    async def get_project(self, project_id: str) -> Project | None: ...

    async def list_projects(self) -> list[Project]: ...

    async def insert_event(self, event: Event) -> None: ...

    async def get_event(self, project_id: str, event_id: str) -> Event | None: ...

    async def list_events(self, project_id: str) -> list[Event]: ...

    async def insert_experience(self, experience: Experience) -> None: ...

    async def get_experience(self, project_id: str, experience_id: str) -> Experience | None: ...

    async def list_experiences(self, project_id: str) -> list[Experience]: ...

    async def insert_token(self, token: TokenRecord) -> None: ...

    async def find_token(self, token_hash: str) -> TokenRecord | None: ...

    async def list_tokens(self, project_id: str) -> list[TokenRecord]: ...

    async def revoke_token(self, token_id: str, revoked_at: datetime) -> TokenRecord | None: ...

    async def insert_session(
        self, session: Session, *, idempotency: IdempotencyClaim[Session] | None = None
    ) -> None:
        """Insert a new session. With ``idempotency``, first look for its key (raising
        ``RequestReplayed``, or ``ValidationError`` for a key reused on another request) and
        keep the key with its response in the same transaction as the insert."""
        ...

    async def get_session(self, project_id: str, session_id: str) -> Session | None: ...

    async def list_sessions(self, query: SessionQuery) -> list[Session]: ...

    async def update_session(
        self,
        project_id: str,
        session_id: str,
        mutation: SessionMutation,
        *,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> tuple[Session, bool]:
        """Apply ``mutation``; return the stored session and whether it was written.

        Raises ``NotFoundError`` when the session does not exist. ``idempotency`` as for
        ``insert_session``; the key is kept even when the mutation changes nothing.
        """
        ...

    async def prune_idempotency_records(self, now: datetime) -> int:
        """Delete the idempotency records that expired at or before ``now``; how many."""
        ...

    async def delete_idempotency_records_for_sessions(
        self, project_id: str, session_ids: Sequence[str]
    ) -> int:
        """Delete the idempotency records (stored responses) of these sessions; how many.

        For whoever deletes sessions (erasing a guest): a stored response holds the session's
        data. ``purge_sessions`` does it itself, in its own transactions.
        """
        ...

    async def session_stats(self, query: StatsQuery) -> StatsAggregate:
        """The funnel's raw figures, aggregated by the database (no session is loaded)."""
        ...

    async def stale_sessions(self, updated_before: datetime, limit: int) -> list[tuple[str, str]]:
        """``(project_id, session_id)`` of active sessions last updated before the cutoff,
        oldest first, at most ``limit``."""
        ...

    async def purge_sessions(self, query: PurgeQuery, *, dry_run: bool) -> list[PurgeCount]:
        """Delete the matching sessions (or, with ``dry_run``, only count them); return how
        many per project, mode and status. The only way a session is ever deleted. The
        idempotency records of the deleted sessions are deleted with them."""
        ...


class Channel(Protocol):
    """One subscriber's mailbox: the newest snapshot per session, never a backlog."""

    @property
    def is_closed(self) -> bool: ...

    def offer(self, session: Session) -> None: ...

    def take(self) -> Session | SessionErased | None:
        """The next snapshot waiting (or the notice that the session was erased), without
        waiting; ``None`` when nothing is."""
        ...

    async def wait(self) -> None:
        """Return once something is waiting or the channel is closed."""
        ...

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever something arrives, and once when the channel closes."""
        ...

    def close(self) -> None: ...


class ChangeFeed(Protocol):
    """Fans committed sessions out to subscribers."""

    def publish(self, session: Session) -> None: ...

    def publish_erased(self, project_id: str, session_id: str) -> None: ...

    def subscribe_session(self, project_id: str, session_id: str) -> Channel: ...

    def subscribe_project(self, project_id: str) -> Channel: ...
