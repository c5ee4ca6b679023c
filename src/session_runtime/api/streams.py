"""Server-sent events: one session's snapshots, live.

``GET /v1/projects/{projectId}/sessions/{sessionId}/events`` answers ``text/event-stream``::

    id: 3
    event: snapshot
    data: {"id": "...", "version": 3, ...}

The current snapshot comes first, then one event per change (a slow reader gets the latest,
never a backlog). A comment line is sent whenever the stream has been quiet for the heartbeat
interval. A reconnect carrying ``Last-Event-ID: <version>`` gets the current snapshot at once
only if it is newer. When the session reaches a final status the stream sends
``event: end`` and closes; when the session is erased, ``event: erased`` and closes.
When the token stops being valid while the stream is open (it was revoked or it
expired), the stream sends ``event: error`` with the one error body
(``UNAUTHENTICATED``) and closes (see ``credentials``).

A server holds thousands of these streams at once, so this endpoint is a plain ASGI handler
called before FastAPI's routing (see ``session_routes``), and an idle stream holds as little
as it can: the request's own task, waiting for the client to leave; the subscription's
mailbox, which calls the stream back when a change arrives; one timer for its heartbeat; and
an entry in the server's one ``TokenWatch``. A change is sent by a short task that lives
while there is something to send; no snapshot is kept once it is sent.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

import orjson
from starlette.types import Message, Receive, Scope, Send

from ..domain.errors import SessionRuntimeError, UnauthenticatedError
from ..service import SessionService
from ..subscriptions import SessionSubscription
from .credentials import TokenWatch
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


@dataclass(frozen=True, eq=False)
class LiveStreams:
    """What every open stream of one server (SSE or WebSocket) shares."""

    service: SessionService
    metrics: Metrics
    limits: Limits
    session_json: SessionJson
    token_watch: TokenWatch
    heartbeats: Heartbeats


async def serve_session_events(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    project_id: str,
    session_id: str,
    live: LiveStreams,
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
    service = live.service
    try:
        token = bearer_token(authorization)
        principal = await service.authenticate(token)
        live.limits.check_rate(principal)
        lease = live.limits.open_subscription(principal)
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
    stream = _EventStream(send, subscription, live, _version(last_event_id))
    live.metrics.subscriptions_opened("sse")
    try:
        await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
        stream.begin(token)
        # The request's task only waits for the end: the client leaving, or the stream's last
        # event completing the response (after which ``receive`` says so too).
        while (await receive())["type"] != "http.disconnect":
            pass
    except OSError:
        pass  # the client went away mid-send
    finally:
        stream.end(token)
        live.metrics.subscriptions_closed("sse")
        lease.release()


class Heartbeats:
    """One timer for every open stream of a server: a stream that has sent nothing for
    ``interval`` seconds is told to send a comment line. The timer runs four times per interval
    while any stream is open, so a quiet stream's comment comes 1 to 1.25 intervals after its
    last event; a stream costs an entry in a set, not a timer of its own."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._streams: set[_EventStream] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, stream: _EventStream) -> None:
        self._streams.add(stream)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval / 4, self._tick)

    def discard(self, stream: _EventStream) -> None:
        self._streams.discard(stream)

    def _tick(self) -> None:
        self._timer = None
        if not self._streams:
            return
        loop = asyncio.get_running_loop()
        quiet_since = loop.time() - self.interval
        for stream in self._streams:
            if stream.last_sent <= quiet_since:
                stream.heartbeat()
        self._timer = loop.call_later(self.interval / 4, self._tick)


class _EventStream:
    """One open stream: called back by its subscription, the heartbeats and the token watch,
    it sends what is due from a task that exists only while there is something to send."""

    __slots__ = (
        "_after_version",
        "_delivery",
        "_heartbeat_due",
        "_is_over",
        "_lapsed",
        "_live",
        "_send",
        "_subscription",
        "last_sent",
    )

    def __init__(
        self, send: Send, subscription: SessionSubscription, live: LiveStreams, after_version: int
    ) -> None:
        self._send = send
        self._subscription = subscription
        self._live = live
        self._after_version = after_version
        self._delivery: asyncio.Task[None] | None = None
        self._heartbeat_due = False
        self.last_sent = 0.0
        self._lapsed: UnauthenticatedError | None = None
        self._is_over = False

    def begin(self, token: str) -> None:
        """Start following: the current snapshot, waiting already, goes out at once; the token
        is re-checked by the server's token watch."""
        self.last_sent = asyncio.get_running_loop().time()
        self._live.heartbeats.add(self)
        self._live.token_watch.watch(token, self)
        self._subscription.listen(self._on_ready)

    def end(self, token: str) -> None:
        """The request is over: stop every callback and any send still under way."""
        self._is_over = True
        self._subscription.close()
        self._live.heartbeats.discard(self)
        self._live.token_watch.unwatch(token, self)
        if self._delivery is not None:
            self._delivery.cancel()

    def token_lapsed(self, error: UnauthenticatedError) -> None:
        self._lapsed = error
        self._on_ready()

    def heartbeat(self) -> None:
        """Quiet for the heartbeat interval: a comment line goes out."""
        self._heartbeat_due = True
        self._on_ready()

    def _on_ready(self) -> None:
        if self._delivery is None and not self._is_over:
            self._delivery = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        try:
            while (message := self._next_message()) is not None:
                await self._send(message)
                self.last_sent = asyncio.get_running_loop().time()
        except OSError:
            pass  # the client went away mid-send; the request's task ends the stream
        except Exception:
            logger.exception("could not send an event of an SSE stream")
        finally:
            self._delivery = None

    def _next_message(self) -> Message | None:
        """What is due now, in order: the end of the stream if the token lapsed, the newest
        snapshot, the end if the subscription is over, a heartbeat; ``None`` when nothing."""
        if self._is_over:
            return None
        if self._lapsed is not None:
            return self._last(b"event: error\ndata: %s\n\n" % orjson.dumps(self._lapsed.to_dict()))
        subscription = self._subscription
        while (session := subscription.take()) is not None:
            if session.version > self._after_version:
                self._heartbeat_due = False
                event = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (
                    session.version,
                    self._live.session_json(session),
                )
                return {"type": "http.response.body", "body": event, "more_body": True}
        if subscription.is_closed:
            if subscription.erased is not None:
                data = orjson.dumps({"sessionId": subscription.erased.session_id})
                return self._last(b"event: erased\ndata: %s\n\n" % data)
            if subscription.final_status is not None:
                data = orjson.dumps(
                    {"status": subscription.final_status.value, "version": subscription.version}
                )
                return self._last(b"event: end\ndata: %s\n\n" % data)
            return self._last(b"")
        if self._heartbeat_due:
            self._heartbeat_due = False
            return _HEARTBEAT
        return None

    def _last(self, event: bytes) -> Message:
        self._is_over = True
        return {"type": "http.response.body", "body": event, "more_body": False}


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
