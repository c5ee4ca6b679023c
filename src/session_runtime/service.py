"""The session operations: validate -> authorize -> one transaction -> publish the change.

>>> service = SessionService(store, feed)                         # doctest: +SKIP
>>> principal = await service.authenticate(token)                 # doctest: +SKIP
>>> created = await service.create_session(principal, {           # doctest: +SKIP
...     "projectId": "p1", "eventId": "e1", "experienceId": "x1",
...     "mode": "guest", "configSource": "published"})
>>> await service.update_session_progress(principal, "p1", {     # doctest: +SKIP
...     "sessionId": created.session_id, "currentStepIndex": 1, "inputs": {"name": "Ada"}})
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pydantic

from .domain.auth import (
    Guest,
    Member,
    Principal,
    Role,
    authorize_create,
    authorize_own_session,
    authorize_project_admin,
    authorize_project_read,
    authorize_project_write,
    authorize_session_read,
)
from .domain.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
    SessionRuntimeError,
    UnauthenticatedError,
    ValidationError,
)
from .domain.limits import check_json_field
from .domain.merge import deep_merge
from .domain.models import (
    AbandonSessionInput,
    CompleteSessionInput,
    CreateEventInput,
    CreateExperienceInput,
    CreateProjectInput,
    CreateSessionInput,
    CreateSessionResult,
    Event,
    Experience,
    FailSessionInput,
    ListSessionsInput,
    Project,
    Session,
    SessionPage,
    SessionStatus,
    UpdateSessionProgressInput,
)
from .domain.ports import ChangeFeed, SessionQuery, Store
from .domain.state import check_progress_allowed, needs_transition
from .domain.timestamps import from_micros, to_micros, utc_now
from .domain.tokens import TokenKind, TokenRecord, hash_token, new_id, new_secret
from .subscriptions import ProjectSubscription, SessionSubscription

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """What an observer (metrics, error tracking) learns about every operation."""

    action: str
    seconds: float
    error: BaseException | None = None

    @property
    def outcome(self) -> str:
        if self.error is None:
            return "ok"
        if isinstance(self.error, SessionRuntimeError):
            return self.error.code
        return "INTERNAL"


Observer = Callable[[OperationRecord], None]


class _Operation:
    """Times one operation, logs it and tells the observers how it ended."""

    __slots__ = ("action", "observers", "started")

    def __init__(self, action: str, observers: list[Observer]) -> None:
        self.action = action
        self.observers = observers
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(
        self, exc_type: type[BaseException] | None, error: BaseException | None, tb: object
    ) -> None:
        record = OperationRecord(self.action, time.perf_counter() - self.started, error)
        if error is not None:
            logger.info("%s failed: %s", self.action, record.outcome)
        for observer in self.observers:
            observer(record)


def parse_input(model: type[ModelT], data: ModelT | Mapping[str, Any]) -> ModelT:
    """Validate ``data`` into ``model``, turning pydantic's errors into ``ValidationError``."""
    if type(data) is not dict:
        if isinstance(data, model):
            return data
        if not isinstance(data, Mapping):
            raise ValidationError.at("$", "the input must be an object")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            {
                "path": ".".join(str(part) for part in error["loc"]) or "$",
                "message": error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:3])
        raise ValidationError(f"invalid input: {summary}", details=problems) from None


_SessionRef = str | Mapping[str, Any]


def _session_ref(data: _SessionRef | pydantic.BaseModel) -> Any:
    return {"sessionId": data} if isinstance(data, str) else data


class SessionService:
    """Every session operation, over any ``Store`` and ``ChangeFeed``."""

    def __init__(
        self,
        store: Store,
        feed: ChangeFeed,
        *,
        clock: Clock = utc_now,
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.store = store
        self.feed = feed
        self.clock = clock
        self.observers = list(observers)
        # The catalog never loses a record, so a triple seen once stays valid.
        self._known_catalog: set[tuple[str, str, str]] = set()

    def _operation(self, action: str) -> _Operation:
        return _Operation(action, self.observers)

    # -- identity -------------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> Principal:
        """The principal a bearer token stands for; ``UnauthenticatedError`` otherwise."""
        with self._operation("authenticate"):
            if not token:
                raise UnauthenticatedError("a bearer token is required")
            record = await self.store.find_token(hash_token(token))
            if record is None or record.is_revoked:
                raise UnauthenticatedError("the token is unknown or revoked")
            return record.principal()

    async def create_member_token(
        self, principal: Principal, project_id: str, *, user: str, role: Role | str
    ) -> tuple[TokenRecord, str]:
        """A token for a member of the project. The secret is returned once, never stored."""
        with self._operation("create_token"):
            authorize_project_admin(principal, project_id)
            if not user or len(user) > 200:
                raise ValidationError.at("user", "must be 1 to 200 characters")
            try:
                role = Role(role)
            except ValueError:
                raise ValidationError.at("role", "must be owner, editor or viewer") from None
            await self._require_project(project_id)
            return await self._issue_token(project_id, TokenKind.MEMBER, user=user, role=role)

    async def create_guest_token(
        self, principal: Principal, project_id: str, *, event_id: str | None = None
    ) -> tuple[TokenRecord, str]:
        """A guest token (a kiosk, a join link), optionally bound to one event."""
        with self._operation("create_token"):
            authorize_project_admin(principal, project_id)
            await self._require_project(project_id)
            if event_id is not None and await self.store.get_event(project_id, event_id) is None:
                raise NotFoundError.of("event", event_id)
            return await self._issue_token(project_id, TokenKind.GUEST, event_id=event_id)

    async def _issue_token(
        self,
        project_id: str,
        kind: TokenKind,
        *,
        user: str | None = None,
        role: Role | None = None,
        event_id: str | None = None,
    ) -> tuple[TokenRecord, str]:
        secret = new_secret()
        record = TokenRecord(
            id=new_id(),
            project_id=project_id,
            kind=kind,
            token_hash=hash_token(secret),
            created_at=self.clock(),
            user=user,
            role=role,
            event_id=event_id,
        )
        await self.store.insert_token(record)
        return record, secret

    async def list_tokens(self, principal: Principal, project_id: str) -> list[TokenRecord]:
        with self._operation("list_tokens"):
            authorize_project_admin(principal, project_id)
            return await self.store.list_tokens(project_id)

    async def revoke_token(self, principal: Principal, token_id: str) -> TokenRecord:
        """Revoke a token at once; revoking twice is harmless."""
        with self._operation("revoke_token"):
            if isinstance(principal, Member | Guest):
                tokens = await self.store.list_tokens(principal.project_id)
                if not any(token.id == token_id for token in tokens):
                    raise NotFoundError.of("token", token_id)
                authorize_project_admin(principal, principal.project_id)
            record = await self.store.revoke_token(token_id, self.clock())
            if record is None:
                raise NotFoundError.of("token", token_id)
            return record

    # -- catalog --------------------------------------------------------------------------

    async def create_project(
        self, principal: Principal, data: CreateProjectInput | Mapping[str, Any]
    ) -> Project:
        with self._operation("create_project"):
            parsed = parse_input(CreateProjectInput, data)
            authorize_project_admin(principal, None)
            project = Project(id=parsed.id or new_id(), name=parsed.name, created_at=self.clock())
            await self.store.insert_project(project)
            return project

    async def list_projects(self, principal: Principal) -> list[Project]:
        with self._operation("list_projects"):
            projects = await self.store.list_projects()
            if isinstance(principal, Member | Guest):
                return [p for p in projects if p.id == principal.project_id]
            return projects

    async def get_project(self, principal: Principal, project_id: str) -> Project:
        with self._operation("get_project"):
            authorize_project_read(principal, project_id)
            return await self._require_project(project_id)

    async def create_event(
        self, principal: Principal, data: CreateEventInput | Mapping[str, Any]
    ) -> Event:
        with self._operation("create_event"):
            parsed = parse_input(CreateEventInput, data)
            authorize_project_admin(principal, parsed.project_id)
            await self._require_project(parsed.project_id)
            event = Event(
                id=parsed.id or new_id(),
                project_id=parsed.project_id,
                name=parsed.name,
                created_at=self.clock(),
            )
            await self.store.insert_event(event)
            return event

    async def list_events(self, principal: Principal, project_id: str) -> list[Event]:
        with self._operation("list_events"):
            authorize_project_read(principal, project_id)
            return await self.store.list_events(project_id)

    async def create_experience(
        self, principal: Principal, data: CreateExperienceInput | Mapping[str, Any]
    ) -> Experience:
        with self._operation("create_experience"):
            parsed = parse_input(CreateExperienceInput, data)
            authorize_project_admin(principal, parsed.project_id)
            await self._require_project(parsed.project_id)
            experience = Experience(
                id=parsed.id or new_id(),
                project_id=parsed.project_id,
                name=parsed.name,
                created_at=self.clock(),
            )
            await self.store.insert_experience(experience)
            return experience

    async def list_experiences(self, principal: Principal, project_id: str) -> list[Experience]:
        with self._operation("list_experiences"):
            authorize_project_read(principal, project_id)
            return await self.store.list_experiences(project_id)

    async def _require_project(self, project_id: str) -> Project:
        project = await self.store.get_project(project_id)
        if project is None:
            raise NotFoundError.of("project", project_id)
        return project

    async def _check_catalog(self, data: CreateSessionInput) -> None:
        triple = (data.project_id, data.event_id, data.experience_id)
        if triple in self._known_catalog:
            return
        await self._require_project(data.project_id)
        if await self.store.get_event(data.project_id, data.event_id) is None:
            raise NotFoundError.of("event", data.event_id)
        if await self.store.get_experience(data.project_id, data.experience_id) is None:
            raise NotFoundError.of("experience", data.experience_id)
        self._known_catalog.add(triple)

    # -- sessions -------------------------------------------------------------------------

    async def create_session(
        self, principal: Principal, data: CreateSessionInput | Mapping[str, Any]
    ) -> CreateSessionResult:
        """Start a session: ``status="active"``, ``currentStepIndex=0``, ``version=1``."""
        with self._operation("create"):
            parsed = parse_input(CreateSessionInput, data)
            authorize_create(principal, parsed)
            await self._check_catalog(parsed)
            now = self.clock()
            session = Session.trusted(
                id=new_id(),
                project_id=parsed.project_id,
                event_id=parsed.event_id,
                experience_id=parsed.experience_id,
                mode=parsed.mode,
                config_source=parsed.config_source,
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
            await self.store.insert_session(session)
            self.feed.publish(session)
            return CreateSessionResult(session_id=session.id, session=session)

    async def get_session(self, principal: Principal, project_id: str, session_id: str) -> Session:
        with self._operation("get"):
            authorize_project_read(principal, project_id)
            session = await self.store.get_session(project_id, session_id)
            if session is None:
                raise NotFoundError.of("session", session_id)
            authorize_session_read(principal, session)
            return session

    async def list_sessions(
        self,
        principal: Principal,
        project_id: str,
        data: ListSessionsInput | Mapping[str, Any] | None = None,
    ) -> SessionPage:
        """A page of the project's sessions, newest first; a guest sees only its own."""
        with self._operation("list"):
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
            sessions = await self.store.list_sessions(query)
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
    ) -> Session:
        """Record progress: ``inputs``/``outputs`` deep-merge, ``currentStepIndex`` replaces."""
        with self._operation("update"):
            parsed = parse_input(UpdateSessionProgressInput, data)
            if parsed.inputs is not None:
                check_json_field("inputs", parsed.inputs)
            if parsed.outputs is not None:
                check_json_field("outputs", parsed.outputs)
            authorize_project_write(principal, project_id)
            clock = self.clock

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

            return await self._write(project_id, parsed.session_id, mutation)

    async def complete_session(
        self,
        principal: Principal,
        project_id: str,
        data: CompleteSessionInput | _SessionRef,
        *,
        expected_version: int | None = None,
    ) -> Session:
        """Mark the session completed; ``completedAt == updatedAt``. Safe to retry."""
        with self._operation("complete"):
            parsed = parse_input(CompleteSessionInput, _session_ref(data))
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.COMPLETED,
                None, expected_version,
            )  # fmt: skip

    async def abandon_session(
        self,
        principal: Principal,
        project_id: str,
        data: AbandonSessionInput | _SessionRef,
        *,
        expected_version: int | None = None,
    ) -> Session:
        """Mark the session abandoned (the guest left), with an optional reason. Safe to retry."""
        with self._operation("abandon"):
            parsed = parse_input(AbandonSessionInput, _session_ref(data))
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.ABANDONED,
                parsed.reason, expected_version,
            )  # fmt: skip

    async def fail_session(
        self,
        principal: Principal,
        project_id: str,
        data: FailSessionInput | Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Session:
        """Mark the session failed (status ``error``) with a short reason. Safe to retry."""
        with self._operation("fail"):
            parsed = parse_input(FailSessionInput, data)
            return await self._finish(
                principal, project_id, parsed.session_id, SessionStatus.ERROR,
                parsed.reason, expected_version,
            )  # fmt: skip

    async def _finish(
        self,
        principal: Principal,
        project_id: str,
        session_id: str,
        target: SessionStatus,
        reason: str | None,
        expected_version: int | None,
    ) -> Session:
        authorize_project_write(principal, project_id)
        clock = self.clock

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

        return await self._write(project_id, session_id, mutation)

    async def _write(
        self, project_id: str, session_id: str, mutation: Callable[[Session], Session | None]
    ) -> Session:
        session, changed = await self.store.update_session(project_id, session_id, mutation)
        if changed:
            self.feed.publish(session)
        return session

    # -- subscriptions --------------------------------------------------------------------

    async def subscribe_session(
        self, principal: Principal, project_id: str, session_id: str
    ) -> SessionSubscription:
        """Follow one session: the current snapshot first, then one per change.

        A slow consumer gets the latest snapshot (older ones coalesce) and never blocks a
        writer. Iteration ends after a final status; close the subscription to stop earlier.
        """
        with self._operation("subscribe"):
            authorize_project_read(principal, project_id)
            # Register before reading, so that no change between the read and the
            # registration can be missed.
            channel = self.feed.subscribe_session(project_id, session_id)
            try:
                session = await self.store.get_session(project_id, session_id)
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
        with self._operation("subscribe"):
            authorize_project_read(principal, project_id)
            if isinstance(principal, Guest):
                raise PermissionDeniedError("a guest cannot follow a whole project")
            return ProjectSubscription(self.feed.subscribe_project(project_id))


def _check_version(current: Session, expected_version: int | None) -> None:
    if expected_version is not None and current.version != expected_version:
        raise FailedPreconditionError(
            f"the session is at version {current.version}, not {expected_version}",
            details={"version": current.version, "expected": expected_version},
        )


def encode_cursor(session: Session) -> str:
    """An opaque keyset position: the last item's creation time and id."""
    raw = f"{to_micros(session.created_at)}:{session.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros_text, session_id = raw.split(":", 1)
        moment = from_micros(int(micros_text))
        if not session_id:
            raise ValueError("empty id")
    except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError, OSError):
        raise ValidationError.at("cursor", "not a cursor this server issued") from None
    return moment, session_id
