"""``sessions list|show|watch|stats --url --token``: the same commands against a real server.

The server runs on 127.0.0.1 in a thread of the test process, on the demo database; the CLI
reaches it through the Python SDK, as it would across a network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from session_runtime import Session
from session_runtime.settings import Settings

from ..support.server import RunningServer, running_server
from .conftest import Cli, DemoDatabase, seed_sessions


@pytest.fixture
def server(demo: DemoDatabase) -> Iterator[RunningServer]:
    with running_server(Settings(database_path=demo.path)) as running:
        yield running


def newest_first(sessions: list[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)


def test_list_show_and_stats_ask_the_server(
    cli: Cli, demo: DemoDatabase, server: RunningServer
) -> None:
    sessions = seed_sessions(demo, 4)
    remote = ("-p", demo.project_id, "--url", server.base_url, "--token", demo.owner_token)
    local = ("-p", demo.project_id, "-d", demo.path)

    listed = cli.json("sessions", "list", *remote)
    assert listed == [session.to_json() for session in newest_first(sessions)]
    assert listed == cli.json("sessions", "list", *local)
    paged = cli.ok("sessions", "list", *remote, "--limit", "1", "--status", "completed")
    newest_completed = next(s for s in newest_first(sessions) if s.status == "completed")
    assert "--cursor " in paged.stderr and newest_completed.id in paged.stdout

    shown = cli.json("sessions", "show", *remote, sessions[0].id)
    assert shown == sessions[0].to_json()

    stats = cli.json("sessions", "stats", *remote)
    assert stats == cli.json("sessions", "stats", *local)
    table = cli.ok("sessions", "stats", *remote).stdout
    assert demo.experience_id in table  # named by id: the SDK reads no catalog


def test_watch_asks_the_server_until_the_session_ends(
    cli: Cli, demo: DemoDatabase, server: RunningServer
) -> None:
    [completed] = seed_sessions(demo, 1)

    result = cli.ok(
        "sessions", "watch", "-p", demo.project_id, completed.id,
        "--url", server.base_url, "--token", demo.owner_token,
    )  # fmt: skip

    assert result.stdout.splitlines()[0].startswith(f"v{completed.version} ")
    assert " completed step 2" in result.stdout


def test_the_url_and_token_come_from_the_environment(
    cli: Cli, demo: DemoDatabase, server: RunningServer
) -> None:
    [session] = seed_sessions(demo, 1)
    environment = {
        "SESSION_RUNTIME_URL": server.base_url,
        "SESSION_RUNTIME_TOKEN": demo.guest_token,
    }

    # A guest token sees only its own sessions: none, here.
    listed = cli.ok("sessions", "list", "-p", demo.project_id, "--json", env=environment)
    assert json.loads(listed.stdout) == []
    error = cli.fails("sessions", "show", "-p", demo.project_id, session.id, env=environment)
    assert error.startswith("error: PERMISSION_DENIED: ") or error.startswith("error: NOT_FOUND: ")


def test_a_url_without_a_token_is_a_usage_error(cli: Cli, demo: DemoDatabase) -> None:
    for command in (["list"], ["show", "s1"], ["watch", "s1"], ["stats"]):
        result = cli.invoke(
            "sessions", *command, "-p", demo.project_id, "--url", "http://127.0.0.1:9"
        )
        assert result.exit_code == 2, command
        assert result.stderr == "error: --url needs a token: --token or $SESSION_RUNTIME_TOKEN\n"


def test_a_server_that_is_not_there_is_unavailable(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails(
        "sessions", "list", "-p", demo.project_id, "--url", "http://127.0.0.1:9", "--token", "t"
    )

    assert error.startswith("error: UNAVAILABLE: ")
