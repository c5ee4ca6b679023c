"""Operations over many sessions at once: the funnel, export, the stale-session sweep and
retention. One part of ``SessionService``, over the ``OperationContext`` the parts share; it
reads sessions through the listing operation it is given, as any caller would.

>>> stats = await service.session_stats(owner, "p1", {"experienceId": "x1"})  # doctest: +SKIP
>>> swept = await service.sweep_stale_sessions(timedelta(minutes=30))        # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .domain.auth import Guest, Principal, System, authorize_project_read
from .domain.errors import NotFoundError, PermissionDeniedError
from .domain.models import ListSessionsInput, Mode, Session, SessionPage, SessionStatus
from .domain.ports import PurgeCount, PurgeQuery, StatsQuery
from .domain.stats import SessionStats, StatsInput, build_stats
from .operations import OperationContext, parse_input

logger = logging.getLogger(__name__)

EXPORT_PAGE_SIZE = 500
"""Sessions read per page while exporting (the largest page a listing gives): memory stays
that of one page, however many sessions match."""

SWEEP_BATCH = 500

ListSessions = Callable[[Principal, str, Mapping[str, Any]], Awaitable[SessionPage]]
"""The listing operation (``SessionService.list_sessions``): a page of a project's sessions."""


def stale_reason(idle_after: timedelta) -> str:
    """What a swept session's ``endReason`` says: ``no update for 30 minutes``.

    >>> stale_reason(timedelta(seconds=90))
    'no update for 90 seconds'
    """
    seconds = idle_after.total_seconds()
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"no update for {minutes} minute{'s' if minutes != 1 else ''}"
    return f"no update for {seconds:g} second{'s' if seconds != 1 else ''}"


@dataclass(frozen=True, slots=True)
class ReportingOperations:
    """The funnel, export, the sweeper's pass and purge, over the context's ``Store``."""

    context: OperationContext
    list_sessions: ListSessions

    async def session_stats(
        self,
        principal: Principal,
        project_id: str,
        data: StatsInput | Mapping[str, Any] | None = None,
    ) -> SessionStats:
        """Per experience: sessions that reached each step, how they ended, the median time
        to complete. Members only; ``mode`` defaults to ``guest`` (previews are not
        analytics). Aggregated by the database: no session is loaded."""
        with self.context.operation("stats"):
            parsed = parse_input(StatsInput, data or {})
            authorize_project_read(principal, project_id)
            if isinstance(principal, Guest):
                raise PermissionDeniedError("a guest cannot read a project's figures")
            if await self.context.store.get_project(project_id) is None:
                raise NotFoundError.of("project", project_id)
            aggregate = await self.context.store.session_stats(
                StatsQuery(
                    project_id=project_id,
                    mode=parsed.mode,
                    event_id=parsed.event_id,
                    experience_id=parsed.experience_id,
                    created_from=parsed.from_,
                    created_to=parsed.to,
                )
            )
            return build_stats(project_id, parsed, aggregate)

    async def first_export_page(
        self,
        principal: Principal,
        project_id: str,
        data: ListSessionsInput | Mapping[str, Any] | None = None,
    ) -> tuple[SessionPage, Mapping[str, Any]]:
        """The first page of an export, so that a refusal comes before anything is sent;
        pass both to ``export_sessions``."""
        given = data.model_dump(exclude_none=True) if isinstance(data, ListSessionsInput) else data
        filters = {
            key: value
            for key, value in {**(given or {}), "limit": EXPORT_PAGE_SIZE}.items()
            if value is not None and key != "cursor"
        }
        with self.context.operation("export"):
            authorize_project_read(principal, project_id)
            if await self.context.store.get_project(project_id) is None:
                raise NotFoundError.of("project", project_id)
            return await self.list_sessions(principal, project_id, filters), filters

    async def export_sessions(
        self,
        principal: Principal,
        project_id: str,
        first_page: SessionPage,
        filters: Mapping[str, Any],
    ) -> AsyncIterator[Session]:
        """Every matching session, newest first, a page at a time (keyset pages: sessions
        created meanwhile do not shift the pages still to read)."""
        page = first_page
        while True:
            for session in page.items:
                yield session
            if page.next_cursor is None:
                return
            page = await self.list_sessions(
                principal, project_id, {**filters, "cursor": page.next_cursor}
            )

    async def sweep_stale_sessions(
        self, idle_after: timedelta, *, limit: int = SWEEP_BATCH
    ) -> list[Session]:
        """Abandon active sessions with no update for longer than ``idle_after``.

        Each is re-checked inside its own transaction, so with several server nodes sweeping
        the same database every session is swept once, and a session updated meanwhile is
        left alone. Each change is published like any other. Returns the swept sessions (at
        most ``limit``; call again while it returns that many).
        """
        with self.context.operation("sweep"):
            cutoff = self.context.clock() - idle_after
            reason = stale_reason(idle_after)
            clock = self.context.clock

            def mutation(current: Session) -> Session | None:
                if current.status is not SessionStatus.ACTIVE or current.updated_at >= cutoff:
                    return None
                return current.evolve(
                    status=SessionStatus.ABANDONED,
                    updated_at=clock(),
                    end_reason=reason,
                    version=current.version + 1,
                )

            swept = []
            for project_id, session_id in await self.context.store.stale_sessions(cutoff, limit):
                try:
                    session, changed = await self.context.store.update_session(
                        project_id, session_id, mutation
                    )
                except NotFoundError:  # purged meanwhile
                    continue
                if changed:
                    self.context.feed.publish(session)
                    swept.append(session)
            if swept:
                logger.info("stale sessions abandoned: %d (%s)", len(swept), reason)
            return swept

    async def purge_sessions(
        self,
        principal: Principal,
        older_than: timedelta,
        *,
        mode: Mode | None = None,
        project_id: str | None = None,
        dry_run: bool = False,
    ) -> list[PurgeCount]:
        """Delete sessions last updated more than ``older_than`` ago (an operator's act:
        nothing else deletes a session). With ``dry_run`` only count them."""
        with self.context.operation("purge"):
            if not isinstance(principal, System):
                raise PermissionDeniedError("only an operator may delete sessions")
            if older_than <= timedelta(0):
                raise ValueError("older_than must be positive")
            query = PurgeQuery(
                updated_before=self.context.clock() - older_than, mode=mode, project_id=project_id
            )
            counts = await self.context.store.purge_sessions(query, dry_run=dry_run)
            logger.info(
                "sessions last updated before %s %s: %d",
                query.updated_before.isoformat(),
                "to delete" if dry_run else "deleted",
                sum(count.count for count in counts),
            )
            return counts
