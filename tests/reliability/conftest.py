"""Fixtures for the reliability tests: real server processes on SQLite or PostgreSQL.

- ``Tenant`` / ``seed_tenant``: a project, event, experience and owner token, created through
  the service before the server starts (the server finds them in the database).
- ``launch``: starts servers in processes of their own (so that the load the tests generate
  and the server never share one interpreter lock) and stops or kills whatever is left at the
  end of the test. ``server_settings`` gives a fresh port and limits no test here should meet.
- ``pg_target``: a schema of its own in the session's PostgreSQL, for a server to live in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from session_runtime import SYSTEM, SessionRuntime
from session_runtime.settings import Settings

from ..support.postgres import PostgresDatabase, free_port

# `create_app` under uvicorn as `session-runtime serve` runs it, but quiet (no line per
# request) and with a PostgreSQL schema of the test's own when one is given.
LAUNCHER = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
import uvicorn
from session_runtime.api import create_app
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings
settings = Settings.model_validate_json(sys.argv[1])
runtime = None
if settings.database_url:
    runtime = SessionRuntime.postgres(
        settings.database_url,
        schema=sys.argv[2],
        min_pool=settings.pg_min_pool,
        max_pool=settings.pg_max_pool,
        token_cache_seconds=settings.token_cache_seconds,
    )
uvicorn.run(
    create_app(settings, runtime),
    host=settings.host,
    port=settings.port,
    log_level="warning",
    lifespan="on",
    timeout_graceful_shutdown=2,
)
"""
READY_SECONDS = 20.0


@dataclass(frozen=True)
class Tenant:
    """What a server under test serves: one project, its event and experience, an owner."""

    project_id: str
    event_id: str
    experience_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def session_body(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "experienceId": self.experience_id,
            "mode": "guest",
            "configSource": "published",
        }

    def session_path(self, session_id: str) -> str:
        return f"/v1/projects/{self.project_id}/sessions/{session_id}"


async def seed_tenant(runtime: SessionRuntime) -> Tenant:
    """Create a tenant through an open runtime."""
    service = runtime.service
    project = await service.create_project(SYSTEM, {"name": "Reliability"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Launch"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "X"})
    _, token = await service.create_member_token(SYSTEM, project.id, user="ops", role="owner")
    return Tenant(project.id, event.id, experience.id, token)


def seed(settings: Settings, schema: str | None = None) -> Tenant:
    """Seed the database ``settings`` name (in ``schema`` on PostgreSQL), then close it."""

    async def run() -> Tenant:
        if settings.database_url:
            runtime = SessionRuntime.postgres(settings.database_url, schema=schema)
        else:
            runtime = SessionRuntime.from_settings(settings)
        async with runtime:
            return await seed_tenant(runtime)

    return asyncio.run(run())


def server_settings(**overrides: Any) -> Settings:
    """A fresh port; token checks cached for the whole test; no per-token limit."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "token_cache_seconds": 600.0,
        "heartbeat_seconds": 1.0,
        "sentry_dsn": None,
        # The load here is the point: no per-token rate or subscription cap may refuse it.
        "rate_limit_per_second": 0.0,
        "max_subscriptions_per_token": 0,
        "tune_gc": True,  # as `serve` runs; the test process turns it off for its own servers
    }
    values.update(overrides)
    return Settings(**values)


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``SESSION_RUNTIME_*`` variables ``serve`` reads."""
    return {
        # A tuple (cors_origins) is read back as a comma-separated list; str() would give "()".
        f"SESSION_RUNTIME_{name.upper()}": (
            ",".join(value) if isinstance(value, tuple) else str(value)
        )
        for name, value in settings.model_dump().items()
        if value is not None
    }


class ServerProcess:
    """One server in a child process, its output in ``log``."""

    def __init__(self, command: list[str], settings: Settings, log: Path) -> None:
        self.settings = settings
        self.log = log
        self.base_url = f"http://127.0.0.1:{settings.port}"
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("SESSION_RUNTIME_")
            and name not in ("SENTRY_DSN", "DATABASE_URL")
        }
        env.update(settings_environment(settings))
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log.parent,
            )

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        """Until ``/readyz`` answers 200 (the storage is open); fails if the process ends."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                assert self.process.poll() is None, self.log.read_text(errors="replace")
                try:
                    if client.get(f"{self.base_url}/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, self.log.read_text(errors="replace")
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


Launch = Callable[..., ServerProcess]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """``launch(settings, schema=None, serve=False)``: a ready server process.

    ``serve=True`` runs the real ``session-runtime serve`` command (SQLite only); otherwise the
    quiet launcher above. Every process still running at the end is stopped.
    """
    started: list[ServerProcess] = []

    def start(
        settings: Settings, *, schema: str | None = None, serve: bool = False
    ) -> ServerProcess:
        log = tmp_path / f"server-{len(started)}.log"
        if serve:
            command = [sys.executable, "-m", "session_runtime.cli", "serve"]
            command += ["--port", str(settings.port), "--database", str(settings.database_path)]
        else:
            command = [sys.executable, "-c", LAUNCHER, settings.model_dump_json()]
            command += [] if schema is None else [schema]
        server = ServerProcess(command, settings, log)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@dataclass(frozen=True)
class PostgresTarget:
    dsn: str
    schema: str
    database: PostgresDatabase


@pytest.fixture
def pg_target(postgres: PostgresDatabase) -> PostgresTarget:
    """A schema of this test's own in the session's PostgreSQL (created by the first store)."""
    return PostgresTarget(postgres.dsn, postgres.new_schema(), postgres)
