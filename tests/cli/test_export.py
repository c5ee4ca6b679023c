"""``sessions export``: every matching session, JSON lines or CSV, equal to what is stored."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from session_runtime import Session
from session_runtime.cli.export import PAGE_SIZE
from session_runtime.domain.export import CSV_COLUMNS

from .conftest import Cli, DemoDatabase, seed_sessions


def newest_first(sessions: list[Session]) -> list[dict[str, Any]]:
    ordered = sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)
    return [session.to_json() for session in ordered]


@pytest.fixture(scope="module")
def many_sessions() -> int:
    """More than one page of ``list_sessions``, so that the export follows its cursor."""
    return PAGE_SIZE + 7


def test_jsonl_file_holds_every_session_as_stored(
    cli: Cli, demo: DemoDatabase, tmp_path: Path, many_sessions: int
) -> None:
    sessions = seed_sessions(demo, many_sessions)
    output = tmp_path / "out" / "sessions.jsonl"
    output.parent.mkdir()

    result = cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl", "--output", output,
        "-d", demo.path,
    )  # fmt: skip

    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert rows == newest_first(sessions)
    assert result.stdout == ""
    assert f"Exported {many_sessions} sessions to {output}" in result.stderr
    assert f"{many_sessions} sessions" in result.stderr.splitlines()[0]  # the progress bar
    assert list(output.parent.iterdir()) == [output]


def test_csv_rows_equal_the_stored_sessions(cli: Cli, demo: DemoDatabase, tmp_path: Path) -> None:
    sessions = seed_sessions(demo, 8)
    output = tmp_path / "sessions.csv"

    cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "csv", "-o", output,
        "-d", demo.path,
    )  # fmt: skip

    with output.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        rows = list(reader)
    expected = newest_first(sessions)
    assert len(rows) == len(expected)
    for row, stored in zip(rows, expected, strict=True):
        assert json.loads(row.pop("inputs")) == stored.pop("inputs")
        assert json.loads(row.pop("outputs")) == stored.pop("outputs")
        assert row == {key: "" if value is None else str(value) for key, value in stored.items()}


def test_export_filters_and_writes_to_stdout(cli: Cli, demo: DemoDatabase) -> None:
    sessions = seed_sessions(demo, 9)

    result = cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl",
        "--status", "completed", "--mode", "preview", "-d", demo.path,
    )  # fmt: skip

    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        s for s in newest_first(sessions) if s["status"] == "completed" and s["mode"] == "preview"
    ]
    assert len(rows) == 2  # sessions 0 and 6
    assert "Exported 2 sessions to stdout" in result.stderr


def test_csv_to_stdout(cli: Cli, demo: DemoDatabase) -> None:
    sessions = seed_sessions(demo, 2)

    result = cli.ok("sessions", "export", "-p", demo.project_id, "--format", "csv", "-d", demo.path)

    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == [s["id"] for s in newest_first(sessions)]


def test_an_empty_export_has_only_a_header(cli: Cli, demo: DemoDatabase, tmp_path: Path) -> None:
    output = tmp_path / "empty.csv"

    cli.ok("sessions", "export", "-p", demo.project_id, "--format", "csv", "-o", output,
           "-d", demo.path)  # fmt: skip

    assert output.read_text(encoding="utf-8").splitlines() == [",".join(CSV_COLUMNS)]


def test_a_failed_export_leaves_no_file(cli: Cli, demo: DemoDatabase, tmp_path: Path) -> None:
    output = tmp_path / "sessions.jsonl"

    error = cli.fails(
        "sessions", "export", "-p", "nope", "--format", "jsonl", "-o", output, "-d", demo.path
    )

    assert error == "error: NOT_FOUND: project 'nope' not found"
    assert list(tmp_path.glob("sessions.jsonl*")) == []


def test_an_unwritable_output_is_one_error_line(
    cli: Cli, demo: DemoDatabase, tmp_path: Path
) -> None:
    output = tmp_path / "no-such-folder" / "sessions.jsonl"

    error = cli.fails(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl", "-o", output,
        "-d", demo.path,
    )  # fmt: skip

    assert error.startswith("error: [Errno 2] No such file or directory")


def test_the_format_is_required_and_checked(cli: Cli, demo: DemoDatabase) -> None:
    base: list[str | Path] = ["sessions", "export", "-p", demo.project_id, "-d", demo.path]

    assert cli.invoke(*base).exit_code == 2
    assert cli.invoke(*base, "--format", "xml").exit_code == 2


def test_one_exported_session_is_one_session(cli: Cli, demo: DemoDatabase) -> None:
    seed_sessions(demo, 1)

    result = cli.ok("sessions", "export", "-p", demo.project_id, "--format", "jsonl",
                    "-d", demo.path)  # fmt: skip

    assert "Exported 1 session to stdout" in result.stderr
    assert "1 sessions" not in result.stderr
