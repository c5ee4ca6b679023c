"""``sessions export --url``: the same files, streamed from a running server's export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from session_runtime.cli.export import PAGE_SIZE
from session_runtime.domain.export import CSV_COLUMNS
from session_runtime.settings import Settings

from ..support.server import RunningServer, running_server
from .conftest import Cli, DemoDatabase, seed_sessions


@pytest.fixture
def served(demo: DemoDatabase) -> Iterator[RunningServer]:
    with running_server(Settings(database_path=demo.path)) as server:
        yield server


def newest_first(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(documents, key=lambda d: (d["createdAt"], d["id"]), reverse=True)


def test_jsonl_from_the_server_equals_the_database_export(
    cli: Cli, demo: DemoDatabase, served: RunningServer, tmp_path: Path
) -> None:
    sessions = seed_sessions(demo, PAGE_SIZE + 3)
    from_server, from_file = tmp_path / "server.jsonl", tmp_path / "file.jsonl"

    result = cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl", "-o", from_server,
        "--url", served.base_url, env={"SESSION_RUNTIME_TOKEN": demo.owner_token},
    )  # fmt: skip
    cli.ok("sessions", "export", "-p", demo.project_id, "--format", "jsonl", "-o", from_file,
           "-d", demo.path)  # fmt: skip

    rows = [json.loads(line) for line in from_server.read_text(encoding="utf-8").splitlines()]
    assert rows == newest_first([s.to_json() for s in sessions])
    assert from_server.read_text(encoding="utf-8") == from_file.read_text(encoding="utf-8")
    assert f"Exported {PAGE_SIZE + 3} sessions" in result.stderr


def test_csv_from_the_server_with_filters(
    cli: Cli, demo: DemoDatabase, served: RunningServer, tmp_path: Path
) -> None:
    sessions = seed_sessions(demo, 12)
    output = tmp_path / "guest.csv"

    cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "csv", "--mode", "guest",
        "-o", output, "--url", served.base_url, "--token", demo.owner_token,
    )  # fmt: skip

    with output.open(encoding="utf-8", newline="") as stream:
        reader = csv.DictReader(stream)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        ids = [row["id"] for row in reader]
    guests = [s.to_json() for s in sessions if s.mode == "guest"]
    assert ids == [d["id"] for d in newest_first(guests)]


def test_a_guest_token_exports_its_own_sessions_only(
    cli: Cli, demo: DemoDatabase, served: RunningServer
) -> None:
    seed_sessions(demo, 4)

    result = cli.ok(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl",
        "--url", served.base_url, "--token", demo.guest_token,
    )  # fmt: skip

    assert result.stdout == ""
    assert "Exported 0 sessions" in result.stderr


def test_refusals_are_one_line_and_leave_no_file(
    cli: Cli, demo: DemoDatabase, served: RunningServer, tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    base = ["sessions", "export", "--format", "jsonl", "-o", output, "--url", served.base_url]

    bad_token = cli.fails(*base, "-p", demo.project_id, "--token", "srt_nope")
    missing = cli.fails(*base, "-p", "nope", "--token", demo.owner_token)
    no_token = cli.fails(*base, "-p", demo.project_id, exit_code=2)

    assert bad_token.startswith("error: UNAUTHENTICATED")
    assert missing.startswith("error: PERMISSION_DENIED")
    assert "needs a token" in no_token
    assert not output.exists() and list(tmp_path.glob("out.jsonl*")) == []


def test_an_unreachable_server_is_unavailable(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails(
        "sessions", "export", "-p", demo.project_id, "--format", "jsonl",
        "--url", "http://127.0.0.1:9", "--token", demo.owner_token,
    )  # fmt: skip
    assert error.startswith("error: UNAVAILABLE: cannot reach the server")
