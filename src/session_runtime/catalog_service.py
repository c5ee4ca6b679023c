"""Identity, tokens and the catalog (projects, events, experiences): the operations a session
stands on. ``SessionService`` inherits them, so one object serves every operation."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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
from .domain.ports import Store
from .domain.tokens import TokenKind, TokenRecord, hash_token, new_id, new_secret
from .operations import Observer, Operation, parse_input

_MAX_CACHED_TOKENS = 10_000


class CatalogOperations:
    """Operations on tokens and the catalog, over a ``Store``."""

    store: Store
    clock: Callable[[], datetime]
    observers: list[Observer]

    def __init__(self, *, token_cache_seconds: float = 0.0) -> None:
        # The catalog never loses a record, so a triple seen once stays valid.
        self._known_catalog: set[tuple[str, str, str]] = set()
        # Tokens seen valid, by hash, until a deadline: a server checks one on every request.
        # A revocation through this service takes effect at once; one made by another process
        # (the CLI) within ``token_cache_seconds``.
        self.token_cache_seconds = token_cache_seconds
        self._valid_tokens: dict[str, tuple[Principal, float]] = {}

    def _operation(self, action: str) -> Operation:
        return Operation(action, self.observers)

    # -- identity -------------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> Principal:
        """The principal a bearer token stands for; ``UnauthenticatedError`` otherwise."""
        with self._operation("authenticate"):
            if not token:
                raise UnauthenticatedError("a bearer token is required")
            token_hash = hash_token(token)
            cached = self._valid_tokens.get(token_hash)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            record = await self.store.find_token(token_hash)
            now = self.clock()
            if record is None or record.is_revoked or record.is_expired(now):
                raise UnauthenticatedError("the token is unknown, revoked or expired")
            principal = record.principal()
            if self.token_cache_seconds > 0:
                if len(self._valid_tokens) >= _MAX_CACHED_TOKENS:
                    self._valid_tokens.clear()
                trusted_for = self.token_cache_seconds
                if record.expires_at is not None:  # never trusted past its expiry
                    trusted_for = min(trusted_for, (record.expires_at - now).total_seconds())
                self._valid_tokens[token_hash] = (principal, time.monotonic() + trusted_for)
            return principal

    def forget_cached_tokens(self) -> None:
        """Check every token against the store again (after a revocation or an erasure)."""
        self._valid_tokens.clear()

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
            self._valid_tokens.clear()
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
