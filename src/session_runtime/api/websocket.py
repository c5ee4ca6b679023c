"""WebSocket ``/v1/ws``: many subscriptions on one connection.

Every message is a JSON object with a ``type``. The client sends::

    {"type": "auth", "token": "srt_..."}            (unless it sent Authorization: Bearer)
    {"type": "subscribe", "id": "a", "projectId": "p", "sessionId": "s"}
    {"type": "subscribe", "id": "b", "projectId": "p"}      (every session; members only)
    {"type": "unsubscribe", "id": "a"}
    {"type": "ping"}

and the server answers::

    {"type": "authenticated"}
    {"type": "snapshot", "id": "a", "session": {...}}   (first the current one, then each change)
    {"type": "end", "id": "a", "status": "completed"}   (the session reached a final status)
    {"type": "erased", "id": "a", "projectId": "p", "sessionId": "s"}  (the session is gone;
                                                  the last message of a session subscription)
    {"type": "subscribed", "id": "b"}
    {"type": "change", "id": "b", "session": {...}}     (one per change in the project)
    {"type": "unsubscribed", "id": "a"}
    {"type": "pong"}
    {"type": "error", "id": "a" | null, "error": {"code", "message", "details"}}

An error concerns only the subscription it names (or the message it answers): the connection
stays open. A failed ``auth`` closes it with code 4401. Authorization is checked on every
subscribe, and so is the token itself: once it is no longer valid (revoked), the subscribe
is refused with ``UNAUTHENTICATED`` and the connection closes with 4401, ending every
subscription on it. An open connection also re-checks its token on a timer, so a revocation
ends it even when it sends nothing (see ``credentials``).

A connection may hold thousands of subscriptions, so a subscription holds no task: its
mailbox calls the connection back when a change arrives, and one short task per connection
sends whatever is ready, subscription by subscription, while there is something to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from ..domain.auth import Principal
from ..domain.errors import (
    ResourceExhaustedError,
    SessionRuntimeError,
    UnauthenticatedError,
    ValidationError,
)
from ..domain.guests import SessionErased
from ..settings import Settings
from ..subscriptions import ProjectSubscription, SessionSubscription
from ..tasks import cancel_and_wait
from .credentials import token_lapse
from .http import bearer_token
from .limits import SubscriptionLease
from .streams import LiveStreams

logger = logging.getLogger(__name__)

router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401


@dataclass(slots=True, eq=False)
class _Following:
    """One subscription on a connection; called back by its mailbox when a change arrives."""

    connection: Connection
    id: str
    subscription: SessionSubscription | ProjectSubscription
    lease: SubscriptionLease

    def __call__(self) -> None:
        self.connection._ready(self)

    def messages(self) -> list[bytes]:
        """What this subscription has to send now: its snapshots or changes, then its last
        message if it ended."""
        subscription = self.subscription
        session_json = self.connection.live.session_json
        quoted = orjson.dumps(self.id)
        sent: list[bytes] = []
        if isinstance(subscription, ProjectSubscription):
            while (change := subscription.take()) is not None:
                if isinstance(change, SessionErased):
                    sent.append(_erased(quoted, change))
                else:
                    sent.append(
                        b'{"type":"change","id":%s,"session":%s}' % (quoted, session_json(change))
                    )
            return sent
        while (session := subscription.take()) is not None:
            sent.append(
                b'{"type":"snapshot","id":%s,"session":%s}' % (quoted, session_json(session))
            )
        if subscription.erased is not None:
            sent.append(_erased(quoted, subscription.erased))
        elif subscription.is_closed and subscription.final_status is not None:
            status = orjson.dumps(subscription.final_status.value)
            sent.append(b'{"type":"end","id":%s,"status":%s}' % (quoted, status))
        return sent


class Connection:
    """One client's WebSocket and the subscriptions it holds."""

    def __init__(self, websocket: WebSocket, live: LiveStreams, settings: Settings) -> None:
        self.websocket = websocket
        self.live = live
        self.max_message_bytes = settings.ws_max_message_bytes
        self.max_subscriptions = settings.ws_max_subscriptions
        self.principal: Principal | None = None
        self.following: dict[str, _Following] = {}
        # The subscriptions with something to send, and the task sending it (while it does).
        self._ready_ids: dict[str, _Following] = {}
        self._delivery: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        # The token the principal came from, re-checked by the server's token watch.
        self._token: str | None = None
        self._closing: asyncio.Task[None] | None = None
        self._is_closing = False

    async def run(self) -> None:
        header = self.websocket.headers.get("authorization")
        try:
            if header is not None:
                token = bearer_token(header)
                self.principal = await self.live.service.authenticate(token)
                self._watch_token(token)
        except SessionRuntimeError as exc:
            await self._send_error(None, exc)
            await self.websocket.close(CLOSE_UNAUTHENTICATED)
            return
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                raw = message.get("text")
                if raw is None:
                    raw = message.get("bytes") or b""
                if not await self._handle(raw):
                    return
        except WebSocketDisconnect:
            return
        finally:
            self._is_closing = True
            if self._token is not None:
                self.live.token_watch.unwatch(self._token, self)
            for following in list(self.following.values()):
                self._drop(following)
            for task in (self._delivery, self._closing):
                if task is not asyncio.current_task():
                    await cancel_and_wait(task)

    async def _handle(self, raw: str | bytes) -> bool:
        """Act on one message; ``False`` when the connection must close."""
        if _size_over(raw, self.max_message_bytes):
            await self._send_error(
                None,
                ResourceExhaustedError(
                    f"a message may take at most {self.max_message_bytes} bytes",
                    details={"limit": self.max_message_bytes},
                ),
            )
            return True
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self._send_error(None, ValidationError.at("$", "the message is not JSON"))
            return True
        if not isinstance(message, dict):
            await self._send_error(None, ValidationError.at("$", "the message must be an object"))
            return True
        kind = message.get("type")
        subscription_id = message.get("id")
        try:
            if kind == "ping":
                await self._send({"type": "pong"})
            elif kind == "auth":
                return await self._authenticate(message)
            elif kind == "subscribe":
                if not await self._token_holds(subscription_id):
                    return False
                await self._subscribe(_subscription_id(subscription_id), message)
            elif kind == "unsubscribe":
                await self._unsubscribe(_subscription_id(subscription_id))
            else:
                raise ValidationError.at(
                    "type", "must be one of auth, subscribe, unsubscribe, ping"
                )
        except SessionRuntimeError as exc:
            await self._send_error(subscription_id if isinstance(subscription_id, str) else None,
                                   exc)  # fmt: skip
        return True

    async def _authenticate(self, message: dict[str, Any]) -> bool:
        token = message.get("token")
        try:
            if not isinstance(token, str):
                raise UnauthenticatedError("auth needs a token")
            self.principal = await self.live.service.authenticate(token)
        except SessionRuntimeError as exc:
            await self._send_error(None, exc)
            await self.websocket.close(CLOSE_UNAUTHENTICATED)
            return False
        self._watch_token(token)
        await self._send({"type": "authenticated"})
        return True

    def _watch_token(self, token: str) -> None:
        """Have the server's token watch re-check ``token`` from now on."""
        if self._token is not None:
            self.live.token_watch.unwatch(self._token, self)
        self._token = token
        self.live.token_watch.watch(token, self)

    def token_lapsed(self, error: UnauthenticatedError) -> None:
        """The server's token watch found the token no longer valid: close with 4401."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close_unauthenticated(None, error)
            )

    async def _token_holds(self, subscription_id: object) -> bool:
        """Whether the connection's token is still valid; if not, refuse the subscribe that
        asked and close the connection (``False``)."""
        if self._token is None:
            return True  # not signed in: ``_subscribe`` says so and the connection stays
        error = await token_lapse(self.live.service, self._token)
        if error is None:
            return True
        await self._close_unauthenticated(
            subscription_id if isinstance(subscription_id, str) else None, error
        )
        return False

    async def _close_unauthenticated(
        self, subscription_id: str | None, error: UnauthenticatedError
    ) -> None:
        """The token is no longer valid: stop every subscription, say why, close with 4401."""
        if self._is_closing:
            return
        self._is_closing = True
        for following in list(self.following.values()):
            self._drop(following)
        await self._send_error(subscription_id, error)
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.close(CLOSE_UNAUTHENTICATED)

    async def _subscribe(self, subscription_id: str, message: dict[str, Any]) -> None:
        if self.principal is None:
            raise UnauthenticatedError("authenticate first: send {'type': 'auth', 'token': ...}")
        limits = self.live.limits
        limits.check_rate(self.principal)
        if subscription_id in self.following:
            raise ValidationError.at("id", "is already in use on this connection")
        if len(self.following) >= self.max_subscriptions:
            raise ResourceExhaustedError(
                f"a connection may hold at most {self.max_subscriptions} subscriptions",
                details={"limit": self.max_subscriptions},
                http_status=429,
            )
        project_id = message.get("projectId")
        session_id = message.get("sessionId")
        if not isinstance(project_id, str) or not project_id:
            raise ValidationError.at("projectId", "must be a non-empty string")
        unknown = set(message) - {"type", "id", "projectId", "sessionId"}
        if unknown:
            raise ValidationError.at(sorted(unknown)[0], "unknown field")
        if session_id is not None and (not isinstance(session_id, str) or not session_id):
            raise ValidationError.at("sessionId", "must be a non-empty string")
        lease = limits.open_subscription(self.principal)
        service = self.live.service
        subscription: SessionSubscription | ProjectSubscription
        try:
            if session_id is None:
                subscription = await service.subscribe_project(self.principal, project_id)
                await self._send({"type": "subscribed", "id": subscription_id})
            else:
                subscription = await service.subscribe_session(
                    self.principal, project_id, session_id
                )
        except BaseException:
            lease.release()
            raise
        following = _Following(self, subscription_id, subscription, lease)
        self.following[subscription_id] = following
        self.live.metrics.subscriptions_opened("websocket")
        subscription.listen(following)  # the current snapshot is waiting: it goes out now

    def _drop(self, following: _Following) -> None:
        """End one subscription: it sends nothing more and no longer counts."""
        if self.following.get(following.id) is following:
            del self.following[following.id]
            self._ready_ids.pop(following.id, None)
            following.subscription.close()
            following.lease.release()
            self.live.metrics.subscriptions_closed("websocket")

    async def _unsubscribe(self, subscription_id: str) -> None:
        following = self.following.get(subscription_id)
        if following is None:
            raise ValidationError.at("id", "no such subscription on this connection")
        self._drop(following)
        await self._send({"type": "unsubscribed", "id": subscription_id})

    def _ready(self, following: _Following) -> None:
        """A subscription's mailbox has something (or closed): send it soon."""
        if self.following.get(following.id) is not following or self._is_closing:
            return
        self._ready_ids[following.id] = following
        if self._delivery is None:
            self._delivery = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        """Send what the ready subscriptions have, one subscription at a time, until none has
        anything; a subscription that ended is dropped after its last message."""
        try:
            while self._ready_ids and not self._is_closing:
                following = self._ready_ids.pop(next(iter(self._ready_ids)))
                for data in following.messages():
                    await self._send_raw(data)
                if following.subscription.is_closed:
                    self._drop(following)
        except Exception:
            logger.exception("could not send to a WebSocket subscriber")
        finally:
            self._delivery = None

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(orjson.dumps(message))

    async def _send_error(self, subscription_id: str | None, error: SessionRuntimeError) -> None:
        await self._send({"type": "error", "id": subscription_id, **error.to_dict()})

    async def _send_raw(self, data: bytes) -> None:
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.send_text(data.decode())


def _erased(quoted_id: bytes, erased: SessionErased) -> bytes:
    return b'{"type":"erased","id":%s,"projectId":%s,"sessionId":%s}' % (
        quoted_id,
        orjson.dumps(erased.project_id),
        orjson.dumps(erased.session_id),
    )


def _size_over(raw: str | bytes, limit: int) -> bool:
    """Whether a message takes more than ``limit`` bytes (a text message counts in UTF-8)."""
    if len(raw) > limit:
        return True
    return isinstance(raw, str) and len(raw) * 4 > limit and len(raw.encode()) > limit


def transport_max_bytes(max_message_bytes: int) -> int:
    """The frame size the WebSocket server itself accepts (uvicorn's ``ws_max_size``).

    Larger than the cap, so that a message somewhat over it reaches the connection and gets an
    error while the connection stays open; beyond this, the server closes it (code 1009)
    before buffering more.
    """
    return max_message_bytes * 4


def _subscription_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise ValidationError.at("id", "must be a string of 1 to 128 characters")
    return value


@router.websocket("/v1/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    state = websocket.app.state
    connection = Connection(websocket, state.live, state.settings)
    await connection.run()
