"""The guest routes: join links and their QR codes, joining, resume, share links, erasure.

Joining (``POST /v1/join/{code}``), a link's QR code and a share link's outputs need no token:
whoever holds the code may. Everything else authenticates as the session routes do.

Every mutation here takes ``Idempotency-Key`` as the session routes do: the key and the answer
are kept in the write's own transaction, a replay is answered by the app's ``RequestReplayed``
handler with ``Idempotency-Replayed: true``.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from ..domain.errors import ValidationError
from ..domain.guest_views import (
    CreatedShareLink,
    ErasureView,
    JoinLinkList,
    JoinLinkView,
    JoinResponse,
    OwnSessions,
    SharedResultView,
    ShareLinkList,
    ShareLinkView,
)
from ..domain.guests import CreateJoinLinkInput, CreateShareLinkInput, JoinLink, ShareLink
from ..domain.idempotency import IDEMPOTENCY_HEADER, JOIN_CALLER_PREFIX, IdempotencyClaim
from ..domain.tokens import hash_token
from ..guests import GuestOperations
from .errors import ErrorBody, error_responses
from .http import ProjectId, SessionId, authenticate, read_json_object, service_of
from .idempotency import REPLAYED_RESPONSE_HEADER, IdempotencyKey, claim_of, stored_view
from .schemas import json_body

router = APIRouter(prefix="/v1", tags=["guests"])

_AUTH = ("UNAUTHENTICATED", "PERMISSION_DENIED", "UNAVAILABLE")
_READ = (*_AUTH, "NOT_FOUND")
_WRITE = (*_READ, "VALIDATION_ERROR", "FAILED_PRECONDITION")
_PUBLIC: dict[str, Any] = {"security": []}


def _keyed(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """The success answer of a keyed route, documenting ``Idempotency-Replayed``."""
    return {status: {"description": description, "headers": REPLAYED_RESPONSE_HEADER}}


def _keyed_creation(description: str, body: type[BaseModel]) -> dict[str, Any]:
    """The options of a keyed route that creates a record from an optional JSON ``body``:
    201 with the model the route returns, every write error, and the body's schema."""
    return {
        "status_code": 201,
        "responses": _keyed(201, description) | error_responses(*_WRITE),
        "openapi_extra": json_body(body, required=False),
    }


def _keyed_change(description: str) -> dict[str, Any]:
    """The options of a keyed route that changes or erases a record without a body: 200
    with the model the route returns, and the errors of such a write."""
    return {
        "responses": _keyed(200, description) | error_responses(*_READ, "VALIDATION_ERROR"),
    }


def guests_of(request: Request) -> GuestOperations:
    return service_of(request).guests


def public_base_url(request: Request) -> str:
    """Where guests reach this server: the ``public_url`` setting, else this request's own."""
    configured: str | None = request.app.state.settings.public_url
    return configured or str(request.base_url).rstrip("/")


async def _body(request: Request) -> dict[str, Any]:
    limit: int = request.app.state.settings.max_body_bytes
    return await read_json_object(request, limit)


# -- join links (owners and editors) --------------------------------------------------------


@router.post(
    "/projects/{project_id}/links",
    **_keyed_creation("The join link.", CreateJoinLinkInput),
    summary="Create a join link (optionally for one event, expiring, capped)",
)
async def create_join_link(
    request: Request, project_id: ProjectId, idempotency_key: IdempotencyKey = None
) -> JoinLinkView:
    principal = await authenticate(request)
    body = await _body(request)
    base = public_base_url(request)
    claim: IdempotencyClaim[JoinLink] | None = claim_of(
        request, principal, body, stored_view(request, lambda link: JoinLinkView.of(link, base))
    )
    link = await guests_of(request).create_join_link(principal, project_id, body, idempotency=claim)
    return JoinLinkView.of(link, base)


@router.get(
    "/projects/{project_id}/links",
    responses=error_responses(*_READ),
    summary="The project's join links, with how many guests joined by each",
)
async def list_join_links(request: Request, project_id: ProjectId) -> JoinLinkList:
    principal = await authenticate(request)
    links = await guests_of(request).list_join_links(principal, project_id)
    base = public_base_url(request)
    return JoinLinkList(items=[JoinLinkView.of(link, base) for link in links])


@router.post(
    "/projects/{project_id}/links/{link_id}/revoke",
    **_keyed_change("The revoked link."),
    summary="Revoke a join link: no new guests; those who joined keep going",
)
async def revoke_join_link(
    request: Request, project_id: ProjectId, link_id: str, idempotency_key: IdempotencyKey = None
) -> JoinLinkView:
    principal = await authenticate(request)
    base = public_base_url(request)
    claim: IdempotencyClaim[JoinLink] | None = claim_of(
        request, principal, None, stored_view(request, lambda link: JoinLinkView.of(link, base))
    )
    link = await guests_of(request).revoke_join_link(
        principal, project_id, link_id, idempotency=claim
    )
    return JoinLinkView.of(link, base)


@router.get(
    "/join/{code}/qr.{kind}",
    responses={
        200: {"content": {"image/svg+xml": {}, "image/png": {}}, "description": "QR code"},
        **error_responses("NOT_FOUND", "VALIDATION_ERROR", "UNAVAILABLE"),
    },
    openapi_extra=_PUBLIC,
    summary="A join link's QR code, as SVG or PNG (no token: the code is the key)",
)
async def join_link_qr(request: Request, code: str, kind: str) -> Response:
    if kind not in ("svg", "png"):
        raise ValidationError.at("kind", "must be svg or png")
    link = await guests_of(request).find_join_link(code)
    qr = segno.make(f"{public_base_url(request)}/join/{link.code}", error="m")
    buffer = io.BytesIO()
    if kind == "svg":
        qr.save(buffer, kind="svg", scale=6, border=2, xmldecl=False, title="Join link")
        media_type = "image/svg+xml"
    else:
        qr.save(buffer, kind="png", scale=10, border=2)
        media_type = "image/png"
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if kind == "png":
        headers["Content-Disposition"] = 'attachment; filename="join-link.png"'
    return Response(buffer.getvalue(), media_type=media_type, headers=headers)


# -- joining (no token) ---------------------------------------------------------------------


@router.post(
    "/join/{code}",
    status_code=201,
    responses=_keyed(201, "A fresh guest identity.")
    | error_responses("NOT_FOUND", "FAILED_PRECONDITION", "VALIDATION_ERROR", "UNAVAILABLE")
    | {
        429: {
            "model": ErrorBody,
            "description": "RESOURCE_EXHAUSTED: too many joins from this address or by this link",
        }
    },
    openapi_extra=_PUBLIC,
    summary="Join by a link: a fresh anonymous guest identity (no token needed)",
)
async def join(request: Request, code: str, idempotency_key: IdempotencyKey = None) -> JoinResponse:
    state = request.app.state
    address = state.client_addresses.of(request.scope)
    state.join_limits.check(address, code)
    # No token names the caller: the key belongs to the join link and the client address, so
    # a phone that retries a join whose answer it lost gets the same identity back, not a
    # second one, and nobody elsewhere can pick its key to obtain that identity.
    caller = JOIN_CALLER_PREFIX + hash_token(f"{code}\n{address}")
    # A join needs no body; a keyed one may carry a JSON object, which its fingerprint holds,
    # so that the same key sent with another body is refused as on every other route.
    body = await _body(request) if IDEMPOTENCY_HEADER in request.headers else None
    claim = claim_of(request, caller, body, stored_view(request, JoinResponse.of))
    return JoinResponse.of(await guests_of(request).join(code, idempotency=claim))


# -- the caller's own sessions, and erasing oneself -----------------------------------------


@router.get(
    "/me/sessions",
    responses=error_responses(*_AUTH, "VALIDATION_ERROR"),
    summary="The caller's own sessions, active first, then newest first (resume)",
)
async def my_sessions(
    request: Request, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> OwnSessions:
    principal = await authenticate(request)
    return OwnSessions(items=await guests_of(request).my_sessions(principal, limit))


@router.delete(
    "/me",
    **_keyed_change("What was erased (counts)."),
    summary="A guest erases itself: its sessions, their share links, its token",
)
async def erase_me(request: Request, idempotency_key: IdempotencyKey = None) -> ErasureView:
    principal = await authenticate(request)
    # The key keeps the guest id and counts only: nothing of the erased sessions survives.
    claim = claim_of(request, principal, None, stored_view(request, ErasureView.of))
    return ErasureView.of(await guests_of(request).erase_me(principal, idempotency=claim))


@router.delete(
    "/projects/{project_id}/guests/{guest_id}",
    **_keyed_change("What was erased (counts)."),
    summary="Erase one guest (owners): its sessions, their share links, its token",
)
async def erase_guest(
    request: Request, project_id: ProjectId, guest_id: str, idempotency_key: IdempotencyKey = None
) -> ErasureView:
    principal = await authenticate(request)
    claim = claim_of(request, principal, None, stored_view(request, ErasureView.of))
    erasure = await guests_of(request).erase_guest(
        principal, project_id, guest_id, idempotency=claim
    )
    return ErasureView.of(erasure)


# -- share links ----------------------------------------------------------------------------


@router.post(
    "/projects/{project_id}/sessions/{session_id}/shares",
    **_keyed_creation("The share link, with its code (shown once).", CreateShareLinkInput),
    summary="Share a completed session's outputs by a public, expiring link",
)
async def create_share_link(
    request: Request,
    project_id: ProjectId,
    session_id: SessionId,
    idempotency_key: IdempotencyKey = None,
) -> CreatedShareLink:
    principal = await authenticate(request)
    body = await _body(request)
    base = public_base_url(request)

    def created(share: ShareLink, code: str) -> CreatedShareLink:
        return CreatedShareLink(
            **ShareLinkView.of(share).model_dump(),
            url=f"{base}/share/{code}",
            json_url=f"{base}/v1/shares/{code}",
        )

    claim: IdempotencyClaim[tuple[ShareLink, str]] | None = claim_of(
        request, principal, body, stored_view(request, lambda pair: created(*pair))
    )
    share, code = await guests_of(request).create_share_link(
        principal, project_id, session_id, body, idempotency=claim
    )
    return created(share, code)


@router.get(
    "/projects/{project_id}/sessions/{session_id}/shares",
    responses=error_responses(*_READ),
    summary="A session's share links (their codes are never shown again)",
)
async def list_share_links(
    request: Request, project_id: ProjectId, session_id: SessionId
) -> ShareLinkList:
    principal = await authenticate(request)
    shares = await guests_of(request).list_share_links(principal, project_id, session_id)
    return ShareLinkList(items=[ShareLinkView.of(share) for share in shares])


@router.post(
    "/projects/{project_id}/sessions/{session_id}/shares/{share_id}/revoke",
    **_keyed_change("The revoked share link."),
    summary="Revoke a share link: it stops working at once",
)
async def revoke_share_link(
    request: Request,
    project_id: ProjectId,
    session_id: SessionId,
    share_id: str,
    idempotency_key: IdempotencyKey = None,
) -> ShareLinkView:
    principal = await authenticate(request)
    claim = claim_of(request, principal, None, stored_view(request, ShareLinkView.of))
    share = await guests_of(request).revoke_share_link(
        principal, project_id, session_id, share_id, idempotency=claim
    )
    return ShareLinkView.of(share)


@router.get(
    "/shares/{code}",
    responses=error_responses("NOT_FOUND", "UNAVAILABLE"),
    openapi_extra=_PUBLIC,
    summary="What a share link shows, as JSON: the outputs only (no token: the code is the key)",
)
async def shared_result(request: Request, code: str) -> SharedResultView:
    result = await guests_of(request).shared_result(code)
    return SharedResultView(
        outputs=result.outputs, completed_at=result.completed_at, expires_at=result.expires_at
    )
