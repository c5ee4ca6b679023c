"""Fixtures of the CLI tests: a runner, a demo database made by ``init``, and the service on it.

Every test works on real SQLite files in ``tmp_path``; the commands run in-process through
Typer's ``CliRunner`` (``test_serve.py`` runs the real ``serve`` as a subprocess).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from session_runtime import SYSTEM, Session, SessionRuntime, SessionService
from session_runtime.cli import app

T = TypeVar("T")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No SESSION_RUNTIME_* setting from the outside; the root logger as it was."""
    for name in list(os.environ):
        if name.startswith("SESSION_RUNTIME_") or name in ("SENTRY_DSN", "COLUMNS"):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class Cli:
    """Runs ``session-runtime`` in-process and checks the shape of what it answers."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def invoke(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        result = self.runner.invoke(app, [str(arg) for arg in args], env=env)
        assert "Traceback" not in result.output, result.output
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        return result

    def ok(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        result = self.invoke(*args, env=env)
        assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
        return result

    def json(self, *args: str | Path) -> Any:
        """The one JSON document a ``--json`` command prints (stdout holds nothing else)."""
        return json.loads(self.ok(*args, "--json").stdout)

    def fails(
        self, *args: str | Path, exit_code: int = 1, env: dict[str, str] | None = None
    ) -> str:
        """The one error line of a failed command (stdout empty, no traceback)."""
        result = self.invoke(*args, env=env)
        assert result.exit_code == exit_code, f"exit {result.exit_code}: {result.output}"
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        if exit_code == 1:
            assert len(lines) == 1, result.stderr
            assert lines[0].startswith("error: ")
        return result.stderr.strip()


@pytest.fixture
def cli() -> Cli:
    return Cli()


@dataclass(frozen=True)
class DemoDatabase:
    """A database as ``init --json`` leaves it, with what it printed."""

    path: Path
    project_id: str
    event_id: str
    experience_id: str
    owner_token: str
    guest_token: str


@pytest.fixture
def demo(cli: Cli, tmp_path: Path) -> DemoDatabase:
    path = tmp_path / "sessions.db"
    printed = cli.json("init", "--database", path)
    return DemoDatabase(
        path=path,
        project_id=printed["projectId"],
        event_id=printed["eventId"],
        experience_id=printed["experienceId"],
        owner_token=printed["ownerToken"],
        guest_token=printed["guestToken"],
    )


def on_service(path: Path, operation: Callable[[SessionService], Awaitable[T]]) -> T:
    """Run ``operation`` on the service over the database file, as another program would."""

    async def main() -> T:
        # NORMAL: a test's data need not survive a power loss, and fsyncs cost time.
        async with SessionRuntime.sqlite(path, synchronous="NORMAL") as runtime:
            return await operation(runtime.service)

    return asyncio.run(main())


def seed_sessions(demo: DemoDatabase, count: int, *, finish_every: int = 3) -> list[Session]:
    """``count`` sessions of the demo, as stored; every ``finish_every``-th gets progress and
    completes. Odd ones are guest sessions on the published config, even ones previews."""

    async def seed(service: SessionService) -> list[Session]:
        sessions: list[Session] = []
        for index in range(count):
            created = await service.create_session(
                SYSTEM,
                {
                    "projectId": demo.project_id,
                    "eventId": demo.event_id,
                    "experienceId": demo.experience_id,
                    "mode": "guest" if index % 2 else "preview",
                    "configSource": "published" if index % 2 else "draft",
                },
            )
            session = created.session
            if index % finish_every == 0:
                await service.update_session_progress(
                    SYSTEM,
                    demo.project_id,
                    {
                        "sessionId": session.id,
                        "currentStepIndex": 2,
                        "inputs": {
                            "name": f"Ada {index}",
                            "note": 'said "hi",\nthen left',
                            "n": [1],
                        },
                        "outputs": {
                            "portrait": {
                                "mediaAssetId": f"m{index}",
                                "url": "https://cdn.test/p.png",
                            }
                        },
                    },
                )
                session = await service.complete_session(SYSTEM, demo.project_id, session.id)
            sessions.append(session)
        return sessions

    return on_service(demo.path, seed)
