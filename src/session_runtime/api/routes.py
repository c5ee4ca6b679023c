"""The REST routes of ``/v1``: sessions, and the catalog a screen needs to show them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPBearer
from starlette.responses import Response

from ..domain.auth import Guest, Member, Principal, System
from ..domain.models import Mode, Session, SessionStatus
from .errors import error_responses
from .http import (
    authenticate,
    if_match_version,
    merge_path_field,
    read_json_object,
    service_of,
)
from .responses import session_json, session_response
from .schemas import (
    AbandonSessionBody,
    CreateSessionBody,
    CreateSessionResponse,
    EventList,
    ExperienceList,
    FailSessionBody,
    ProjectList,
    SessionListResponse,
    UpdateSessionProgressBody,
    WhoAmI,
    json_body,
)

# Documents the bearer scheme in OpenAPI; the token itself is checked by `authenticate`.
_bearer = HTTPBearer(auto_error=False, description="A member or guest token.")

router = APIRouter(prefix="/v1", dependencies=[Depends(_bearer)])
PrincipalDep = Annotated[Principal, Depends(authenticate)]

_AUTH = ("UNAUTHENTICATED", "PERMISSION_DENIED", "UNAVAILABLE")
_READ = (*_AUTH, "NOT_FOUND")
_WRITE = (*_READ, "VALIDATION_ERROR", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED")
_SESSION_DOC: dict[int | str, dict[str, object]] = {
    200: {
        "model": Session,
        "description": "The session.",
        "headers": {
            "ETag": {"description": "The session's version.", "schema": {"type": "string"}}
        },
    }
}


def _max_body(request: Request) -> int:
    limit: int = request.app.state.settings.max_body_bytes
    return limit


@router.get(
    "/me",
    response_model=WhoAmI,
    responses=error_responses(*_AUTH),
    summary="Who the token stands for",
)
async def who_am_i(principal: PrincipalDep) -> WhoAmI:
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


@router.get("/projects", response_model=ProjectList, responses=error_responses(*_AUTH))
async def list_projects(request: Request, principal: PrincipalDep) -> ProjectList:
    """The projects this token may see (a member's or guest's own)."""
    return ProjectList(items=await service_of(request).list_projects(principal))


@router.get(
    "/projects/{project_id}/events",
    response_model=EventList,
    responses=error_responses(*_READ),
)
async def list_events(request: Request, project_id: str, principal: PrincipalDep) -> EventList:
    return EventList(items=await service_of(request).list_events(principal, project_id))


@router.get(
    "/projects/{project_id}/experiences",
    response_model=ExperienceList,
    responses=error_responses(*_READ),
)
async def list_experiences(
    request: Request, project_id: str, principal: PrincipalDep
) -> ExperienceList:
    return ExperienceList(items=await service_of(request).list_experiences(principal, project_id))


@router.post(
    "/projects/{project_id}/sessions",
    status_code=201,
    response_model=CreateSessionResponse,
    responses=error_responses(*_WRITE),
    openapi_extra=json_body(CreateSessionBody),
    summary="Create a session",
)
async def create_session(request: Request, project_id: str, principal: PrincipalDep) -> Response:
    """Start a session: ``status=active``, ``currentStepIndex=0``, ``version=1``."""
    body = await read_json_object(request, _max_body(request))
    merge_path_field(body, "projectId", project_id)
    result = await service_of(request).create_session(principal, body)
    session = result.session
    content = b'{"sessionId":"%s","session":%s}' % (session.id.encode(), session_json(session))
    return Response(
        content,
        status_code=201,
        media_type="application/json",
        headers={
            "ETag": f'"{session.version}"',
            "Location": f"/v1/projects/{project_id}/sessions/{session.id}",
        },
    )


@router.get(
    "/projects/{project_id}/sessions",
    response_model=SessionListResponse,
    responses=error_responses(*_READ, "VALIDATION_ERROR"),
    summary="List sessions, newest first",
)
async def list_sessions(
    request: Request,
    project_id: str,
    principal: PrincipalDep,
    event_id: Annotated[str | None, Query(alias="eventId")] = None,
    experience_id: Annotated[str | None, Query(alias="experienceId")] = None,
    status: SessionStatus | None = None,
    mode: Mode | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Response:
    """A page of the project's sessions; pass ``nextCursor`` back as ``cursor`` for the next."""
    query = {
        "eventId": event_id,
        "experienceId": experience_id,
        "status": status,
        "mode": mode,
        "limit": limit,
        "cursor": cursor,
    }
    page = await service_of(request).list_sessions(
        principal, project_id, {key: value for key, value in query.items() if value is not None}
    )
    return Response(
        page.__pydantic_serializer__.to_json(page, by_alias=True),
        media_type="application/json",
    )


@router.get(
    "/projects/{project_id}/sessions/{session_id}",
    response_model=None,
    responses={**_SESSION_DOC, **error_responses(*_READ)},
    summary="Get a session",
)
async def get_session(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """The session, with its version as ``ETag``."""
    session = await service_of(request).get_session(principal, project_id, session_id)
    return session_response(session)


@router.patch(
    "/projects/{project_id}/sessions/{session_id}",
    responses={**_SESSION_DOC, **error_responses(*_WRITE)},
    openapi_extra=json_body(UpdateSessionProgressBody),
    summary="Record progress",
)
async def update_session_progress(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """Deep-merge ``inputs`` and ``outputs``; replace ``currentStepIndex``.

    With ``If-Match: "<version>"`` the write happens only if the session is still at that
    version (else 409 ``FAILED_PRECONDITION``).
    """
    body = await read_json_object(request, _max_body(request))
    merge_path_field(body, "sessionId", session_id)
    session = await service_of(request).update_session_progress(
        principal, project_id, body, expected_version=if_match_version(request)
    )
    return session_response(session)


@router.post(
    "/projects/{project_id}/sessions/{session_id}/complete",
    responses={**_SESSION_DOC, **error_responses(*_WRITE)},
    summary="Complete a session",
)
async def complete_session(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """Mark it completed (``completedAt == updatedAt``). Repeating it is a harmless no-op."""
    body = await read_json_object(request, _max_body(request))
    merge_path_field(body, "sessionId", session_id)
    session = await service_of(request).complete_session(
        principal, project_id, body, expected_version=if_match_version(request)
    )
    return session_response(session)


@router.post(
    "/projects/{project_id}/sessions/{session_id}/abandon",
    responses={**_SESSION_DOC, **error_responses(*_WRITE)},
    openapi_extra=json_body(AbandonSessionBody, required=False),
    summary="Abandon a session",
)
async def abandon_session(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """Mark it abandoned (the guest left), with an optional ``reason``. Safe to retry."""
    body = await read_json_object(request, _max_body(request))
    merge_path_field(body, "sessionId", session_id)
    session = await service_of(request).abandon_session(
        principal, project_id, body, expected_version=if_match_version(request)
    )
    return session_response(session)


@router.post(
    "/projects/{project_id}/sessions/{session_id}/fail",
    responses={**_SESSION_DOC, **error_responses(*_WRITE)},
    openapi_extra=json_body(FailSessionBody),
    summary="Fail a session",
)
async def fail_session(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """Mark it failed (status ``error``) with a ``reason``. Safe to retry."""
    body = await read_json_object(request, _max_body(request))
    merge_path_field(body, "sessionId", session_id)
    session = await service_of(request).fail_session(
        principal, project_id, body, expected_version=if_match_version(request)
    )
    return session_response(session)
