"""Server-sent events: one session's snapshots, live.

``GET /v1/projects/{projectId}/sessions/{sessionId}/events`` answers ``text/event-stream``::

    id: 3
    event: snapshot
    data: {"id": "...", "version": 3, ...}

The current snapshot comes first, then one event per change (a slow reader gets the latest,
never a backlog). A comment line is sent whenever the stream has been quiet for the heartbeat
interval. A reconnect carrying ``Last-Event-ID: <version>`` gets the current snapshot at once
only if it is newer. When the session reaches a final status the stream sends
``event: end`` and closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..subscriptions import SessionSubscription
from .errors import error_responses
from .http import last_event_version, service_of
from .responses import session_json
from .routes import PrincipalDep, _bearer

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", dependencies=[Depends(_bearer)])


class SessionEventStream(Response):
    """Streams a subscription as SSE; one task per client, plus one that waits for it to leave."""

    media_type = "text/event-stream"

    def __init__(
        self,
        subscription: SessionSubscription,
        *,
        after_version: int,
        heartbeat_seconds: float,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        # No Response.__init__: it would declare a Content-Length, and a stream has none.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        self.subscription = subscription
        self.after_version = after_version
        self.heartbeat_seconds = heartbeat_seconds
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self.subscription
        watcher = asyncio.ensure_future(_close_on_disconnect(receive, subscription))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            last = None
            while True:
                try:
                    async with asyncio.timeout(self.heartbeat_seconds):
                        session = await anext(subscription, None)
                except TimeoutError:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n",
                                "more_body": True})  # fmt: skip
                    continue
                if session is None:
                    break
                last = session
                if session.version <= self.after_version:
                    continue
                event = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (
                    session.version,
                    session_json(session),
                )
                await send({"type": "http.response.body", "body": event, "more_body": True})
            ending = b""
            if last is not None and last.is_final:
                data = orjson.dumps({"status": last.status.value, "version": last.version})
                ending = b"event: end\ndata: %s\n\n" % data
            await send({"type": "http.response.body", "body": ending, "more_body": False})
        except OSError:
            pass  # the client went away mid-send
        finally:
            subscription.close()
            watcher.cancel()
            if self.on_close is not None:
                self.on_close()


async def _close_on_disconnect(receive: Receive, subscription: SessionSubscription) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            subscription.close()
            return


@router.get(
    "/projects/{project_id}/sessions/{session_id}/events",
    response_class=SessionEventStream,
    status_code=200,
    responses={
        200: {
            "description": "A stream of `snapshot` events (id = version), then `end`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses("UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "UNAVAILABLE"),
    },
    summary="Follow a session (server-sent events)",
)
async def session_events(
    request: Request, project_id: str, session_id: str, principal: PrincipalDep
) -> Response:
    """The current snapshot, then one event per change; resumes with ``Last-Event-ID``."""
    subscription = await service_of(request).subscribe_session(principal, project_id, session_id)
    metrics = request.app.state.metrics
    metrics.subscriptions_opened("sse")
    return SessionEventStream(
        subscription,
        after_version=last_event_version(request),
        heartbeat_seconds=request.app.state.settings.heartbeat_seconds,
        on_close=lambda: metrics.subscriptions_closed("sse"),
    )
