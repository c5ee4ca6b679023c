"""The REST routes of ``/v1``: sessions, and the catalog a screen needs to show them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ..domain.auth import Guest, Member, System
from .errors import error_responses
from .http import ProjectId, SessionPageQuery, authenticate, service_of
from .responses import model_response
from .schemas import (
    EventList,
    ExperienceList,
    ProjectList,
    SessionListResponse,
    WhoAmI,
)

# Every handler authenticates first, in its own body: a FastAPI dependency would cost more per
# request than the check itself. `install_openapi` documents the bearer scheme.
router = APIRouter(prefix="/v1")

_AUTH = ("UNAUTHENTICATED", "PERMISSION_DENIED", "UNAVAILABLE")
_READ = (*_AUTH, "NOT_FOUND")
_WRITE = (*_READ, "VALIDATION_ERROR", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED")


def _max_body(request: Request) -> int:
    limit: int = request.app.state.settings.max_body_bytes
    return limit


@router.get(
    "/me",
    responses=error_responses(*_AUTH),
    summary="Who the token stands for",
)
async def who_am_i(request: Request) -> WhoAmI:
    principal = await authenticate(request)
    if isinstance(principal, Member):
        return WhoAmI(
            kind="member",
            project_id=principal.project_id,
            user=principal.user,
            role=principal.role.value,
        )
    if isinstance(principal, Guest):
        return WhoAmI(kind="guest", project_id=principal.project_id, event_id=principal.event_id)
    assert isinstance(principal, System)
    return WhoAmI(kind="system", project_id=None)


@router.get("/projects", responses=error_responses(*_AUTH))
async def list_projects(request: Request) -> ProjectList:
    """The projects this token may see (a member's or guest's own)."""
    principal = await authenticate(request)
    return ProjectList(items=await service_of(request).list_projects(principal))


@router.get("/projects/{project_id}/events", responses=error_responses(*_READ))
async def list_events(request: Request, project_id: ProjectId) -> EventList:
    """The project's events, oldest first."""
    principal = await authenticate(request)
    return EventList(items=await service_of(request).list_events(principal, project_id))


@router.get("/projects/{project_id}/experiences", responses=error_responses(*_READ))
async def list_experiences(request: Request, project_id: ProjectId) -> ExperienceList:
    """The project's experiences, oldest first: what a session runs."""
    principal = await authenticate(request)
    return ExperienceList(items=await service_of(request).list_experiences(principal, project_id))


@router.get(
    "/projects/{project_id}/sessions",
    response_model=SessionListResponse,
    responses=error_responses(*_READ, "VALIDATION_ERROR"),
    summary="List sessions, newest first",
)
async def list_sessions(
    request: Request, project_id: ProjectId, query: Annotated[SessionPageQuery, Query()]
) -> Response:
    """A page of the project's sessions; pass ``nextCursor`` back as ``cursor`` for the next."""
    principal = await authenticate(request)
    page = await service_of(request).list_sessions(principal, project_id, query.input())
    return model_response(page)
