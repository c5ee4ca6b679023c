"""``projects``, ``events`` and ``experiences``: create and list, as text and as JSON."""

from __future__ import annotations

import pytest

from session_runtime import SYSTEM, SessionService

from .conftest import Cli, DemoDatabase, on_service


def test_projects_create_and_list(cli: Cli, demo: DemoDatabase) -> None:
    created = cli.json("projects", "create", "Kiosk survey", "--database", demo.path)
    chosen = cli.json("projects", "create", "Booth", "--id", "booth", "--database", demo.path)

    assert set(created) == {"projectId", "name", "createdAt"}
    assert created["name"] == "Kiosk survey"
    assert created["createdAt"].endswith("Z")
    assert chosen["projectId"] == "booth"

    async def stored(service: SessionService) -> dict[str, str]:
        return {project.id: project.name for project in await service.list_projects(SYSTEM)}

    assert on_service(demo.path, stored) == {
        demo.project_id: "Demo project",
        created["projectId"]: "Kiosk survey",
        "booth": "Booth",
    }
    listed = cli.json("projects", "list", "--database", demo.path)
    assert [project["projectId"] for project in listed] == [
        demo.project_id,
        created["projectId"],
        "booth",
    ]
    assert listed[1] == created

    table = cli.ok("projects", "list", "--database", demo.path).stdout
    assert "Kiosk survey" in table and created["projectId"] in table


def test_text_output_names_what_was_created(cli: Cli, demo: DemoDatabase) -> None:
    output = cli.ok("projects", "create", "Booth", "--id", "booth", "-d", demo.path).stdout

    assert output.strip() == "Created project booth (Booth)"


def test_a_name_is_printed_as_given_not_as_markup(cli: Cli, demo: DemoDatabase) -> None:
    cli.ok("projects", "create", "[bold]Booth[/] :smile:", "-d", demo.path)

    assert "[bold]Booth[/] :smile:" in cli.ok("projects", "list", "-d", demo.path).stdout


def test_a_taken_id_is_refused(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("projects", "create", "Again", "--id", demo.project_id, "-d", demo.path)

    assert error == f"error: FAILED_PRECONDITION: project {demo.project_id!r} already exists"


def test_an_invalid_name_is_refused(cli: Cli, demo: DemoDatabase) -> None:
    error = cli.fails("projects", "create", "x" * 201, "-d", demo.path)

    assert error.startswith("error: VALIDATION_ERROR: invalid input: name: ")


@pytest.mark.parametrize(("group", "key"), [("events", "eventId"), ("experiences", "experienceId")])
def test_parts_of_a_project_create_and_list(
    cli: Cli, demo: DemoDatabase, group: str, key: str
) -> None:
    created = cli.json(group, "create", "--project", demo.project_id, "Trade fair", "-d", demo.path)
    chosen = cli.json(
        group, "create", "-p", demo.project_id, "Lobby", "--id", "lobby", "-d", demo.path
    )

    assert set(created) == {key, "projectId", "name", "createdAt"}
    assert (created["projectId"], created["name"]) == (demo.project_id, "Trade fair")
    assert chosen[key] == "lobby"
    listed = cli.json(group, "list", "--project", demo.project_id, "-d", demo.path)
    demo_part = demo.event_id if group == "events" else demo.experience_id
    assert [part[key] for part in listed] == [demo_part, created[key], "lobby"]
    assert listed[1] == created

    table = cli.ok(group, "list", "--project", demo.project_id, "-d", demo.path).stdout
    assert "Trade fair" in table and "lobby" in table


@pytest.mark.parametrize("group", ["events", "experiences"])
def test_parts_of_an_unknown_project(cli: Cli, demo: DemoDatabase, group: str) -> None:
    assert (
        cli.fails(group, "create", "--project", "nope", "Fair", "-d", demo.path)
        == "error: NOT_FOUND: project 'nope' not found"
    )
    assert (
        cli.fails(group, "list", "--project", "nope", "-d", demo.path)
        == "error: NOT_FOUND: project 'nope' not found"
    )


def test_a_project_without_events_lists_none(cli: Cli, demo: DemoDatabase) -> None:
    cli.ok("projects", "create", "Empty", "--id", "empty", "-d", demo.path)

    assert cli.json("events", "list", "-p", "empty", "-d", demo.path) == []
    assert cli.ok("events", "list", "-p", "empty", "-d", demo.path).stdout.strip() == "No events."


def test_a_missing_project_option_is_a_usage_error(cli: Cli, demo: DemoDatabase) -> None:
    result = cli.invoke("events", "create", "Fair", "-d", demo.path)

    assert result.exit_code == 2
    assert "--project" in result.stderr


@pytest.mark.parametrize("group", ["projects", "events", "experiences"])
def test_an_id_no_url_can_reach_is_refused(cli: Cli, demo: DemoDatabase, group: str) -> None:
    project = () if group == "projects" else ("-p", demo.project_id)

    error = cli.fails(group, "create", *project, "Kiosk", "--id", "kiosk/1", "-d", demo.path)

    assert error.startswith("error: VALIDATION_ERROR: invalid input: id: ")
    assert "letters (A-Z, a-z), digits, '_' or '-'" in error
    listed = cli.json(group, "list", *project, "-d", demo.path)
    assert "kiosk/1" not in str(listed)
