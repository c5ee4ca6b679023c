"""The routes of one session: a pure ASGI middleware in front of FastAPI's routing.

``POST /v1/projects/{p}/sessions``, ``GET``/``PATCH /v1/projects/{p}/sessions/{s}``,
``POST .../complete|abandon|fail`` and ``GET .../events`` carry nearly all the traffic of a
running event (every kiosk starts and writes its sessions here, every screen follows here).
``SessionRoutes`` serves them without dependency injection or response models, with the same
error body as every other route, and passes every other request on. It sits inside the app's
middleware (see ``pipeline``), so CORS and whatever else is added there applies to these
routes too.

The routes are described once, by ``documented_routes`` below: they are FastAPI routes of the
app (so the OpenAPI document and FastAPI's 405 answers know them), and ``SessionRoutes`` takes
its paths and methods from them, each endpoint's name choosing its handler, and serves them
before FastAPI's routing is reached. A method the table lacks goes on to FastAPI's routing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, Final, TypeVar

import orjson
import sentry_sdk
from fastapi import APIRouter, Header
from fastapi.responses import EventSourceResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.auth import Principal
from ..domain.errors import SessionRuntimeError
from ..domain.idempotency import IdempotencyClaim, RequestReplayed, StoredResponse
from ..domain.models import CreateSessionResult, Session
from ..idempotency import IdempotencyKeys
from .errors import error_responses
from .http import bearer_token, if_match_version, merge_path_field, read_json_chunks
from .idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    REPLAYED_RESPONSE_HEADER,
    keyed,
    replay_headers,
    stored_creation,
    stored_session,
)
from .responses import SessionJson
from .schemas import (
    AbandonSessionBody,
    CreateSessionBody,
    CreateSessionResponse,
    FailSessionBody,
    UpdateSessionProgressBody,
    json_body,
)
from .streams import LiveStreams, serve_session_events

logger = logging.getLogger(__name__)

PREFIX: Final = "/v1/projects/"
T = TypeVar("T")

# A handler gets the request and the path's parameters, and answers it.
Handler = Callable[[Scope, Receive, Send, dict[str, str]], Awaitable[None]]


class SessionRoutes:
    """Serves the requests whose path names one session; passes every other request on."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        live: LiveStreams,
        idempotency: IdempotencyKeys,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.live = live
        self.idempotency = idempotency
        self.max_body_bytes = max_body_bytes
        handlers: dict[str, Handler] = {
            "create_session": self._create,
            "get_session": self._get,
            # Each write is the service's operation of the same name.
            **{name: partial(self._write, name) for _, _, name, _, _ in _WRITES},
            "session_events": self._events,
        }
        self.paths = dispatch_table(documented_routes.routes, handlers)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: it hands the request to its handler (or on), so an open
        # stream keeps no frame of this layer alive.
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            path = scope["path"]
            for pattern, by_method in self.paths:
                match = pattern.match(path)
                if match is None:
                    continue
                handler = by_method.get(scope["method"])
                if handler is not None:
                    return handler(scope, receive, send, match.groupdict())
                break  # FastAPI's routing has the path's other methods, or answers 405
        return self.app(scope, receive, send)

    def _events(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> Awaitable[None]:
        return serve_session_events(
            scope,
            receive,
            send,
            project_id=params["project_id"],
            session_id=params["session_id"],
            live=self.live,
        )

    async def _create(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        project_id = params["project_id"]

        async def create() -> CreateSessionResult:
            headers = _headers(scope)
            principal = await self._authenticate(headers)
            body = await self._body(receive, headers)
            merge_path_field(body, "projectId", project_id)
            claim = self._claim(principal, scope, headers, body, stored_creation)
            return await self.live.service.create_session(principal, body, idempotency=claim)

        result = await _attempt(scope, send, create)
        if result is None:
            return
        session = result.session
        encoded = self.live.session_json(session)
        content = b'{"sessionId":"%s","session":%s}' % (session.id.encode(), encoded)
        location = f"/v1/projects/{project_id}/sessions/{session.id}".encode()
        headers_out = [(b"etag", b'"%d"' % session.version), (b"location", location)]
        # A repeated create with a client-chosen id found the session: 200, not 201.
        await _send_body(send, 201 if result.is_new else 200, content, headers_out)

    async def _get(
        self, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        async def read() -> Session:
            principal = await self._authenticate(_headers(scope))
            return await self.live.service.get_session(
                principal, params["project_id"], params["session_id"]
            )

        await _answer(scope, send, read, self.live.session_json)

    async def _write(
        self, operation: str, scope: Scope, receive: Receive, send: Send, params: dict[str, str]
    ) -> None:
        async def write() -> Session:
            return await self._apply(operation, scope, params, receive)

        await _answer(scope, send, write, self.live.session_json)

    async def _authenticate(self, headers: dict[bytes, bytes]) -> Principal:
        authorization = headers.get(b"authorization")
        token = bearer_token(None if authorization is None else authorization.decode("latin-1"))
        principal = await self.live.service.authenticate(token)
        self.live.limits.check_rate(principal)  # before the body is read: a refusal writes nothing
        return principal

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> dict[str, Any]:
        declared = headers.get(b"content-length")
        return await read_json_chunks(
            _chunks(receive),
            None if declared is None else declared.decode("latin-1"),
            self.max_body_bytes,
        )

    async def _apply(
        self, operation: str, scope: Scope, params: dict[str, str], receive: Receive
    ) -> Session:
        """Run the service's write ``operation`` (``update_session_progress``,
        ``complete_session``, ...) on the request."""
        project_id, session_id = params["project_id"], params["session_id"]
        headers = _headers(scope)
        principal = await self._authenticate(headers)
        body = await self._body(receive, headers)
        merge_path_field(body, "sessionId", session_id)
        expected = if_match_version(_text(headers.get(b"if-match")))
        claim = self._claim(principal, scope, headers, body, stored_session)
        write = getattr(self.live.service, operation)
        session: Session = await write(
            principal, project_id, body, expected_version=expected, idempotency=claim
        )
        return session

    def _claim(
        self,
        principal: Principal,
        scope: Scope,
        headers: dict[bytes, bytes],
        body: dict[str, Any],
        render: Callable[[Session], StoredResponse],
    ) -> IdempotencyClaim[Session] | None:
        return keyed(
            self.idempotency,
            principal,
            key_header=_text(headers.get(b"idempotency-key")),
            method=scope["method"],
            path=scope["path"],
            body=body,
            if_match=_text(headers.get(b"if-match")),
            render=render,
        )


def dispatch_table(
    routes: list[Any], handlers: dict[str, Handler]
) -> list[tuple[re.Pattern[str], dict[str, Handler]]]:
    """Each documented path's pattern with its methods' handlers, in the routes' order."""
    table: dict[str, tuple[re.Pattern[str], dict[str, Handler]]] = {}
    for route in routes:
        assert isinstance(route, APIRoute)
        _, by_method = table.setdefault(route.path, (route.path_regex, {}))
        for method in route.methods or ():
            by_method[method] = handlers[route.name]
    return list(table.values())


async def _answer(
    scope: Scope,
    send: Send,
    operation: Callable[[], Awaitable[Session]],
    session_json: SessionJson,
) -> None:
    """Run one operation and answer with the session, or with the one error body."""
    session = await _attempt(scope, send, operation)
    if session is not None:
        await send_session(send, session, session_json(session))


async def _attempt(scope: Scope, send: Send, operation: Callable[[], Awaitable[T]]) -> T | None:
    """Run one operation; when it was a replay, or failed, answer that here (``None``)."""
    try:
        return await operation()
    except RequestReplayed as replay:
        await send_replay(send, replay.response)
    except Exception as exc:
        await _send_error(scope, send, exc)
    return None


async def _send_error(scope: Scope, send: Send, exc: Exception) -> None:
    if isinstance(exc, SessionRuntimeError):
        await send_json(send, exc.http_status, exc.to_dict(), _retry_after(exc))
        return
    logger.exception("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
    sentry_sdk.capture_exception(exc)
    message = "an unexpected error occurred; it has been reported"
    await send_json(send, 500, _error("INTERNAL", message))


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _text(header: bytes | None) -> str | None:
    return None if header is None else header.decode("latin-1")


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None}}


def _retry_after(error: SessionRuntimeError) -> list[tuple[bytes, bytes]]:
    retry_after = getattr(error, "retry_after", None)
    if retry_after is None:
        return []
    return [(b"retry-after", str(max(1, round(retry_after))).encode())]


async def send_json(
    send: Send, status: int, content: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send_body(send, status, orjson.dumps(content), headers or [])


async def send_replay(send: Send, response: StoredResponse) -> None:
    """A keyed request answered again: the stored status, headers and body."""
    await _send_body(send, response.status, response.body, replay_headers(response))


async def send_session(send: Send, session: Session, body: bytes) -> None:
    await _send_body(send, 200, body, [(b"etag", b'"%d"' % session.version)])


async def _send_body(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- the routes, described once: FastAPI documents them, SessionRoutes serves them ----------

documented_routes = APIRouter(prefix="/v1")
_READ = ("UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "UNAVAILABLE")
_WRITE = (*_READ, "VALIDATION_ERROR", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED")
_SESSION: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Session,
        "description": "The session.",
        "headers": {
            "ETag": {"description": "The session's version.", "schema": {"type": "string"}},
            **REPLAYED_RESPONSE_HEADER,
        },
    }
}
_IF_MATCH = Header(
    default=None,
    alias="If-Match",
    description='Write only if the session is at this version (`"3"`); else 409.',
)
_ONE = "/projects/{project_id}/sessions/{session_id}"


# One event of the stream, as an SSE parser sees it; `data` is the session (or, for `end`,
# its final status and version) as JSON.
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "id": {"type": "string", "description": "The session's version."},
        "event": {"type": "string", "enum": ["snapshot", "end", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


def _json_errors(*codes: str) -> dict[int | str, dict[str, Any]]:
    """Error responses of a stream: JSON bodies, not the stream's own media type."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        status: {"description": entry["description"], "content": content}
        for status, entry in error_responses(*codes).items()
    }


def _described_only() -> None:
    raise RuntimeError("served by SessionRoutes, in front of FastAPI's routing")


@documented_routes.post(
    "/projects/{project_id}/sessions",
    status_code=201,
    response_model=CreateSessionResponse,
    responses={
        200: {
            "description": "A create naming a `sessionId` this caller already created with "
            "the same body: the session, as it is now (nothing was written).",
            "model": CreateSessionResponse,
            "headers": {
                "ETag": {"description": "Its version.", "schema": {"type": "string"}},
                "Location": {"description": "Its URL.", "schema": {"type": "string"}},
            },
        },
        201: {
            "description": "The session was created.",
            "headers": {
                "ETag": {"description": "Its version: 1.", "schema": {"type": "string"}},
                "Location": {"description": "Its URL.", "schema": {"type": "string"}},
                **REPLAYED_RESPONSE_HEADER,
            },
        },
        **error_responses(*_WRITE),
    },
    openapi_extra=json_body(CreateSessionBody),
    summary="Create a session",
)
async def create_session(
    project_id: str, idempotency_key: str | None = IDEMPOTENCY_KEY_PARAMETER
) -> None:
    """Start a session: ``status=active``, ``currentStepIndex=0``, ``version=1``."""
    _described_only()


@documented_routes.get(_ONE, responses={**_SESSION, **error_responses(*_READ)})
async def get_session(project_id: str, session_id: str) -> None:
    """Get a session, with its version as ``ETag``."""
    _described_only()


# The four writes of one session, described for OpenAPI from one table: method, path after
# the session's, operation name, JSON body (and whether it is required), description.
_WRITES: Final = (
    (
        "PATCH",
        "",
        "update_session_progress",
        (UpdateSessionProgressBody, True),
        "Record progress: deep-merge ``inputs`` and ``outputs``; replace ``currentStepIndex``.",
    ),
    (
        "POST",
        "/complete",
        "complete_session",
        None,
        "Mark it completed (``completedAt == updatedAt``). Repeating it is a harmless no-op.",
    ),
    (
        "POST",
        "/abandon",
        "abandon_session",
        (AbandonSessionBody, False),
        "Mark it abandoned (the guest left), with an optional ``reason``. Safe to retry.",
    ),
    (
        "POST",
        "/fail",
        "fail_session",
        (FailSessionBody, True),
        "Mark it failed (status ``error``) with a ``reason``. Safe to retry.",
    ),
)


async def _write_parameters(
    project_id: str,
    session_id: str,
    if_match: str | None = _IF_MATCH,
    idempotency_key: str | None = IDEMPOTENCY_KEY_PARAMETER,
) -> None:
    _described_only()


for _method, _suffix, _name, _body, _description in _WRITES:
    documented_routes.add_api_route(
        _ONE + _suffix,
        _write_parameters,
        methods=[_method],
        name=_name,
        summary=_name.replace("_", " ").title(),
        description=_description,
        responses={**_SESSION, **error_responses(*_WRITE)},
        openapi_extra=None if _body is None else json_body(_body[0], required=_body[1]),
    )


@documented_routes.get(
    _ONE + "/events",
    response_class=EventSourceResponse,
    status_code=200,
    responses={
        200: {
            "description": "`event: snapshot` (`id:` = version) now and on each change, then "
            "`event: end` once the session is final, or `event: error` (the error body) once "
            "the token is no longer valid; a comment line when quiet.",
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        },
        **_json_errors(*_READ),
    },
)
async def session_events(
    project_id: str,
    session_id: str,
    last_event_id: str | None = Header(
        default=None,
        alias="Last-Event-ID",
        description="The version last seen: the current snapshot comes at once if newer.",
    ),
) -> None:
    """Follow a session live (server-sent events)."""
    _described_only()
