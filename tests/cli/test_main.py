"""``init``, the global options, and what every command shares: settings and the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from session_runtime import SYSTEM, Guest, Member, Principal, Role, SessionService

from .conftest import Cli, DemoDatabase, on_service

TOKEN = re.compile(r"srt_[A-Za-z0-9_-]{20,}")


def authenticate(path: Path, token: str) -> Principal:
    async def check(service: SessionService) -> Principal:
        return await service.authenticate(token)

    return on_service(path, check)


def test_init_json_prints_ids_and_tokens_that_work(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "new" / "sessions.db"
    printed = cli.json("init", "--database", path)

    assert set(printed) == {"projectId", "eventId", "experienceId", "ownerToken", "guestToken"}
    owner = authenticate(path, printed["ownerToken"])
    assert isinstance(owner, Member)
    assert (owner.project_id, owner.role) == (printed["projectId"], Role.OWNER)
    guest = authenticate(path, printed["guestToken"])
    assert isinstance(guest, Guest)
    assert (guest.project_id, guest.event_id) == (printed["projectId"], printed["eventId"])

    async def catalog(service: SessionService) -> tuple[str, str]:
        event = await service.store.get_event(printed["projectId"], printed["eventId"])
        experience = await service.store.get_experience(
            printed["projectId"], printed["experienceId"]
        )
        assert event is not None and experience is not None
        return event.name, experience.name

    assert on_service(path, catalog) == ("Demo event", "Demo experience")


def test_init_prints_the_tokens_once_for_people(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    result = cli.ok("init", "--database", path)

    owner_line = next(line for line in result.stdout.splitlines() if "owner token" in line)
    guest_line = next(line for line in result.stdout.splitlines() if "guest token" in line)
    owner = TOKEN.search(owner_line)
    guest = TOKEN.search(guest_line)
    assert owner is not None and guest is not None
    assert isinstance(authenticate(path, owner.group()), Member)
    assert isinstance(authenticate(path, guest.group()), Guest)
    assert "shown once" in result.stdout


def test_init_refuses_a_database_with_projects(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("init", "--database", demo.path)

    assert error == "error: the database already has 1 project; init only sets up a new one"

    async def count(service: SessionService) -> int:
        return len(await service.list_projects(SYSTEM))

    assert on_service(demo.path, count) == 1


def test_init_defaults_to_var_session_runtime_db(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli.json("init")

    assert (tmp_path / "var" / "session-runtime.db").is_file()


def test_the_database_comes_from_the_environment_unless_given(cli: Cli, tmp_path: Path) -> None:
    from_env = tmp_path / "from-env.db"
    env = {"SESSION_RUNTIME_DATABASE_PATH": str(from_env)}
    project = cli.ok("init", "--json", env=env)
    listed = cli.ok("projects", "list", "--json", env=env)

    assert from_env.is_file()
    assert project.stdout.count("projectId") == 1
    assert listed.stdout.count("projectId") == 1

    given = tmp_path / "given.db"
    cli.ok("init", "--json", "--database", given, env=env)
    assert given.is_file()


def test_a_bad_setting_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    error = cli.fails(
        "init",
        "--database",
        tmp_path / "x.db",
        exit_code=2,
        env={"SESSION_RUNTIME_SYNCHRONOUS": "SOMETIMES"},
    )

    assert error.startswith("error: invalid setting synchronous (")
    assert len(error.splitlines()) == 1
    assert not (tmp_path / "x.db").exists()


COMMANDS_ON_A_DATABASE = [
    ["projects", "list"],
    ["projects", "create", "Booth"],
    ["events", "list", "--project", "p"],
    ["events", "create", "--project", "p", "Launch"],
    ["experiences", "list", "--project", "p"],
    ["experiences", "create", "--project", "p", "Portrait"],
    ["tokens", "list", "--project", "p"],
    ["tokens", "create", "--project", "p", "--guest"],
    ["tokens", "revoke", "t"],
    ["sessions", "list", "--project", "p"],
    ["sessions", "show", "--project", "p", "s"],
    ["sessions", "watch", "--project", "p", "s"],
    ["sessions", "export", "--project", "p", "--format", "jsonl"],
]


@pytest.mark.parametrize("args", COMMANDS_ON_A_DATABASE, ids=" ".join)
def test_a_missing_database_is_an_error_and_stays_missing(
    cli: Cli, tmp_path: Path, args: list[str]
) -> None:
    path = tmp_path / "missing" / "sessions.db"
    error = cli.fails(*args, "--database", path)

    assert error == (
        f"error: no database at {path} (create one with: session-runtime init --database {path})"
    )
    assert not path.parent.exists()


def test_a_file_that_is_not_a_database_is_unavailable(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just text that is long enough to be a header " * 20)

    error = cli.fails("projects", "list", "--database", path)

    assert error.startswith(f"error: UNAVAILABLE: cannot open the database at {path}")


def test_version(cli: Cli) -> None:
    assert cli.ok("--version").stdout.startswith("session-runtime 0.")


def test_help_lists_every_group(cli: Cli) -> None:
    output = cli.ok("--help").stdout
    for name in ("serve", "init", "projects", "events", "experiences", "tokens", "sessions"):
        assert name in output


def test_verbose_logs_operations_on_stderr(cli: Cli, demo: DemoDatabase) -> None:
    result = cli.invoke("-v", "events", "list", "--project", "nope", "--database", demo.path)

    assert result.exit_code == 1
    assert re.search(r"INFO session_runtime\.\S+: get_project failed: NOT_FOUND", result.stderr)
    assert result.stderr.splitlines()[-1] == "error: NOT_FOUND: project 'nope' not found"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["projects"],
        ["projects", "list"],
        ["sessions", "watch"],
        ["purge"],
        ["tokens", "create"],
        ["init"],
    ],
)
def test_help_shows_flags_without_a_value(cli: Cli, command: list[str]) -> None:
    output = cli.ok(*command, "--help").stdout
    flags = [
        line
        for line in output.splitlines()
        if re.search(r"--(json|dry-run|yes|guest|version|help)\b", line)
    ]

    assert flags, output
    for line in flags:
        assert "<bool>" not in line, line
