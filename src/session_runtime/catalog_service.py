"""Identity, tokens and the catalog (projects, events, experiences): the operations a session
stands on. One part of ``SessionService``, over the ``OperationContext`` the parts share.

>>> catalog = CatalogOperations(context)                                     # doctest: +SKIP
>>> project = await catalog.create_project(SYSTEM, {"name": "Photo booth"})  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypedDict, TypeVar, Unpack

from cachetools import TTLCache

from .domain.auth import (
    Guest,
    Member,
    Principal,
    Role,
    authorize_project_admin,
    authorize_project_read,
)
from .domain.errors import NotFoundError, UnauthenticatedError, ValidationError
from .domain.models import (
    CreateEventInput,
    CreateExperienceInput,
    CreateProjectInput,
    CreateSessionInput,
    Event,
    Experience,
    Project,
)
from .domain.tokens import TokenKind, TokenRecord, hash_token, new_id, new_secret
from .operations import OperationContext, parse_input

_MAX_CACHED_TOKENS = 10_000

PartT = TypeVar("PartT", Event, Experience)


class _TokenScope(TypedDict, total=False):
    """What a new token is bound to besides its project: a member's user and role, or the
    event a guest token is for (the fields of ``TokenRecord`` of the same names)."""

    user: str
    role: Role
    event_id: str | None


class CatalogOperations:
    """Operations on tokens and the catalog, over the context's ``Store``."""

    def __init__(self, context: OperationContext) -> None:
        self.context = context
        # The catalog never loses a record, so a triple seen once stays valid.
        self._known_catalog: set[tuple[str, str, str]] = set()
        # Tokens seen valid, by hash, for ``token_cache_seconds``: a server checks one on every
        # request. A revocation through this service takes effect at once; one made by another
        # process (the CLI) within ``token_cache_seconds``.
        token_cache_seconds = context.token_cache_seconds
        # A token's principal and the moment (monotonic) it stops being trusted: the cache's
        # window, or sooner when the token expires sooner.
        self._valid_tokens: TTLCache[str, tuple[Principal, float]] | None = (
            TTLCache(maxsize=_MAX_CACHED_TOKENS, ttl=token_cache_seconds, timer=time.monotonic)
            if token_cache_seconds > 0
            else None
        )

    # -- identity -------------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> Principal:
        """The principal a bearer token stands for; ``UnauthenticatedError`` otherwise."""
        with self.context.operation("authenticate"):
            if not token:
                raise UnauthenticatedError("a bearer token is required")
            token_hash = hash_token(token)
            cached = None if self._valid_tokens is None else self._valid_tokens.get(token_hash)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            record = await self.context.store.find_token(token_hash)
            now = self.context.clock()
            if record is None or record.is_revoked or record.is_expired(now):
                raise UnauthenticatedError("the token is unknown, revoked or expired")
            principal = record.principal()
            if self._valid_tokens is not None:
                trusted_for = self.context.token_cache_seconds
                if record.expires_at is not None:  # never trusted past its expiry
                    trusted_for = min(trusted_for, (record.expires_at - now).total_seconds())
                self._valid_tokens[token_hash] = (principal, time.monotonic() + trusted_for)
            return principal

    def forget_cached_tokens(self) -> None:
        """Check every token against the store again (after a revocation or an erasure)."""
        if self._valid_tokens is not None:
            self._valid_tokens.clear()

    async def create_member_token(
        self, principal: Principal, project_id: str, *, user: str, role: Role | str
    ) -> tuple[TokenRecord, str]:
        """A token for a member of the project. The secret is returned once, never stored."""
        with self.context.operation("create_token"):
            authorize_project_admin(principal, project_id)
            if not user or len(user) > 200:
                raise ValidationError.at("user", "must be 1 to 200 characters")
            try:
                role = Role(role)
            except ValueError:
                raise ValidationError.at("role", "must be owner, editor or viewer") from None
            await self.require_project(project_id)
            return await self._issue_token(project_id, TokenKind.MEMBER, user=user, role=role)

    async def create_guest_token(
        self, principal: Principal, project_id: str, *, event_id: str | None = None
    ) -> tuple[TokenRecord, str]:
        """A guest token (a kiosk, a join link), optionally bound to one event."""
        with self.context.operation("create_token"):
            authorize_project_admin(principal, project_id)
            await self.require_scope(project_id, event_id)
            return await self._issue_token(project_id, TokenKind.GUEST, event_id=event_id)

    async def _issue_token(
        self, project_id: str, kind: TokenKind, **scope: Unpack[_TokenScope]
    ) -> tuple[TokenRecord, str]:
        secret = new_secret()
        record = TokenRecord(
            id=new_id(),
            project_id=project_id,
            kind=kind,
            token_hash=hash_token(secret),
            created_at=self.context.clock(),
            **scope,
        )
        await self.context.store.insert_token(record)
        return record, secret

    async def list_tokens(self, principal: Principal, project_id: str) -> list[TokenRecord]:
        with self.context.operation("list_tokens"):
            authorize_project_admin(principal, project_id)
            return await self.context.store.list_tokens(project_id)

    async def revoke_token(self, principal: Principal, token_id: str) -> TokenRecord:
        """Revoke a token at once; revoking twice is harmless."""
        with self.context.operation("revoke_token"):
            if isinstance(principal, Member | Guest):
                tokens = await self.context.store.list_tokens(principal.project_id)
                if not any(token.id == token_id for token in tokens):
                    raise NotFoundError.of("token", token_id)
                authorize_project_admin(principal, principal.project_id)
            record = await self.context.store.revoke_token(token_id, self.context.clock())
            if self._valid_tokens is not None:
                self._valid_tokens.clear()
            if record is None:
                raise NotFoundError.of("token", token_id)
            return record

    # -- catalog --------------------------------------------------------------------------

    async def create_project(
        self, principal: Principal, data: CreateProjectInput | Mapping[str, Any]
    ) -> Project:
        with self.context.operation("create_project"):
            parsed = parse_input(CreateProjectInput, data)
            authorize_project_admin(principal, None)
            project = Project(
                id=parsed.id or new_id(), name=parsed.name, created_at=self.context.clock()
            )
            await self.context.store.insert_project(project)
            return project

    async def list_projects(self, principal: Principal) -> list[Project]:
        with self.context.operation("list_projects"):
            projects = await self.context.store.list_projects()
            if isinstance(principal, Member | Guest):
                return [p for p in projects if p.id == principal.project_id]
            return projects

    async def get_project(self, principal: Principal, project_id: str) -> Project:
        with self.context.operation("get_project"):
            authorize_project_read(principal, project_id)
            return await self.require_project(project_id)

    async def create_event(
        self, principal: Principal, data: CreateEventInput | Mapping[str, Any]
    ) -> Event:
        """An event of the project (a launch, a weekend at a venue): where sessions happen."""
        with self.context.operation("create_event"):
            parsed = parse_input(CreateEventInput, data)
            return await self._create_part(
                principal, parsed, Event, self.context.store.insert_event
            )

    async def list_events(self, principal: Principal, project_id: str) -> list[Event]:
        with self.context.operation("list_events"):
            authorize_project_read(principal, project_id)
            return await self.context.store.list_events(project_id)

    async def create_experience(
        self, principal: Principal, data: CreateExperienceInput | Mapping[str, Any]
    ) -> Experience:
        """An experience of the project (a photo booth, a survey): what a session runs."""
        with self.context.operation("create_experience"):
            parsed = parse_input(CreateExperienceInput, data)
            insert = self.context.store.insert_experience
            return await self._create_part(principal, parsed, Experience, insert)

    async def list_experiences(self, principal: Principal, project_id: str) -> list[Experience]:
        with self.context.operation("list_experiences"):
            authorize_project_read(principal, project_id)
            return await self.context.store.list_experiences(project_id)

    async def _create_part(
        self,
        principal: Principal,
        parsed: CreateEventInput | CreateExperienceInput,
        model: type[PartT],
        insert: Callable[[PartT], Awaitable[None]],
    ) -> PartT:
        """An event or an experience: both belong to a project an admin of it writes to."""
        authorize_project_admin(principal, parsed.project_id)
        await self.require_project(parsed.project_id)
        part = model(
            id=parsed.id or new_id(),
            project_id=parsed.project_id,
            name=parsed.name,
            created_at=self.context.clock(),
        )
        await insert(part)
        return part

    async def require_project(self, project_id: str) -> Project:
        """The project, or ``NotFoundError`` naming it."""
        project = await self.context.store.get_project(project_id)
        if project is None:
            raise NotFoundError.of("project", project_id)
        return project

    async def require_scope(self, project_id: str, event_id: str | None) -> None:
        """``NotFoundError`` naming the project, or the event of it when one is named, that is
        missing: what a guest's scope (a token, a join link) and a new session need."""
        await self.require_project(project_id)
        if (
            event_id is not None
            and await self.context.store.get_event(project_id, event_id) is None
        ):
            raise NotFoundError.of("event", event_id)

    async def check_catalog(self, data: CreateSessionInput) -> None:
        """``NotFoundError`` naming the project, event or experience a new session lacks."""
        triple = (data.project_id, data.event_id, data.experience_id)
        if triple in self._known_catalog:
            return
        await self.require_scope(data.project_id, data.event_id)
        if await self.context.store.get_experience(data.project_id, data.experience_id) is None:
            raise NotFoundError.of("experience", data.experience_id)
        self._known_catalog.add(triple)
