"""The helpers behind the shared fixtures, importable by the tests that annotate with them."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from session_runtime import SYSTEM, Principal, Session, SessionService, Store

StoreFactory = Callable[[], Store]
"""Builds an unopened store over one test's own database; call it again to reopen."""


class ManualClock:
    """Server time that moves only as the test says.

    Every reading returns the current time and then moves it on by ``step`` (1 ms unless told
    otherwise), so successive writes get distinct, increasing timestamps. ``step = 0`` freezes
    it, for tests about ties.
    """

    def __init__(
        self,
        start: datetime = datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
        step: timedelta = timedelta(milliseconds=1),
    ) -> None:
        self.now = start
        self.step = step
        self.readings = 0

    def __call__(self) -> datetime:
        moment = self.now
        self.now += self.step
        self.readings += 1
        return moment

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def freeze(self) -> None:
        self.step = timedelta(0)


@dataclass(frozen=True)
class Catalog:
    """A project with two events and two experiences, and another project beside it."""

    project_id: str
    event_id: str
    second_event_id: str
    experience_id: str
    second_experience_id: str
    other_project_id: str
    other_event_id: str
    other_experience_id: str

    def session_input(self, **overrides: Any) -> dict[str, Any]:
        """A valid ``createSession`` input (a preview of the draft), with ``overrides``."""
        return {
            "projectId": self.project_id,
            "eventId": self.event_id,
            "experienceId": self.experience_id,
            "mode": "preview",
            "configSource": "draft",
            **overrides,
        }

    def guest_input(self, **overrides: Any) -> dict[str, Any]:
        """A valid ``createSession`` input for a guest: ``guest`` on ``published``."""
        return self.session_input(mode="guest", configSource="published", **overrides)


async def build_catalog(service: SessionService) -> Catalog:
    """Create the ``Catalog`` records through the service, as the system."""
    project = await service.create_project(SYSTEM, {"name": "Photo booth"})
    other = await service.create_project(SYSTEM, {"name": "Kiosk survey"})

    async def event(project_id: str, name: str) -> str:
        return (await service.create_event(SYSTEM, {"projectId": project_id, "name": name})).id

    async def experience(project_id: str, name: str) -> str:
        created = await service.create_experience(SYSTEM, {"projectId": project_id, "name": name})
        return created.id

    return Catalog(
        project_id=project.id,
        event_id=await event(project.id, "Launch party"),
        second_event_id=await event(project.id, "Trade fair"),
        experience_id=await experience(project.id, "AI portrait"),
        second_experience_id=await experience(project.id, "Story flow"),
        other_project_id=other.id,
        other_event_id=await event(other.id, "Lobby"),
        other_experience_id=await experience(other.id, "Survey"),
    )


class Callers:
    """Mints real tokens for every kind of caller and authenticates them into principals."""

    def __init__(self, service: SessionService, catalog: Catalog) -> None:
        self.service = service
        self.catalog = catalog
        self._users = itertools.count(1)

    async def member_token(self, role: str, *, project_id: str | None = None) -> str:
        _record, secret = await self.service.create_member_token(
            SYSTEM,
            project_id or self.catalog.project_id,
            user=f"user-{next(self._users)}",
            role=role,
        )
        return secret

    async def guest_token(
        self, *, event_id: str | None = None, project_id: str | None = None
    ) -> str:
        _record, secret = await self.service.create_guest_token(
            SYSTEM, project_id or self.catalog.project_id, event_id=event_id
        )
        return secret

    async def principal(self, token: str) -> Principal:
        return await self.service.authenticate(token)

    async def owner(self) -> Principal:
        return await self.principal(await self.member_token("owner"))

    async def editor(self) -> Principal:
        return await self.principal(await self.member_token("editor"))

    async def viewer(self) -> Principal:
        return await self.principal(await self.member_token("viewer"))

    async def guest(self, *, event_id: str | None = None) -> Principal:
        return await self.principal(await self.guest_token(event_id=event_id))

    async def outsider(self, role: str = "owner") -> Principal:
        """A member of the other project."""
        token = await self.member_token(role, project_id=self.catalog.other_project_id)
        return await self.principal(token)

    async def outside_guest(self) -> Principal:
        """A guest of the other project."""
        return await self.principal(
            await self.guest_token(project_id=self.catalog.other_project_id)
        )


class NewSession(Protocol):
    def __call__(self, principal: Principal = ..., **overrides: Any) -> Awaitable[Session]: ...
