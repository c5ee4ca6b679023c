"""A real uvicorn server on 127.0.0.1, in a thread of the test process, and its seed data."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from session_runtime import SYSTEM, SessionService
from session_runtime.api import create_app
from session_runtime.api.websocket import transport_max_bytes
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings

T = TypeVar("T")


@dataclass
class RunningServer:
    app: FastAPI
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/ws"

    @property
    def runtime(self) -> SessionRuntime:
        runtime: SessionRuntime = self.app.state.runtime
        return runtime

    @property
    def service(self) -> SessionService:
        return self.runtime.service

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's event loop (where its store lives)."""
        loop = self.runtime.store._loop  # type: ignore[attr-defined]
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def running_server(
    settings: Settings,
    *,
    port: int = 0,
    app: FastAPI | None = None,
    graceful_shutdown_seconds: int | None = None,
) -> Iterator[RunningServer]:
    """Start ``create_app(settings)`` on 127.0.0.1 and stop it afterwards.

    An SSE stream never ends by itself: a test that stops a server its clients stream from
    passes ``graceful_shutdown_seconds`` so the stop cuts them instead of waiting for them.
    """
    app = app or create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=transport_max_bytes(settings.ws_max_message_bytes),
        proxy_headers=False,  # as serve: the app reads X-Forwarded-For only from trusted proxies
        lifespan="on",
        timeout_graceful_shutdown=graceful_shutdown_seconds,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    running = RunningServer(app=app, server=server, thread=thread, port=bound)
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Seed:
    """A project with two events and an experience, another project, and tokens for each role."""

    project_id: str
    event_id: str
    other_event_id: str
    experience_id: str
    other_project_id: str
    other_event_in_other_project: str
    other_experience_in_other_project: str
    owner: str
    editor: str
    viewer: str
    guest: str
    event_guest: str
    other_guest: str
    stranger: str
    revoked: str

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def session_body(self, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "eventId": self.event_id,
            "experienceId": self.experience_id,
            "mode": "guest",
            "configSource": "published",
        }
        body.update(overrides)
        return body


async def seed(service: SessionService) -> Seed:
    project = await service.create_project(SYSTEM, {"name": "Photo booth"})
    other = await service.create_project(SYSTEM, {"name": "Kiosk"})

    async def event(project_id: str, name: str) -> str:
        return (await service.create_event(SYSTEM, {"projectId": project_id, "name": name})).id

    async def experience(project_id: str) -> str:
        created = await service.create_experience(SYSTEM, {"projectId": project_id, "name": "X"})
        return created.id

    async def member(project_id: str, role: str) -> str:
        return (await service.create_member_token(SYSTEM, project_id, user=role, role=role))[1]

    event_id = await event(project.id, "Launch")
    other_event_id = await event(project.id, "Tour")
    revoked_record, revoked = await service.create_member_token(
        SYSTEM, project.id, user="gone", role="owner"
    )
    await service.revoke_token(SYSTEM, revoked_record.id)
    return Seed(
        project_id=project.id,
        event_id=event_id,
        other_event_id=other_event_id,
        experience_id=await experience(project.id),
        other_project_id=other.id,
        other_event_in_other_project=await event(other.id, "Elsewhere"),
        other_experience_in_other_project=await experience(other.id),
        owner=await member(project.id, "owner"),
        editor=await member(project.id, "editor"),
        viewer=await member(project.id, "viewer"),
        guest=(await service.create_guest_token(SYSTEM, project.id))[1],
        event_guest=(await service.create_guest_token(SYSTEM, project.id, event_id=event_id))[1],
        other_guest=(await service.create_guest_token(SYSTEM, project.id))[1],
        stranger=await member(other.id, "owner"),
        revoked=revoked,
    )
