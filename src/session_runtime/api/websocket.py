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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from ..domain.models import Session
from ..service import SessionService
from ..subscriptions import ProjectSubscription, SessionSubscription
from .credentials import CredentialCheck, recheck_seconds
from .http import bearer_token
from .limits import Limits, SubscriptionLease
from .metrics import Metrics
from .responses import SessionJson

logger = logging.getLogger(__name__)

router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401


class Connection:
    """One client's WebSocket and the subscriptions it holds."""

    def __init__(
        self,
        websocket: WebSocket,
        service: SessionService,
        metrics: Metrics,
        limits: Limits,
        session_json: SessionJson,
        *,
        max_message_bytes: int,
        max_subscriptions: int,
        token_cache_seconds: float,
    ) -> None:
        self.websocket = websocket
        self.service = service
        self.metrics = metrics
        self.limits = limits
        self.session_json = session_json
        self.max_message_bytes = max_message_bytes
        self.max_subscriptions = max_subscriptions
        self.principal: Principal | None = None
        self.pumps: dict[str, asyncio.Task[None]] = {}
        self._send_lock = asyncio.Lock()
        self._recheck_seconds = recheck_seconds(token_cache_seconds)
        # The token the principal came from, re-checked on a timer while the connection lasts.
        self._credentials: CredentialCheck | None = None
        self._credential_watch: asyncio.Task[None] | None = None
        self._is_closing = False

    async def run(self) -> None:
        header = self.websocket.headers.get("authorization")
        try:
            if header is not None:
                token = bearer_token(header)
                self.principal = await self.service.authenticate(token)
                self._watch_credentials(token)
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
            if self._credential_watch is not None:
                self._credential_watch.cancel()
            for pump in self.pumps.values():
                pump.cancel()
            for pump in list(self.pumps.values()):
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

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
                if not await self._credentials_hold(subscription_id):
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
            self.principal = await self.service.authenticate(token)
        except SessionRuntimeError as exc:
            await self._send_error(None, exc)
            await self.websocket.close(CLOSE_UNAUTHENTICATED)
            return False
        self._watch_credentials(token)
        await self._send({"type": "authenticated"})
        return True

    def _watch_credentials(self, token: str) -> None:
        """Re-check ``token`` on a timer from now on (one timer per connection)."""
        if self._credential_watch is not None:
            self._credential_watch.cancel()
        self._credentials = CredentialCheck(self.service, token, interval=self._recheck_seconds)
        self._credential_watch = asyncio.ensure_future(
            self._credentials.watch(lambda error: self._close_unauthenticated(None, error))
        )

    async def _credentials_hold(self, subscription_id: object) -> bool:
        """Whether the connection's token is still valid; if not, refuse the subscribe that
        asked and close the connection (``False``)."""
        if self._credentials is None:
            return True  # not signed in: ``_subscribe`` says so and the connection stays
        error = await self._credentials.lapse()
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
        for pump in list(self.pumps.values()):
            pump.cancel()
        await self._send_error(subscription_id, error)
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.close(CLOSE_UNAUTHENTICATED)

    async def _subscribe(self, subscription_id: str, message: dict[str, Any]) -> None:
        if self.principal is None:
            raise UnauthenticatedError("authenticate first: send {'type': 'auth', 'token': ...}")
        self.limits.check_rate(self.principal)
        if subscription_id in self.pumps:
            raise ValidationError.at("id", "is already in use on this connection")
        if len(self.pumps) >= self.max_subscriptions:
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
        lease = self.limits.open_subscription(self.principal)
        try:
            if session_id is None:
                project = await self.service.subscribe_project(self.principal, project_id)
                await self._send({"type": "subscribed", "id": subscription_id})
                pump = self._pump_project(subscription_id, project)
            else:
                session = await self.service.subscribe_session(
                    self.principal, project_id, session_id
                )
                pump = self._pump_session(subscription_id, session)
        except BaseException:
            lease.release()
            raise
        self._start(subscription_id, pump, lease)

    def _start(self, subscription_id: str, pump: Any, lease: SubscriptionLease) -> None:
        task = asyncio.ensure_future(pump)
        self.pumps[subscription_id] = task
        self.metrics.subscriptions_opened("websocket")

        def finished(_task: asyncio.Task[None]) -> None:
            if self.pumps.get(subscription_id) is task:
                del self.pumps[subscription_id]
            self.metrics.subscriptions_closed("websocket")
            lease.release()

        task.add_done_callback(finished)

    async def _unsubscribe(self, subscription_id: str) -> None:
        pump = self.pumps.pop(subscription_id, None)
        if pump is None:
            raise ValidationError.at("id", "no such subscription on this connection")
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await self._send({"type": "unsubscribed", "id": subscription_id})

    async def _pump_session(self, subscription_id: str, subscription: SessionSubscription) -> None:
        prefix = b'{"type":"snapshot","id":' + orjson.dumps(subscription_id) + b',"session":'
        last: Session | None = None
        try:
            async for session in subscription:
                last = session
                await self._send_raw(prefix + self.session_json(session) + b"}")
            if last is not None and last.is_final:
                await self._send(
                    {"type": "end", "id": subscription_id, "status": last.status.value}
                )
        finally:
            subscription.close()

    async def _pump_project(self, subscription_id: str, subscription: ProjectSubscription) -> None:
        prefix = b'{"type":"change","id":' + orjson.dumps(subscription_id) + b',"session":'
        try:
            async for session in subscription:
                await self._send_raw(prefix + self.session_json(session) + b"}")
        finally:
            subscription.close()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(orjson.dumps(message))

    async def _send_error(self, subscription_id: str | None, error: SessionRuntimeError) -> None:
        await self._send({"type": "error", "id": subscription_id, **error.to_dict()})

    async def _send_raw(self, data: bytes) -> None:
        async with self._send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.send_text(data.decode())


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
    connection = Connection(
        websocket,
        state.runtime.service,
        state.metrics,
        state.limits,
        state.session_json,
        max_message_bytes=state.settings.ws_max_message_bytes,
        max_subscriptions=state.settings.ws_max_subscriptions,
        token_cache_seconds=state.settings.token_cache_seconds,
    )
    await connection.run()
