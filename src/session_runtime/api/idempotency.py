"""``Idempotency-Key`` over HTTP: reading the header, the responses kept, sending one again.

Every mutation takes the header. A route makes its write keyed in one line, by passing
``idempotency=keyed(...)`` (or, for a FastAPI route, ``idempotency=claim_of(request, ...)``)
to its operation; a replay then surfaces as ``RequestReplayed``, which the session routes and
the app's exception handler answer with the stored response and ``Idempotency-Replayed: true``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, TypeVar, Unpack

from fastapi import FastAPI, Header, Request
from pydantic import BaseModel
from starlette.responses import Response

from ..domain.auth import Principal
from ..domain.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADER,
    IdempotencyClaim,
    RequestReplayed,
    StoredResponse,
    parse_idempotency_key,
)
from ..domain.models import Session
from ..idempotency import IdempotencyKeys, RequestFacts

ResultT = TypeVar("ResultT")

_IDEMPOTENCY_KEY_DESCRIPTION: Final = (
    "A key of your choice (1 to 255 visible ASCII characters; a UUID will do) "
    "that makes this write safe to retry: sent again with the same request, the stored "
    "answer comes back (with `Idempotency-Replayed: true`) and nothing is written twice; "
    "with a different request, 422 VALIDATION_ERROR. Kept for a day "
    "(`SESSION_RUNTIME_IDEMPOTENCY_TTL_SECONDS`), per token."
)

IDEMPOTENCY_KEY_PARAMETER: Final = Header(
    default=None, alias=IDEMPOTENCY_HEADER, description=_IDEMPOTENCY_KEY_DESCRIPTION
)
"""The OpenAPI description of the header: a parameter of every documented mutation."""

IdempotencyKey = Annotated[
    str | None, Header(alias=IDEMPOTENCY_HEADER, description=_IDEMPOTENCY_KEY_DESCRIPTION)
]
"""The same header as a type, declared once for every FastAPI route that takes it:
``idempotency_key: IdempotencyKey = None``. The route reads it through ``claim_of``; the
parameter is there so that ``/openapi.json`` documents it."""

REPLAYED_RESPONSE_HEADER: Final[dict[str, Any]] = {
    REPLAYED_HEADER: {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key` (nothing was written this time).",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def keyed(
    keys: IdempotencyKeys,
    principal: Principal,
    *,
    key_header: str | None,
    render: Callable[[ResultT], StoredResponse],
    **request: Unpack[RequestFacts],
) -> IdempotencyClaim[ResultT] | None:
    """The claim of a request, or ``None`` when it carries no key (a bad key: 422)."""
    return keys.claim(principal, parse_idempotency_key(key_header), render=render, **request)


def claim_of(
    request: Request,
    owner: Principal | str,
    body: Mapping[str, Any] | None,
    render: Callable[[ResultT], StoredResponse],
) -> IdempotencyClaim[ResultT] | None:
    """``keyed`` for a FastAPI route; ``owner`` as in ``IdempotencyKeys.claim`` (a route
    without a token names the caller whose keys these are)."""
    keys: IdempotencyKeys = request.app.state.idempotency
    return keys.claim(
        owner,
        parse_idempotency_key(request.headers.get(IDEMPOTENCY_HEADER)),
        render=render,
        method=request.method,
        path=request.url.path,
        body=body,
        if_match=request.headers.get("if-match"),
    )


def stored_view(
    request: Request, view: Callable[[ResultT], BaseModel]
) -> Callable[[ResultT], StoredResponse]:
    """What a keyed FastAPI route keeps: ``view`` of its result as JSON, under the status the
    route declares, so that a replay is the very answer the route sent the first time."""
    status: int = request.scope["route"].status_code or 200  # FastAPI's when none is declared

    def render(result: ResultT) -> StoredResponse:
        return StoredResponse(status, (), view(result).model_dump_json(by_alias=True).encode())

    return render


def _session_body(session: Session) -> bytes:
    # Not the fan-out's cache of recent JSON: this runs inside a transaction that may still
    # fail, and a version that was never committed must not be remembered.
    return session.__pydantic_serializer__.to_json(session, by_alias=True)


def stored_session(session: Session) -> StoredResponse:
    """What a keyed PATCH, complete, abandon or fail keeps: 200, the session, its ETag."""
    return StoredResponse(200, (("etag", f'"{session.version}"'),), _session_body(session))


def stored_creation(session: Session) -> StoredResponse:
    """What a keyed create keeps: 201, ``{sessionId, session}``, ETag and Location."""
    body = b'{"sessionId":"%s","session":%s}' % (session.id.encode(), _session_body(session))
    location = f"/v1/projects/{session.project_id}/sessions/{session.id}"
    return StoredResponse(201, (("etag", f'"{session.version}"'), ("location", location)), body)


def replay_headers(response: StoredResponse) -> list[tuple[bytes, bytes]]:
    """The stored headers, and the one that says this is a replay."""
    return [
        *((name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers),
        (REPLAYED_HEADER.lower().encode(), b"true"),
    ]


async def _on_replayed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestReplayed)
    stored = exc.response
    response = Response(stored.body, status_code=stored.status, media_type="application/json")
    for name, value in (*stored.headers, (REPLAYED_HEADER, "true")):
        response.headers[name] = value
    return response


def install_replay_handler(app: FastAPI) -> None:
    """FastAPI routes answer a replayed request with its stored response."""
    app.add_exception_handler(RequestReplayed, _on_replayed)
