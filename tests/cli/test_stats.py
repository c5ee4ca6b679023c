"""``sessions stats``: the funnel per experience, as a table or the API's JSON."""

from __future__ import annotations

import re

from session_runtime import Mode, SessionStatus

from .conftest import Cli, DemoDatabase, seed_sessions


def test_json_is_the_apis_figures(cli: Cli, demo: DemoDatabase) -> None:
    sessions = seed_sessions(demo, 12)
    guests = [s for s in sessions if s.mode is Mode.GUEST]
    completed = [s for s in guests if s.status is SessionStatus.COMPLETED]

    stats = cli.json("sessions", "stats", "-p", demo.project_id, "-d", demo.path)

    assert stats["mode"] == "guest"
    [funnel] = stats["experiences"]
    assert funnel["experienceId"] == demo.experience_id
    assert funnel["counts"]["total"] == len(guests) == 6
    assert funnel["counts"]["completed"] == len(completed) == 2
    assert [step["reached"] for step in funnel["steps"]] == [6, 2, 2]


def test_the_table_shows_each_step_and_the_outcomes(cli: Cli, demo: DemoDatabase) -> None:
    seed_sessions(demo, 12)

    result = cli.ok("sessions", "stats", "-p", demo.project_id, "--mode", "preview",
                    "-d", demo.path)  # fmt: skip

    assert "Demo experience: 6 sessions" in result.stdout
    assert "completed 2, abandoned 0, error 0, active 4" in result.stdout
    assert "100%" in result.stdout and "33%" in result.stdout


def test_nothing_to_count(cli: Cli, demo: DemoDatabase) -> None:
    result = cli.ok("sessions", "stats", "-p", demo.project_id, "--from", "2999-01-01",
                    "-d", demo.path)  # fmt: skip
    assert result.stdout.strip() == "No guest sessions match."


def test_an_unknown_project_is_named(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("sessions", "stats", "-p", "nope", "-d", demo.path)
    assert error == "error: NOT_FOUND: project 'nope' not found"


def test_a_backwards_window_is_refused(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("sessions", "stats", "-p", demo.project_id, "--from", "2026-02-01",
                      "--to", "2026-01-01", "-d", demo.path)  # fmt: skip
    assert error.startswith("error: VALIDATION_ERROR")


def test_one_session_is_one_session(cli: Cli, demo: DemoDatabase) -> None:
    seed_sessions(demo, 2)  # one preview, one guest

    result = cli.ok("sessions", "stats", "-p", demo.project_id, "-d", demo.path)

    assert re.search(r"Demo experience: 1 session *\n", result.stdout), result.stdout
