"""Fixtures for the client SDK: real uvicorn servers on 127.0.0.1, seeded through the service.

- ``start_server(database_path=None, port=0, **settings)``: starts a server in a thread and
  returns a :class:`LiveServer` (stopped at the end of the test, or earlier by ``.stop()``).
  Starting another one on the same database and port is how a test restarts "the" server.
- ``server`` / ``world``: one started server and what it was seeded with (a project, an event,
  an experience, and a token for each kind of caller).
- ``connect`` / ``aconnect``: clients for a token, closed at the end of the test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI

from session_runtime import SYSTEM, SessionService
from session_runtime.api import create_app
from session_runtime.client import (
    AsyncSessionRuntimeClient,
    QueryCache,
    ReconnectPolicy,
    SessionRuntimeClient,
)
from session_runtime.settings import Settings

T = TypeVar("T")

HEARTBEAT_SECONDS = 0.5
FAST_RECONNECT = ReconnectPolicy(
    initial_delay=0.05, max_delay=0.25, jitter=0.1, max_attempts=40, idle_timeout=2.0
)
"""Short enough for tests; 40 attempts of at most 0.25 s outlast any restart below."""


@dataclass
class LiveServer:
    """A uvicorn server running ``create_app`` in a thread of the test process."""

    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    port: int
    database_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service(self) -> SessionService:
        service: SessionService = self.app.state.runtime.service
        return service

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's event loop, where its store lives."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def stop(self) -> None:
        """Stop serving (open streams are cut after a short grace) and close the store."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the server did not stop"


class ServerFactory(Protocol):
    def __call__(
        self, *, database_path: Path | None = None, port: int = 0, **settings: Any
    ) -> LiveServer: ...


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    started: list[LiveServer] = []

    def start(*, database_path: Path | None = None, port: int = 0, **settings: Any) -> LiveServer:
        path = database_path or tmp_path / "sessions.db"
        options: dict[str, Any] = {"heartbeat_seconds": HEARTBEAT_SECONDS, **settings}
        app = create_app(Settings(database_path=path, **options))
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            # An SSE stream never ends by itself: cut the open ones soon after a stop.
            timeout_graceful_shutdown=0.2,
        )
        server = uvicorn.Server(config)
        loops: list[asyncio.AbstractEventLoop] = []

        async def serve() -> None:
            loops.append(asyncio.get_running_loop())
            await server.serve()

        thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        running = LiveServer(app, server, thread, loops[0], bound_port, path)
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        if running.thread.is_alive():
            running.stop()


@pytest.fixture
def server(start_server: ServerFactory) -> LiveServer:
    return start_server()


@dataclass(frozen=True)
class World:
    """What a server was seeded with: one project of each kind of caller, and a stranger."""

    project_id: str
    event_id: str
    experience_id: str
    other_project_id: str
    owner: str
    editor: str
    viewer: str
    guest: str
    stranger: str
    """An owner of the other project."""


async def seed(service: SessionService) -> World:
    project = await service.create_project(SYSTEM, {"name": "Photo booth"})
    other = await service.create_project(SYSTEM, {"name": "Kiosk"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Launch"})
    experience = await service.create_experience(
        SYSTEM, {"projectId": project.id, "name": "AI portrait"}
    )

    async def member(project_id: str, role: str) -> str:
        _, secret = await service.create_member_token(SYSTEM, project_id, user=role, role=role)
        return secret

    _, guest = await service.create_guest_token(SYSTEM, project.id, event_id=event.id)
    return World(
        project_id=project.id,
        event_id=event.id,
        experience_id=experience.id,
        other_project_id=other.id,
        owner=await member(project.id, "owner"),
        editor=await member(project.id, "editor"),
        viewer=await member(project.id, "viewer"),
        guest=guest,
        stranger=await member(other.id, "owner"),
    )


@pytest.fixture
def world(server: LiveServer) -> World:
    return server.call(seed(server.service))


ClientFactory = Callable[..., SessionRuntimeClient]
AsyncClientFactory = Callable[..., AsyncSessionRuntimeClient]


@pytest.fixture
def connect(server: LiveServer, world: World) -> Iterator[ClientFactory]:
    """``connect(token=world.editor, base_url=server.base_url, **options)``: a blocking client."""
    clients: list[SessionRuntimeClient] = []

    def make(token: str | None = None, *, base_url: str | None = None, **options: Any) -> Any:
        options.setdefault("reconnect", FAST_RECONNECT)
        options.setdefault("timeout", 5.0)
        client = SessionRuntimeClient(base_url or server.base_url, token or world.editor, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
async def aconnect(server: LiveServer, world: World) -> AsyncIterator[AsyncClientFactory]:
    """``aconnect(token=world.editor, ...)``: an async client."""
    clients: list[AsyncSessionRuntimeClient] = []

    def make(token: str | None = None, *, base_url: str | None = None, **options: Any) -> Any:
        options.setdefault("reconnect", FAST_RECONNECT)
        options.setdefault("timeout", 5.0)
        client = AsyncSessionRuntimeClient(
            base_url or server.base_url, token or world.editor, **options
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def new_cache(stale_seconds: float = 60.0) -> QueryCache:
    return QueryCache(stale_seconds=stale_seconds)
