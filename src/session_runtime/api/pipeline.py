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
    (WARNING for a 5xx): client, method, path, status and milliseconds. ``errors_only`` keeps
    the lines of 4xx and 5xx answers. The server turns uvicorn's own access log off: this one
    costs a clock read and a comparison per request when it writes nothing."""

    def __init__(self, app: ASGIApp, errors_only: bool) -> None:
        self.app = app
        self.lowest_status = 400 if errors_only else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if status >= self.lowest_status:
                self._write(scope, status or 500, time.perf_counter() - started)

    @staticmethod
    def _write(scope: Scope, status: int, seconds: float) -> None:
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not self.allow_any:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not self._is_allowed(origin, headers.get("host")):
                message = await receive()
                if message["type"] == "websocket.connect":
                    # Closing before accepting answers the handshake with 403.
                    await send({"type": "websocket.close", "code": 4403})
                return
        await self.app(scope, receive, send)

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
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
