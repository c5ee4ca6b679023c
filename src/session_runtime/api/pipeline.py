"""The request pipeline every route takes: pure ASGI middleware around FastAPI's routing.

From the outside in (``install_pipeline`` adds them in this order)::

    AccessLog             one line per request (SESSION_RUNTIME_ACCESS_LOG: all, errors, off)
    CrossOriginRequests   CORS for the origins in SESSION_RUNTIME_CORS_ORIGINS (Starlette's)
    WebSocketOrigins      a browser's WebSocket from another origin must be allowed too
    HeadRequests          HEAD is GET without its body, wherever GET exists
    SessionRoutes         the routes of one session (the hot path), then FastAPI's routing

Each is a plain ASGI callable, so what is added here applies to the fast session routes, the
SSE streams and FastAPI's routes alike, at the cost of a few attribute reads per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from typing import Any, Final

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..settings import Settings
from .errors import error_body
from .responses import JSONBytesResponse
from .session_routes import SessionRoutes

# What a browser page on an allowed origin may send and read.
CORS_METHODS: Final = ("GET", "HEAD", "POST", "PATCH", "DELETE")
CORS_REQUEST_HEADERS: Final = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "Last-Event-ID",
    # Sentry's browser SDK adds these to requests it traces.
    "sentry-trace",
    "baggage",
)
CORS_EXPOSED_HEADERS: Final = ("ETag", "Retry-After", "Allow", "Idempotency-Replayed")

access_logger = logging.getLogger("session_runtime.access")


class AccessLog:
    """One line per answered request on the ``session_runtime.access`` logger, at INFO
    (WARNING for a 5xx): client, method, path, status and the milliseconds until the answer
    started, written when it starts (as uvicorn's own does: a stream is logged when it opens).
    ``errors_only`` keeps the lines of 4xx and 5xx answers. The server turns uvicorn's access
    log off: this one costs a clock read and a comparison per request when it writes nothing,
    and keeps no frame alive for an open stream."""

    def __init__(self, app: ASGIApp, errors_only: bool) -> None:
        self.app = app
        self.lowest_status = 400 if errors_only else 0

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self.app(scope, receive, _LoggingSend(send, scope, self.lowest_status))


class _LoggingSend:
    """``send``, writing the access line when the answer starts."""

    __slots__ = ("_lowest_status", "_scope", "_send", "_started")

    def __init__(self, send: Send, scope: Scope, lowest_status: int) -> None:
        self._send = send
        self._scope = scope
        self._lowest_status = lowest_status
        self._started = time.perf_counter()

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start" and message["status"] >= self._lowest_status:
            _write_access_line(self._scope, message["status"], time.perf_counter() - self._started)
        return self._send(message)


def _write_access_line(scope: Scope, status: int, seconds: float) -> None:
    client = scope.get("client")
    path = scope["path"]
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    access_logger.log(
        logging.WARNING if status >= 500 else logging.INFO,
        '%s "%s %s" %d %.1f ms',
        f"{client[0]}:{client[1]}" if client else "-",
        scope["method"],
        path,
        status,
        seconds * 1000,
    )


class CrossOriginRequests(CORSMiddleware):
    """Starlette's CORS middleware, with its refusals in the API's one error body.

    Tokens travel in the ``Authorization`` header, never in cookies, so credentials are never
    allowed: a ``*`` origin is safe to answer with ``*``.
    """

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            allow_credentials=False,
            # A page served from a public origin may reach a server on the venue's network.
            allow_private_network=True,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=600,
        )

    def __call__(  # type: ignore[override]  # any awaitable, as ASGI asks, not a coroutine
        self, scope: Scope, receive: Receive, send: Send
    ) -> Awaitable[None]:
        # A request without ``Origin`` is not a cross-origin one (same origin, or not from a
        # browser): it goes straight on, keeping no frame of this layer alive for an open
        # stream. It gets no ``Vary: Origin``; answers to requests with a token are not stored
        # by shared caches anyway.
        if scope["type"] != "http" or not any(name == b"origin" for name, _ in scope["headers"]):
            return self.app(scope, receive, send)
        return super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        message = (
            f"cross-origin request refused ({refused}) for origin "
            f"{request_headers['origin'][:200]!r}: allowed origins are set with "
            "SESSION_RUNTIME_CORS_ORIGINS"
        )
        headers = {
            key: value for key, value in response.headers.items() if key.startswith("access-")
        }
        headers["Vary"] = response.headers.get("vary", "Origin")
        return JSONBytesResponse(
            error_body("PERMISSION_DENIED", message, {"refused": refused.split(", ")}),
            status_code=403,
            headers=headers,
        )


class WebSocketOrigins:
    """Refuses a WebSocket handshake from a page whose origin is neither this server's nor
    allowed. Browsers apply no CORS to WebSockets; the server has to. Clients that are not
    browsers send no ``Origin`` and are not concerned."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.allow_any = "*" in self.origins

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: a request passed on keeps no frame of this layer alive (an
        # open stream would hold it for its whole life).
        if scope["type"] == "websocket" and not self.allow_any:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not self._is_allowed(origin, headers.get("host")):
                return self._refuse(receive, send)
        return self.app(scope, receive, send)

    @staticmethod
    async def _refuse(receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] == "websocket.connect":
            # Closing before accepting answers the handshake with 403.
            await send({"type": "websocket.close", "code": 4403})

    def _is_allowed(self, origin: str, host: str | None) -> bool:
        if origin.lower() in self.origins:
            return True
        _, _, origin_host = origin.partition("://")
        return host is not None and origin_host.lower() == host.lower()


class HeadRequests:
    """``HEAD`` is answered as ``GET`` with the same status and headers and no body, on every
    path that has ``GET`` (FastAPI's routes do not add it themselves). A stream is told the
    client left as soon as its headers are sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return self.app(scope, receive, send)  # no frame of this layer stays alive
        return self._head(scope, receive, send)

    async def _head(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers_sent = False

        async def receive_then_leave() -> Message:
            if headers_sent:
                return {"type": "http.disconnect"}
            return await receive()

        async def send_headers_only(message: Message) -> None:
            nonlocal headers_sent
            if message["type"] == "http.response.start":
                headers_sent = True
                await send(message)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif message["type"] != "http.response.body":
                await send(message)

        await self.app({**scope, "method": "GET"}, receive_then_leave, send_headers_only)


def install_pipeline(app: FastAPI, settings: Settings, *, session_routes: dict[str, Any]) -> None:
    """Add the pipeline's middleware to ``app``, outermost last (Starlette's order).

    ``session_routes`` are the keyword arguments of :class:`SessionRoutes`.
    """
    app.add_middleware(SessionRoutes, **session_routes)
    app.add_middleware(HeadRequests)
    app.add_middleware(WebSocketOrigins, origins=settings.cors_origins)
    app.add_middleware(CrossOriginRequests, origins=settings.cors_origins)
    if settings.access_log != "off":
        app.add_middleware(AccessLog, errors_only=settings.access_log == "errors")
