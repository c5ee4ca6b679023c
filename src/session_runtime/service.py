"""The session operations: validate -> authorize -> one transaction -> publish the change.

``SessionService`` is every operation in one object, composed of three parts over one
``OperationContext`` (the store, the change feed, the clock, the observers): ``catalog``
(identity, tokens, projects, events, experiences: ``catalog_service``), ``sessions`` (this
module's ``SessionOperations``) and ``reports`` (the funnel, export, sweep and purge:
``reporting``). Each part reads on its own; the service offers every operation of each.

>>> service = SessionService(store, feed)                         # doctest: +SKIP
>>> principal = await service.authenticate(token)                 # doctest: +SKIP
>>> created = await service.create_session(principal, {           # doctest: +SKIP
...     "projectId": "p1", "eventId": "e1", "experienceId": "x1",
...     "mode": "guest", "configSource": "published"})
>>> await service.update_session_progress(principal, "p1", {     # doctest: +SKIP
...     "sessionId": created.session_id, "currentStepIndex": 1, "inputs": {"name": "Ada"}})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from .catalog_service import CatalogOperations
from .client_ids import repeated_create
from .domain.auth import (
    Guest,
    Principal,
    authorize_create,
    authorize_own_session,
    authorize_project_read,
    authorize_project_write,
    authorize_session_read,
)
from .domain.cursor import decode_cursor, encode_cursor
from .domain.errors import FailedPreconditionError, NotFoundError, PermissionDeniedError
from .domain.idempotency import IdempotencyClaim
from .domain.limits import check_json_field
from .domain.merge import deep_merge
from .domain.models import (
    AbandonSessionInput,
    CompleteSessionInput,
    CreateSessionInput,
    CreateSessionResult,
    FailSessionInput,
    ListSessionsInput,
    Session,
    SessionPage,
    SessionStatus,
    UpdateSessionProgressInput,
)
from .domain.ports import ChangeFeed, SessionQuery, Store
from .domain.state import check_progress_allowed, needs_transition
from .domain.timestamps import utc_now
from .domain.tokens import new_id
from .guests import GuestOperations, GuestPolicy
from .operations import Clock, Observer, OperationContext, OperationRecord, parse_input
from .reporting import ReportingOperations
from .subscriptions import ProjectSubscription, SessionSubscription

__all__ = [
    "Clock",
    "Observer",
    "OperationContext",
    "OperationRecord",
    "SessionOperations",
    "SessionService",
    "decode_cursor",
    "encode_cursor",
    "parse_input",
]

_SessionRef = str | Mapping[str, Any]


def _session_ref(data: _SessionRef | pydantic.BaseModel) -> Any:
    return {"sessionId": data} if isinstance(data, str) else data


class SessionService:
    """Every operation, over a ``Store`` and a ``ChangeFeed``: the catalog's, the sessions'
    and the reports', each served by the part that owns it (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        *,
        clock: Clock = utc_now,
        observers: tuple[Observer, ...] = (),
        token_cache_seconds: float = 0.0,
        guest_policy: GuestPolicy | None = None,
    ) -> None:
        self.context = OperationContext(
            store=store,
            feed=feed,
            clock=clock,
            observers=list(observers),
            token_cache_seconds=token_cache_seconds,
        )
        self.catalog = catalog = CatalogOperations(self.context)
        self.sessions = sessions = SessionOperations(self.context, catalog)
        self.reports = reports = ReportingOperations(self.context, sessions.list_sessions)
        self.guests = GuestOperations(self.context, catalog, guest_policy or GuestPolicy())

        # The context's parts, for callers that reach past the operations (tools, tests).
        self.store, self.feed, self.clock = store, feed, clock
        # Told of every operation; append to it to add one (metrics, error tracking).
        self.observers = self.context.observers

        self.authenticate = catalog.authenticate
        self.create_member_token = catalog.create_member_token
        self.create_guest_token = catalog.create_guest_token
        self.list_tokens = catalog.list_tokens
        self.revoke_token = catalog.revoke_token
        self.create_project = catalog.create_project
        self.list_projects = catalog.list_projects
        self.get_project = catalog.get_project
        self.create_event = catalog.create_event
        self.list_events = catalog.list_events
        self.create_experience = catalog.create_experience
        self.list_experiences = catalog.list_experiences

        self.create_session = sessions.create_session
        self.get_session = sessions.get_session
        self.list_sessions = sessions.list_sessions
        self.update_session_progress = sessions.update_session_progress
        self.complete_session = sessions.complete_session
        self.abandon_session = sessions.abandon_session
        self.fail_session = sessions.fail_session
        self.subscribe_session = sessions.subscribe_session
        self.subscribe_project = sessions.subscribe_project

        self.session_stats = reports.session_stats
        self.first_export_page = reports.first_export_page
        self.export_sessions = reports.export_sessions
        self.sweep_stale_sessions = reports.sweep_stale_sessions
        self.purge_sessions = reports.purge_sessions


@dataclass(frozen=True, slots=True)
class SessionOperations:
    """The operations on sessions: create, read, list, record progress, finish, follow."""

    context: OperationContext
    catalog: CatalogOperations  # a new session's project, event and experience must exist

    async def create_session(
        self,
        principal: Principal,
        data: CreateSessionInput | Mapping[str, Any],
        *,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> CreateSessionResult:
        """Start a session: ``status="active"``, ``currentStepIndex=0``, ``version=1``.

        A client-chosen ``sessionId`` already taken: see ``client_ids.repeated_create``."""
        with self.context.operation("create"):
            parsed = parse_input(CreateSessionInput, data)
            authorize_create(principal, parsed)
            await self.catalog.check_catalog(parsed)
            now = self.context.clock()
            session = Session.trusted(
                id=parsed.session_id or new_id(),
                # Where it runs and on which config: as the input says, field for field.
                **parsed.model_dump(exclude={"session_id"}),
                status=SessionStatus.ACTIVE,
                current_step_index=0,
                inputs={},
                outputs={},
                created_by=principal.created_by,
                created_at=now,
                updated_at=now,
                completed_at=None,
                end_reason=None,
                version=1,
            )
            try:
                await self.context.store.insert_session(session, idempotency=idempotency)
            except FailedPreconditionError:
                if parsed.session_id is None:
                    raise
                return await repeated_create(self.context.store, principal, parsed)
            self.context.feed.publish(session)
            return CreateSessionResult(session_id=session.id, session=session)

    async def get_session(self, principal: Principal, project_id: str, session_id: str) -> Session:
        with self.context.operation("get"):
            return await self.context.readable_session(principal, project_id, session_id)

    async def list_sessions(
        self,
        principal: Principal,
        project_id: str,
        data: ListSessionsInput | Mapping[str, Any] | None = None,
    ) -> SessionPage:
        """A page of the project's sessions, newest first; a guest sees only its own."""
        with self.context.operation("list"):
            parsed = parse_input(ListSessionsInput, data or {})
            authorize_project_read(principal, project_id)
            query = SessionQuery(
                project_id=project_id,
                limit=parsed.limit + 1,
                event_id=parsed.event_id,
                experience_id=parsed.experience_id,
                status=parsed.status,
                mode=parsed.mode,
                created_by=principal.created_by if isinstance(principal, Guest) else None,
                before=decode_cursor(parsed.cursor) if parsed.cursor else None,
            )
            sessions = await self.context.store.list_sessions(query)
            if len(sessions) <= parsed.limit:
                return SessionPage(items=sessions)
            items = sessions[: parsed.limit]
            return SessionPage(items=items, next_cursor=encode_cursor(items[-1]))

    async def update_session_progress(
        self,
        principal: Principal,
        project_id: str,
        data: UpdateSessionProgressInput | Mapping[str, Any],
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> Session:
        """Record progress: ``inputs``/``outputs`` deep-merge, ``currentStepIndex`` replaces."""
        with self.context.operation("update"):
            parsed = parse_input(UpdateSessionProgressInput, data)
            if parsed.inputs is not None:
                check_json_field("inputs", parsed.inputs)
            if parsed.outputs is not None:
                check_json_field("outputs", parsed.outputs)
            authorize_project_write(principal, project_id)
            clock = self.context.clock

            def mutation(current: Session) -> Session:
                authorize_own_session(principal, current)
                check_progress_allowed(current.status)
                _check_version(current, expected_version)
                changes: dict[str, Any] = {
                    "updated_at": clock(),
                    "version": current.version + 1,
                }
                if parsed.current_step_index is not None:
                    changes["current_step_index"] = parsed.current_step_index
                if parsed.inputs:
                    changes["inputs"] = deep_merge(current.inputs, parsed.inputs)
                if parsed.outputs:
                    changes["outputs"] = deep_merge(current.outputs, parsed.outputs)
                return current.evolve(**changes)

            return await self._write(project_id, parsed.session_id, mutation, idempotency)

    async def complete_session(
        self,
        principal: Principal,
        project_id: str,
        data: CompleteSessionInput | _SessionRef,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> Session:
        """Mark the session completed; ``completedAt == updatedAt``. Safe to retry."""
        with self.context.operation("complete"):
            parsed = parse_input(CompleteSessionInput, _session_ref(data))
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.COMPLETED,
                None, expected_version, idempotency,
            )  # fmt: skip

    async def abandon_session(
        self,
        principal: Principal,
        project_id: str,
        data: AbandonSessionInput | _SessionRef,
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> Session:
        """Mark the session abandoned (the guest left), with an optional reason. Safe to retry."""
        with self.context.operation("abandon"):
            parsed = parse_input(AbandonSessionInput, _session_ref(data))
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.ABANDONED,
                parsed.reason, expected_version, idempotency,
            )  # fmt: skip

    async def fail_session(
        self,
        principal: Principal,
        project_id: str,
        data: FailSessionInput | Mapping[str, Any],
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> Session:
        """Mark the session failed (status ``error``) with a short reason. Safe to retry."""
        with self.context.operation("fail"):
            parsed = parse_input(FailSessionInput, data)
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.ERROR,
                parsed.reason, expected_version, idempotency,
            )  # fmt: skip

    async def _finish(
        self,
        principal: Principal,
        project_id: str,
        session_id: str,
        target: SessionStatus,
        reason: str | None,
        expected_version: int | None,
        idempotency: IdempotencyClaim[Session] | None,
    ) -> Session:
        authorize_project_write(principal, project_id)
        clock = self.context.clock

        def mutation(current: Session) -> Session | None:
            authorize_own_session(principal, current)
            if not needs_transition(current.status, target):
                return None
            _check_version(current, expected_version)
            now = clock()
            return current.evolve(
                status=target,
                updated_at=now,
                completed_at=now if target is SessionStatus.COMPLETED else None,
                end_reason=reason,
                version=current.version + 1,
            )

        return await self._write(project_id, session_id, mutation, idempotency)

    async def _write(
        self,
        project_id: str,
        session_id: str,
        mutation: Callable[[Session], Session | None],
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> Session:
        session, changed = await self.context.store.update_session(
            project_id, session_id, mutation, idempotency=idempotency
        )
        if changed:
            self.context.feed.publish(session)
        return session

    # -- subscriptions --------------------------------------------------------------------

    async def subscribe_session(
        self, principal: Principal, project_id: str, session_id: str
    ) -> SessionSubscription:
        """Follow one session: the current snapshot first, then one per change.

        A slow consumer gets the latest snapshot (older ones coalesce) and never blocks a
        writer. Iteration ends after a final status; close the subscription to stop earlier.
        """
        with self.context.operation("subscribe"):
            authorize_project_read(principal, project_id)
            # Register before reading, so that no change between the read and the
            # registration can be missed.
            channel = self.context.feed.subscribe_session(project_id, session_id)
            try:
                session = await self.context.store.get_session(project_id, session_id)
                if session is None:
                    raise NotFoundError.of("session", session_id)
                authorize_session_read(principal, session)
            except BaseException:
                channel.close()
                raise
            channel.offer(session)
            return SessionSubscription(channel)

    async def subscribe_project(self, principal: Principal, project_id: str) -> ProjectSubscription:
        """Follow every session of a project (members only): one item per change."""
        with self.context.operation("subscribe"):
            authorize_project_read(principal, project_id)
            if isinstance(principal, Guest):
                raise PermissionDeniedError("a guest cannot follow a whole project")
            return ProjectSubscription(self.context.feed.subscribe_project(project_id))


def _check_version(current: Session, expected_version: int | None) -> None:
    if expected_version is not None and current.version != expected_version:
        raise FailedPreconditionError(
            f"the session is at version {current.version}, not {expected_version}",
            details={"version": current.version, "expected": expected_version},
        )
