"""The server under test for the HTTP benchmark: seeded data, a uvicorn process, its resources.

The database is seeded in the benchmark's process (the service on the same file, as
``tests/support/server.py`` seeds a test server), then closed; the server runs in a process of
its own started with the virtualenv's Python, so that no load generator shares its GIL.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from httpbench_client import HttpConnection, build_request
from session_runtime import SYSTEM, SessionService
from session_runtime.runtime import SessionRuntime
from session_runtime.settings import Settings

# What `session-runtime serve` does, minus its logging setup: uvicorn picks uvloop and
# httptools when they are installed; uvicorn's own access log and proxy headers are off (the
# app writes its own log and reads X-Forwarded-For only from its trusted proxies).
_LAUNCHER = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
import uvicorn
from session_runtime.api import create_app
from session_runtime.settings import Settings
settings = Settings.model_validate_json(sys.argv[1])
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    ws_max_size=settings.ws_max_message_bytes,
    log_level="warning",
    access_log=False,
    proxy_headers=False,
    lifespan="on",
)
"""
_SEED_BATCH = 256
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class BenchData:
    """What the seed created: a project, an owner token, sessions, and one hot session."""

    project_id: str
    token: str
    session_ids: list[str]
    hot_session_id: str
    event_id: str = ""
    experience_id: str = ""

    def session_path(self, session_id: str) -> str:
        return f"/v1/projects/{self.project_id}/sessions/{session_id}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _seed(service: SessionService, sessions: int) -> BenchData:
    # The parts of tests/support/server.py's `seed` this benchmark needs.
    project = await service.create_project(SYSTEM, {"name": "Photo booth"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Launch"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "X"})
    _, token = await service.create_member_token(SYSTEM, project.id, user="owner", role="owner")
    body = {
        "projectId": project.id,
        "eventId": event.id,
        "experienceId": experience.id,
        "mode": "guest",
        "configSource": "published",
    }
    ids: list[str] = []
    while len(ids) < sessions + 1:
        # Concurrent creates share group commits: thousands of sessions take a second or two.
        batch = min(_SEED_BATCH, sessions + 1 - len(ids))
        created = await asyncio.gather(
            *(service.create_session(SYSTEM, body) for _ in range(batch))
        )
        ids.extend(result.session_id for result in created)
    return BenchData(project.id, token, ids[:sessions], ids[sessions], event.id, experience.id)


def seed_database(settings: Settings, sessions: int) -> BenchData:
    """Create the database file with ``sessions`` sessions plus a hot one, and close it."""

    async def run() -> BenchData:
        runtime = SessionRuntime.from_settings(settings)
        async with runtime:
            return await _seed(runtime.service, sessions)

    return asyncio.run(run())


class ServerProcess:
    """``create_app(settings)`` under uvicorn in a child process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = settings.port
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, settings.model_dump_json()],
            stdin=subprocess.DEVNULL,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            if asyncio.run(_is_healthy(self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the server did not answer /healthz within {timeout} s")

    def rss_kb(self) -> int:
        """Resident memory now (``VmRSS`` of ``/proc/<pid>/status``), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS in /proc status")

    def settled_rss_kb(self, *, settle: float = 1.0, readings: int = 5) -> int:
        """The median of a few readings, taken after ``settle`` seconds of quiet."""
        time.sleep(settle)
        values = []
        for _ in range(readings):
            values.append(self.rss_kb())
            time.sleep(0.2)
        return int(statistics.median(values))

    def cpu_seconds(self) -> float:
        """CPU time used so far by every thread of the server (user + system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def stop(self) -> None:
        """Terminate; kill if it has not exited within ten seconds."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


async def _is_healthy(port: int) -> bool:
    try:
        async with asyncio.timeout(2):
            connection = await HttpConnection.open(port)
            try:
                status, _ = await connection.send(build_request("GET", "/healthz", port=port))
            finally:
                await connection.close()
    except (OSError, TimeoutError):
        return False
    return status == 200


def server_settings(folder: Path) -> Settings:
    """The settings of the server under test: the environment's, on a fresh file and port.

    The per-token limits are on but out of reach (one token makes every request and opens
    every stream here): their cost is measured, never their refusals.
    """
    return Settings(
        database_path=folder / "bench.db",
        host="127.0.0.1",
        port=free_port(),
        sentry_dsn=None,
        rate_limit_per_second=1e9,
        rate_limit_burst=10**9,
        max_subscriptions_per_token=10**6,
    )
