"""``sessions list``, ``show`` and ``watch``."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from session_runtime import SYSTEM, Session, SessionRuntime

from .conftest import Cli, DemoDatabase, on_service, seed_sessions


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


def test_watch_follows_a_session_until_it_ends(cli: Cli, demo: DemoDatabase) -> None:
    [session] = seed_sessions(demo, 2)[1:]
    assert session.status == "active"
    writes_done = threading.Event()

    def another_program() -> None:
        async def write() -> None:
            async with SessionRuntime.sqlite(demo.path) as runtime:
                service = runtime.service
                await asyncio.sleep(0.3)
                await service.update_session_progress(
                    SYSTEM,
                    demo.project_id,
                    {"sessionId": session.id, "currentStepIndex": 1, "inputs": {"mood": "happy"}},
                )
                await asyncio.sleep(0.3)
                await service.abandon_session(
                    SYSTEM, demo.project_id, {"sessionId": session.id, "reason": "walked away"}
                )

        asyncio.run(write())
        writes_done.set()

    writer = threading.Thread(target=another_program)
    started = time.monotonic()
    writer.start()
    try:
        result = cli.ok(
            "sessions", "watch", "-p", demo.project_id, session.id, "--interval", "0.05",
            "--timeout", "10", "-d", demo.path,
        )  # fmt: skip
    finally:
        writer.join(timeout=10)

    assert writes_done.is_set()
    assert time.monotonic() - started < 5
    lines = result.stdout.splitlines()
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
