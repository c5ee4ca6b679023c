"""Server-sent events: one session's snapshots, live.

``GET /v1/projects/{projectId}/sessions/{sessionId}/events`` answers ``text/event-stream``::

    id: 3
    event: snapshot
    data: {"id": "...", "version": 3, ...}

The current snapshot comes first, then one event per change (a slow reader gets the latest,
never a backlog). A comment line is sent whenever the stream has been quiet for the heartbeat
interval. A reconnect carrying ``Last-Event-ID: <version>`` gets the current snapshot at once
only if it is newer. When the session reaches a final status the stream sends
``event: end`` and closes. When the token stops being valid while the stream is open (it was
revoked), the stream sends ``event: error`` with the one error body (``UNAUTHENTICATED``) and
closes (see ``credentials``).

A server holds thousands of these streams at once, so this endpoint is a plain ASGI handler
called before FastAPI's routing (see ``session_routes``): per stream it keeps one task for the
stream, one waiting for the client to leave, one re-checking its token now and then, and the
subscription's mailbox, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

import orjson
from starlette.types import Receive, Scope, Send

from ..domain.errors import SessionRuntimeError, UnauthenticatedError
from ..service import SessionService
from ..subscriptions import SessionSubscription
from .credentials import CredentialCheck, recheck_seconds
from .http import bearer_token
from .limits import Limits, retry_after_headers
from .metrics import Metrics
from .responses import SessionJson

logger = logging.getLogger(__name__)

_STREAM_HEADERS: Final = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
_HEARTBEAT: Final = {"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True}


async def serve_session_events(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    project_id: str,
    session_id: str,
    service: SessionService,
    metrics: Metrics,
    limits: Limits,
    session_json: SessionJson,
    heartbeat_seconds: float,
    token_cache_seconds: float,
) -> None:
    """Authenticate, subscribe, then stream until the session is final, the client leaves or
    the token is no longer valid."""
    if scope["method"] not in ("GET", "HEAD"):
        await _send_error(send, 405, "NOT_FOUND", "the events of a session are read with GET")
        return
    authorization = last_event_id = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"last-event-id":
            last_event_id = value.decode("latin-1")
    try:
        token = bearer_token(authorization)
        principal = await service.authenticate(token)
        limits.check_rate(principal)
        lease = limits.open_subscription(principal)
        try:
            subscription = await service.subscribe_session(principal, project_id, session_id)
        except BaseException:
            lease.release()
            raise
    except SessionRuntimeError as error:
        body = orjson.dumps(error.to_dict())
        await _send_error(
            send, error.http_status, error.code, error.message, body, retry_after_headers(error)
        )
        return
    except Exception:
        logger.exception("could not open the event stream of %s", session_id)
        await _send_error(send, 500, "INTERNAL", "an unexpected error occurred")
        return
    metrics.subscriptions_opened("sse")
    credentials = CredentialCheck(service, token, interval=recheck_seconds(token_cache_seconds))
    try:
        await _stream(
            send,
            receive,
            subscription,
            credentials,
            session_json,
            after_version=_version(last_event_id),
            heartbeat_seconds=heartbeat_seconds,
        )
    finally:
        metrics.subscriptions_closed("sse")
        lease.release()


async def _stream(
    send: Send,
    receive: Receive,
    subscription: SessionSubscription,
    credentials: CredentialCheck,
    session_json: SessionJson,
    *,
    after_version: int,
    heartbeat_seconds: float,
) -> None:
    watcher = asyncio.ensure_future(_close_on_disconnect(receive, subscription))
    lapsed: list[UnauthenticatedError] = []

    async def end_stream(error: UnauthenticatedError) -> None:
        lapsed.append(error)
        subscription.close()  # the loop below ends, then says why

    checker = asyncio.ensure_future(credentials.watch(end_stream))
    loop = asyncio.get_running_loop()
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
        last = None
        is_open = True
        while is_open:
            try:
                # One timeout per quiet period, pushed back after every event.
                async with asyncio.timeout(heartbeat_seconds) as quiet:
                    while True:
                        session = await anext(subscription, None)
                        if session is None:
                            is_open = False
                            break
                        last = session
                        if session.version > after_version:
                            event = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (
                                session.version,
                                session_json(session),
                            )
                            await send(
                                {"type": "http.response.body", "body": event, "more_body": True}
                            )
                        quiet.reschedule(loop.time() + heartbeat_seconds)
            except TimeoutError:
                await send(_HEARTBEAT)
        ending = b""
        if lapsed:
            ending = b"event: error\ndata: %s\n\n" % orjson.dumps(lapsed[0].to_dict())
        elif last is not None and last.is_final:
            data = orjson.dumps({"status": last.status.value, "version": last.version})
            ending = b"event: end\ndata: %s\n\n" % data
        await send({"type": "http.response.body", "body": ending, "more_body": False})
    except OSError:
        pass  # the client went away mid-send
    finally:
        subscription.close()
        watcher.cancel()
        checker.cancel()


async def _close_on_disconnect(receive: Receive, subscription: SessionSubscription) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            subscription.close()
            return


def _version(last_event_id: str | None) -> int:
    """The version a reconnecting client has seen; anything unreadable counts as none."""
    text = (last_event_id or "").strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    body: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if body is None:
        body = orjson.dumps({"error": {"code": code, "message": message, "details": None}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
