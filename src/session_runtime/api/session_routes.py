"""The routes of one session, served before FastAPI's routing.

``GET``/``PATCH /v1/projects/{p}/sessions/{s}``, ``POST .../complete|abandon|fail`` and
``GET .../events`` carry nearly all the traffic of a running event (every kiosk writes its
progress here, every screen follows here). They are plain ASGI handlers: no middleware stack,
no dependency injection, the same error body as every other route. ``documented_routes`` below
gives them their OpenAPI description; FastAPI never serves those.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Final

import orjson
import sentry_sdk
from fastapi import APIRouter, Header
from fastapi.responses import EventSourceResponse
from starlette.types import Receive, Scope, Send

from ..domain.errors import SessionRuntimeError
from ..domain.models import Session
from ..service import SessionService
from .errors import error_responses
from .http import bearer_token, if_match_version, merge_path_field, read_json_chunks
from .limits import Limits
from .metrics import Metrics
from .responses import SessionJson
from .schemas import AbandonSessionBody, FailSessionBody, UpdateSessionProgressBody, json_body
from .streams import serve_session_events

logger = logging.getLogger(__name__)

SESSION_PATH: Final = re.compile(r"/v1/projects/([^/]+)/sessions/([^/]+)(?:/([a-z]+))?")
_FINISH_ACTIONS: Final = frozenset({"complete", "abandon", "fail"})


class SessionRoutes:
    """Dispatches the requests whose path names one session."""

    def __init__(
        self,
        service: SessionService,
        metrics: Metrics,
        limits: Limits,
        session_json: SessionJson,
        *,
        max_body_bytes: int,
        heartbeat_seconds: float,
    ) -> None:
        self.service = service
        self.metrics = metrics
        self.limits = limits
        self.session_json = session_json
        self.max_body_bytes = max_body_bytes
        self.heartbeat_seconds = heartbeat_seconds

    def matches(self, scope: Scope) -> re.Match[str] | None:
        match = SESSION_PATH.fullmatch(scope["path"])
        if match is None or (match[3] is not None and match[3] not in _ROUTED_ACTIONS):
            return None
        return match

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]
    ) -> None:
        project_id, session_id, action = match[1], match[2], match[3]
        method = scope["method"]
        if action == "events":
            await serve_session_events(
                scope,
                receive,
                send,
                project_id=project_id,
                session_id=session_id,
                service=self.service,
                metrics=self.metrics,
                limits=self.limits,
                session_json=self.session_json,
                heartbeat_seconds=self.heartbeat_seconds,
            )
            return
        headers = _headers(scope)
        try:
            if action is None and method == "GET":
                principal = await self._authenticate(headers)
                session = await self.service.get_session(principal, project_id, session_id)
            elif (action is None and method == "PATCH") or (
                action in _FINISH_ACTIONS and method == "POST"
            ):
                session = await self._write(
                    project_id, session_id, action, headers, _chunks(receive)
                )
            else:
                await send_json(send, 405, _error("NOT_FOUND", "no such method on this path"))
                return
        except SessionRuntimeError as error:
            await send_json(send, error.http_status, error.to_dict(), _retry_after(error))
            return
        except Exception as exc:
            logger.exception("unexpected error on %s %s", method, scope["path"])
            sentry_sdk.capture_exception(exc)
            message = "an unexpected error occurred; it has been reported"
            await send_json(send, 500, _error("INTERNAL", message))
            return
        await send_session(send, session, self.session_json(session))

    async def _authenticate(self, headers: dict[bytes, bytes]) -> Any:
        authorization = headers.get(b"authorization")
        token = bearer_token(None if authorization is None else authorization.decode("latin-1"))
        principal = await self.service.authenticate(token)
        self.limits.check_rate(principal)  # before the body is read: a refusal writes nothing
        return principal

    async def _write(
        self,
        project_id: str,
        session_id: str,
        action: str | None,
        headers: dict[bytes, bytes],
        chunks: AsyncIterator[bytes],
    ) -> Session:
        principal = await self._authenticate(headers)
        declared = headers.get(b"content-length")
        body = await read_json_chunks(
            chunks, None if declared is None else declared.decode("latin-1"), self.max_body_bytes
        )
        merge_path_field(body, "sessionId", session_id)
        if_match = headers.get(b"if-match")
        expected = if_match_version(None if if_match is None else if_match.decode("latin-1"))
        service = self.service
        if action is None:
            return await service.update_session_progress(
                principal, project_id, body, expected_version=expected
            )
        if action == "complete":
            return await service.complete_session(
                principal, project_id, body, expected_version=expected
            )
        if action == "abandon":
            return await service.abandon_session(
                principal, project_id, body, expected_version=expected
            )
        return await service.fail_session(principal, project_id, body, expected_version=expected)


_ROUTED_ACTIONS: Final = _FINISH_ACTIONS | {"events"}


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


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
    body = orjson.dumps(content)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_session(send: Send, session: Session, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                (b"etag", b'"%d"' % session.version),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- their OpenAPI description (never mounted: the handlers above serve these paths) ---------

documented_routes = APIRouter(prefix="/v1")
_READ = ("UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "UNAVAILABLE")
_WRITE = (*_READ, "VALIDATION_ERROR", "FAILED_PRECONDITION", "RESOURCE_EXHAUSTED")
_SESSION: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Session,
        "description": "The session.",
        "headers": {
            "ETag": {"description": "The session's version.", "schema": {"type": "string"}}
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
        "event": {"type": "string", "enum": ["snapshot", "end"]},
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
    raise RuntimeError("served by SessionRoutes, before FastAPI's routing")


@documented_routes.get(_ONE, responses={**_SESSION, **error_responses(*_READ)})
async def get_session(project_id: str, session_id: str) -> None:
    """Get a session, with its version as ``ETag``."""
    _described_only()


@documented_routes.patch(
    _ONE,
    responses={**_SESSION, **error_responses(*_WRITE)},
    openapi_extra=json_body(UpdateSessionProgressBody),
)
async def update_session_progress(
    project_id: str, session_id: str, if_match: str | None = _IF_MATCH
) -> None:
    """Record progress: deep-merge ``inputs`` and ``outputs``; replace ``currentStepIndex``."""
    _described_only()


@documented_routes.post(_ONE + "/complete", responses={**_SESSION, **error_responses(*_WRITE)})
async def complete_session(
    project_id: str, session_id: str, if_match: str | None = _IF_MATCH
) -> None:
    """Mark it completed (``completedAt == updatedAt``). Repeating it is a harmless no-op."""
    _described_only()


@documented_routes.post(
    _ONE + "/abandon",
    responses={**_SESSION, **error_responses(*_WRITE)},
    openapi_extra=json_body(AbandonSessionBody, required=False),
)
async def abandon_session(
    project_id: str, session_id: str, if_match: str | None = _IF_MATCH
) -> None:
    """Mark it abandoned (the guest left), with an optional ``reason``. Safe to retry."""
    _described_only()


@documented_routes.post(
    _ONE + "/fail",
    responses={**_SESSION, **error_responses(*_WRITE)},
    openapi_extra=json_body(FailSessionBody),
)
async def fail_session(project_id: str, session_id: str, if_match: str | None = _IF_MATCH) -> None:
    """Mark it failed (status ``error``) with a ``reason``. Safe to retry."""
    _described_only()


@documented_routes.get(
    _ONE + "/events",
    response_class=EventSourceResponse,
    status_code=200,
    responses={
        200: {
            "description": "`event: snapshot` (`id:` = version) now and on each change, then "
            "`event: end` once the session is final; a comment line when quiet.",
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
