"""``sessions list``, ``show`` and ``watch``."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from session_runtime import SYSTEM, Session

from ..support.waiting import wait_until
from .conftest import Cli, DemoDatabase, on_service, seed_sessions
from .test_serve import command


def newest_first(sessions: list[Session]) -> list[Session]:
    return sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)


def test_list_json_is_the_stored_sessions_newest_first(cli: Cli, demo: DemoDatabase) -> None:
    sessions = seed_sessions(demo, 5)

    listed = cli.json("sessions", "list", "-p", demo.project_id, "-d", demo.path)

    assert listed == [session.to_json() for session in newest_first(sessions)]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--status", "completed"], lambda s: s.status == "completed"),
        (
            ["--status", "active", "--mode", "guest"],
            lambda s: s.is_final is False and s.mode == "guest",
        ),
        (["--mode", "preview"], lambda s: s.mode == "preview"),
        (["--event", "other"], lambda s: False),
        (["--experience", "other"], lambda s: False),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_list_filters(cli: Cli, demo: DemoDatabase, options: list[str], expected: object) -> None:
    sessions = seed_sessions(demo, 7)
    assert callable(expected)

    listed = cli.json("sessions", "list", "-p", demo.project_id, *options, "-d", demo.path)

    assert [s["id"] for s in listed] == [s.id for s in newest_first(sessions) if expected(s)]


def test_list_pages_with_a_cursor(cli: Cli, demo: DemoDatabase) -> None:
    sessions = newest_first(seed_sessions(demo, 5))
    base: list[str | Path] = [
        "sessions",
        "list",
        "-p",
        demo.project_id,
        "-d",
        demo.path,
        "--limit",
        "3",
    ]

    first = cli.ok(*base, "--json")
    cursor = first.stderr.split("--cursor ")[1].strip()
    second = cli.ok(*base, "--json", "--cursor", cursor)

    assert [s["id"] for s in json.loads(first.stdout)] == [s.id for s in sessions[:3]]
    assert [s["id"] for s in json.loads(second.stdout)] == [s.id for s in sessions[3:]]
    assert second.stderr == ""


def test_list_table_shows_ids_and_names(cli: Cli, demo: DemoDatabase) -> None:
    sessions = seed_sessions(demo, 2)

    table = cli.ok("sessions", "list", "-p", demo.project_id, "-d", demo.path).stdout

    for session in sessions:
        assert session.id in table
    assert "Demo event" in table and "Demo experience" in table and "completed" in table


def test_list_of_nothing(cli: Cli, demo: DemoDatabase) -> None:
    assert cli.json("sessions", "list", "-p", demo.project_id, "-d", demo.path) == []
    output = cli.ok("sessions", "list", "-p", demo.project_id, "-d", demo.path).stdout
    assert output.strip() == "No sessions match."


def test_list_errors(cli: Cli, demo: DemoDatabase) -> None:
    assert cli.fails("sessions", "list", "-p", "nope", "-d", demo.path) == (
        "error: NOT_FOUND: project 'nope' not found"
    )
    for options in (["--status", "done"], ["--mode", "kiosk"], ["--limit", "0"]):
        result = cli.invoke("sessions", "list", "-p", demo.project_id, *options, "-d", demo.path)
        assert result.exit_code == 2, options
    assert (
        cli.fails(
            "sessions", "list", "-p", demo.project_id, "--cursor", "garbage!", "-d", demo.path
        )
        == "error: VALIDATION_ERROR: cursor: not a cursor this server issued"
    )


def test_show(cli: Cli, demo: DemoDatabase) -> None:
    [completed] = seed_sessions(demo, 1)

    shown = cli.json("sessions", "show", "-p", demo.project_id, completed.id, "-d", demo.path)
    text = cli.ok("sessions", "show", "-p", demo.project_id, completed.id, "-d", demo.path).stdout

    assert shown == completed.to_json()
    assert completed.id in text and "completed" in text
    assert '"name": "Ada 0"' in text and "https://cdn.test/p.png" in text


def test_show_an_unknown_session(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("sessions", "show", "-p", demo.project_id, "nope", "-d", demo.path)

    assert error == "error: NOT_FOUND: session 'nope' not found"


# -- watch ----------------------------------------------------------------------------------


def test_watch_a_final_session_prints_it_and_ends(cli: Cli, demo: DemoDatabase) -> None:
    [completed] = seed_sessions(demo, 1)

    output = cli.ok("sessions", "watch", "-p", demo.project_id, completed.id, "-d", demo.path)

    assert output.stdout.splitlines() == [
        f"v3 {completed.updated_at:%H:%M:%S} completed step 2  "
        'inputs: name="Ada 0", note="said \\"hi\\",\\nthen left", n=[1]  outputs: portrait'
    ]


def test_watch_follows_a_session_until_it_ends(demo: DemoDatabase) -> None:
    """The real command, as a subprocess, writing a line per version as it sees it; another
    program writes each change once the line of the one before has come."""
    [session] = seed_sessions(demo, 2)[1:]
    assert session.status == "active"
    watcher = subprocess.Popen(
        [
            *command(), "sessions", "watch", "-p", demo.project_id, session.id,
            "--interval", "0.05", "--timeout", "30", "-d", str(demo.path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert watcher.stdout is not None
        lines.extend(line.rstrip("\n") for line in watcher.stdout)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(lines) >= 1, what="the watcher printed version 1")
        on_service(
            demo.path,
            lambda service: service.update_session_progress(
                SYSTEM,
                demo.project_id,
                {"sessionId": session.id, "currentStepIndex": 1, "inputs": {"mood": "happy"}},
            ),
        )
        wait_until(lambda: len(lines) >= 2, what="the watcher printed version 2")
        on_service(
            demo.path,
            lambda service: service.abandon_session(
                SYSTEM, demo.project_id, {"sessionId": session.id, "reason": "walked away"}
            ),
        )
        assert watcher.wait(timeout=10) == 0
        reader.join(timeout=10)
    finally:
        watcher.kill()
        watcher.wait(timeout=10)
        for stream in (watcher.stdout, watcher.stderr):
            if stream is not None:
                stream.close()

    assert lines[0].startswith("v1 ") and " active step 0" in lines[0]
    assert lines[1].startswith("v2 ") and lines[1].endswith(' active step 1  inputs: mood="happy"')
    assert lines[2].startswith("v3 ") and " abandoned step 1" in lines[2]
    assert lines[2].endswith("reason: walked away")
    assert len(lines) == 3


def test_watch_json_prints_each_version_as_a_line(cli: Cli, demo: DemoDatabase) -> None:
    [completed] = seed_sessions(demo, 1)

    result = cli.ok(
        "sessions", "watch", "-p", demo.project_id, completed.id, "--json", "-d", demo.path
    )

    assert [json.loads(line) for line in result.stdout.splitlines()] == [completed.to_json()]


def test_watch_times_out_on_a_session_that_goes_on(cli: Cli, demo: DemoDatabase) -> None:
    [active] = seed_sessions(demo, 2)[1:]
    started = time.monotonic()

    result = cli.invoke(
        "sessions", "watch", "-p", demo.project_id, active.id, "--interval", "0.05",
        "--timeout", "0.3", "-d", demo.path,
    )  # fmt: skip

    assert 0.3 <= time.monotonic() - started < 3
    assert result.exit_code == 1
    assert result.stdout.startswith("v1 ")
    assert result.stderr == (
        f"error: timed out: session {active.id} is still active at version 1\n"
    )


def test_watch_an_unknown_session(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("sessions", "watch", "-p", demo.project_id, "nope", "-d", demo.path)

    assert error == "error: NOT_FOUND: session 'nope' not found"


def test_watch_shows_every_input_key_each_value_cut_short(cli: Cli, demo: DemoDatabase) -> None:
    [session] = seed_sessions(demo, 2)[1:]
    inputs = {"story": "once upon a time " * 20, "name": "Ada", "mood": "happy", "age": 36}

    async def write(service: Any) -> None:
        await service.update_session_progress(
            SYSTEM, demo.project_id, {"sessionId": session.id, "inputs": inputs}
        )
        await service.complete_session(SYSTEM, demo.project_id, session.id)

    on_service(demo.path, write)
    output = cli.ok("sessions", "watch", "-p", demo.project_id, session.id, "-d", demo.path)

    last = output.stdout.splitlines()[-1]
    assert 'inputs: story="once upon a time once upon a time once…, name="Ada", ' in last
    assert last.endswith('mood="happy", age=36')


def test_watch_counts_the_keys_that_do_not_fit_the_line(cli: Cli, demo: DemoDatabase) -> None:
    [session] = seed_sessions(demo, 2)[1:]
    inputs = {f"answer{index:02}": "x" * 30 for index in range(20)}

    async def write(service: Any) -> None:
        await service.update_session_progress(
            SYSTEM, demo.project_id, {"sessionId": session.id, "inputs": inputs}
        )
        await service.complete_session(SYSTEM, demo.project_id, session.id)

    on_service(demo.path, write)
    output = cli.ok("sessions", "watch", "-p", demo.project_id, session.id, "-d", demo.path)

    last = output.stdout.splitlines()[-1]
    assert len(last) <= 200  # the width of piped output
    assert 'answer00="' in last and 'answer01="' in last
    shown = last.count("answer")
    assert last.endswith(f", +{20 - shown} more")
