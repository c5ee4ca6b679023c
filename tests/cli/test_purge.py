"""``purge``: old sessions deleted on purpose, counted first with ``--dry-run``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from session_runtime import SYSTEM, NotFoundError, SessionRuntime
from session_runtime.cli import app
from session_runtime.domain.timestamps import utc_now

from ..factories import ManualClock
from .conftest import Cli, DemoDatabase


def seed_aged(demo: DemoDatabase, days_ago: int, *, preview: int, guest: int) -> list[str]:
    """Sessions whose last update was ``days_ago`` days ago; their ids."""
    clock = ManualClock(start=utc_now() - timedelta(days=days_ago))

    async def main() -> list[str]:
        async with SessionRuntime.sqlite(demo.path, synchronous="NORMAL", clock=clock) as runtime:
            ids = []
            for index in range(preview + guest):
                is_guest = index >= preview
                created = await runtime.service.create_session(
                    SYSTEM,
                    {
                        "projectId": demo.project_id,
                        "eventId": demo.event_id,
                        "experienceId": demo.experience_id,
                        "mode": "guest" if is_guest else "preview",
                        "configSource": "published" if is_guest else "draft",
                    },
                )
                ids.append(created.session_id)
            return ids

    return asyncio.run(main())


def stored(demo: DemoDatabase, ids: list[str]) -> list[str]:
    async def main() -> list[str]:
        async with SessionRuntime.sqlite(demo.path, synchronous="NORMAL") as runtime:
            found = []
            for session_id in ids:
                try:
                    await runtime.service.get_session(SYSTEM, demo.project_id, session_id)
                except NotFoundError:
                    continue
                found.append(session_id)
            return found

    return asyncio.run(main())


def test_dry_run_prints_what_would_go_and_deletes_nothing(cli: Cli, demo: DemoDatabase) -> None:
    old = seed_aged(demo, 100, preview=3, guest=2)
    recent = seed_aged(demo, 10, preview=1, guest=0)

    result = cli.ok("purge", "--older-than", "90d", "--dry-run", "-d", demo.path)

    assert "Would delete 5 sessions last updated before" in result.stderr
    assert "preview" in result.stdout and "guest" in result.stdout
    assert stored(demo, old + recent) == old + recent


def test_purge_deletes_only_what_matches(cli: Cli, demo: DemoDatabase) -> None:
    old = seed_aged(demo, 100, preview=3, guest=2)
    recent = seed_aged(demo, 10, preview=1, guest=0)

    printed = cli.json(
        "purge", "--older-than", "90d", "--mode", "preview", "--yes", "-d", demo.path
    )

    assert printed["deleted"] == 3 and printed["dryRun"] is False
    assert printed["counts"] == [
        {"projectId": demo.project_id, "mode": "preview", "status": "active", "count": 3}
    ]
    assert stored(demo, old + recent) == old[3:] + recent


def test_purge_asks_first_and_a_no_keeps_everything(cli: Cli, demo: DemoDatabase) -> None:
    old = seed_aged(demo, 100, preview=2, guest=0)

    refused = cli.runner.invoke(
        app,
        ["purge", "--older-than", "30d", "-d", str(demo.path)],
        input="n\n",
    )
    # A "no" is an answer, not a failure: exit 0, and it says what happened.
    assert refused.exit_code == 0, refused.output
    assert "Delete these 2 sessions?" in refused.stderr
    assert refused.stderr.rstrip().endswith("Nothing deleted.")  # after the prompt
    assert "error" not in refused.stderr
    assert stored(demo, old) == old

    accepted = cli.runner.invoke(
        app,
        ["purge", "--older-than", "30d", "-d", str(demo.path)],
        input="y\n",
    )
    assert accepted.exit_code == 0, accepted.output
    assert "Deleted 2 sessions" in accepted.stderr
    assert stored(demo, old) == []


def test_nothing_old_enough_deletes_nothing(cli: Cli, demo: DemoDatabase) -> None:
    recent = seed_aged(demo, 1, preview=1, guest=1)

    result = cli.ok("purge", "--older-than", "2w", "-d", demo.path)

    assert "Would delete 0 sessions" in result.stderr
    assert stored(demo, recent) == recent


@pytest.mark.parametrize("age", ["90", "0d", "-3d", "ninety days", "3y"])
def test_an_unreadable_age_is_a_usage_error(cli: Cli, demo: DemoDatabase, age: str) -> None:
    result = cli.invoke("purge", "--older-than", age, "--dry-run", "-d", demo.path)
    assert result.exit_code == 2


@pytest.mark.parametrize("age", ["1000000d", "36501d", "5300w", "99999999999999999999999999s"])
def test_an_age_out_of_range_is_a_usage_error(cli: Cli, demo: DemoDatabase, age: str) -> None:
    old = seed_aged(demo, 100, preview=1, guest=0)

    result = cli.invoke("purge", "--older-than", age, "--yes", "-d", demo.path)

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.replace("│", " ").split())  # as Typer's box wraps it
    assert f"{age} is out of range: give at most 36500d (100 years)" in message
    assert "Traceback" not in result.output and "OverflowError" not in result.output
    assert stored(demo, old) == old


def test_the_largest_age_is_accepted(cli: Cli, demo: DemoDatabase) -> None:
    old = seed_aged(demo, 100, preview=1, guest=0)

    result = cli.ok("purge", "--older-than", "36500d", "--yes", "-d", demo.path)

    assert "Deleted 0 sessions" in result.stderr
    assert stored(demo, old) == old


def test_an_unknown_project_is_named(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("purge", "--older-than", "1d", "-p", "nope", "--yes", "-d", demo.path)
    assert error == "error: NOT_FOUND: project 'nope' not found"


def test_a_missing_database_is_not_created(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    error = cli.fails("purge", "--older-than", "1d", "--yes", "-d", missing)
    assert "no database at" in error
    assert not missing.exists()


def test_one_session_is_one_session(cli: Cli, demo: DemoDatabase) -> None:
    seed_aged(demo, 100, preview=1, guest=0)

    counted = cli.ok("purge", "--older-than", "30d", "--dry-run", "-d", demo.path)
    asked = cli.runner.invoke(
        app, ["purge", "--older-than", "30d", "-d", str(demo.path)], input="y\n"
    )

    assert "Would delete 1 session last updated before" in counted.stderr
    assert "Delete this session?" in asked.stderr
    assert "Deleted 1 session last updated before" in asked.stderr
