"""The FastAPI application: REST, SSE and WebSocket over one ``SessionRuntime``."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from starlette.responses import PlainTextResponse, Response

from .. import __version__
from ..guests import GuestPolicy
from ..idempotency import IdempotencyKeys
from ..observability import init_sentry, report_to_sentry
from ..runtime import SessionRuntime
from ..settings import Settings
from ..sweeper import StaleSessionSweeper
from . import dashboard, docs, guest_pages, guest_routes, reports, routes, websocket
from .client_address import ClientAddresses
from .credentials import TokenWatch, recheck_seconds
from .errors import error_responses, install_error_handlers
from .idempotency import install_replay_handler
from .join_limits import JoinLimits
from .limits import Limits
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .pipeline import install_pipeline
from .responses import JSONBytesResponse, SessionJson
from .schemas import install_openapi
from .session_routes import documented_routes
from .streams import Heartbeats, LiveStreams

DESCRIPTION = """\
Experience sessions, written atomically and pushed live.

Authenticate with `Authorization: Bearer <token>` (a member or guest token). Every error has
the body `{"error": {"code", "message", "details"}}`.
"""


def tune_garbage_collector() -> None:
    """Fewer, cheaper collections for a long-running server.

    What exists at start-up (modules, the app) is frozen out of every collection, and the
    young generation is collected less often: the store's session cache and open streams keep
    many objects alive, and full collections over them cost tens of milliseconds each.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def create_app(
    settings: Settings | None = None,
    runtime: SessionRuntime | None = None,
    *,
    sentry_options: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the app; it opens ``runtime`` on startup and closes it on shutdown.

    ``sentry_options`` go to ``sentry_sdk.init`` when ``settings.sentry_dsn`` is set.

    >>> app = create_app(Settings(database_path="var/demo.db"))   # doctest: +SKIP
    >>> uvicorn.run(app)                                          # doctest: +SKIP
    """
    settings = settings or Settings()
    runtime = runtime or SessionRuntime.from_settings(settings)
    metrics = Metrics()
    runtime.service.observers.append(metrics.observe)
    runtime.service.guests.policy = GuestPolicy(
        guest_token_lifetime=timedelta(seconds=settings.guest_token_seconds),
        share_link_lifetime=timedelta(seconds=settings.share_link_seconds),
    )
    if init_sentry(settings, **(sentry_options or {})):
        runtime.service.observers.append(report_to_sentry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.tune_gc:
            tune_garbage_collector()
        await runtime.open()
        stale_after = settings.stale_after_seconds
        sweeper = StaleSessionSweeper(
            runtime.service,
            idle_after=timedelta(seconds=stale_after) if stale_after > 0 else None,
            interval=settings.sweep_interval_seconds,
            idempotency=idempotency,
        )
        sweeper.start()
        app.state.sweeper = sweeper
        try:
            yield
        finally:
            await sweeper.stop()
            await live.token_watch.close()
            await runtime.close()

    app = FastAPI(
        title="session-runtime",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JSONBytesResponse,
        docs_url=None,  # served by ``docs``, without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.limits = limits = Limits.from_settings(settings)
    app.state.session_json = session_json = SessionJson()
    app.state.live = live = LiveStreams(
        service=runtime.service,
        metrics=metrics,
        limits=limits,
        session_json=session_json,
        token_watch=TokenWatch(
            runtime.service, interval=recheck_seconds(settings.token_cache_seconds)
        ),
        heartbeats=Heartbeats(settings.heartbeat_seconds),
    )
    app.state.join_limits = JoinLimits.from_settings(settings)
    app.state.client_addresses = ClientAddresses(settings.trusted_proxies)
    app.state.idempotency = idempotency = IdempotencyKeys(
        runtime.store,
        clock=runtime.service.clock,
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
    )
    install_error_handlers(app)
    install_replay_handler(app)
    app.include_router(documented_routes)  # served by SessionRoutes, ahead of routing
    app.include_router(routes.router)
    app.include_router(reports.router)
    app.include_router(guest_routes.router)
    app.include_router(guest_pages.router)
    app.include_router(websocket.router)
    app.include_router(dashboard.router)
    app.include_router(docs.router)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: storage answers",
        responses=error_responses("UNAVAILABLE"),
    )
    async def readyz() -> dict[str, str]:
        await runtime.store.get_project("")
        return {"status": "ready", "version": __version__}

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    install_pipeline(
        app,
        settings,
        session_routes={
            "live": live,
            "idempotency": idempotency,
            "max_body_bytes": settings.max_body_bytes,
        },
    )
    install_openapi(app)
    return app
