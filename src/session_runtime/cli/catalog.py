"""``projects``, ``events`` and ``experiences``: the catalog that sessions refer to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from .. import SYSTEM
from ..domain.models import Event, Experience, Project
from ..service import SessionService
from .console import (
    event_json,
    experience_json,
    out,
    print_json,
    project_json,
    short_time,
    table,
)
from .errors import command
from .options import DatabaseOption, JsonOption, ProjectOption
from .runner import run

projects_app = typer.Typer(help="Create and list projects.", no_args_is_help=True)
events_app = typer.Typer(help="Create and list the events of a project.", no_args_is_help=True)
experiences_app = typer.Typer(
    help="Create and list the experiences of a project.", no_args_is_help=True
)

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="A name for people (1 to 200 characters).")
]
IdOption = Annotated[
    str | None,
    typer.Option(
        "--id",
        help="Choose the id: 1 to 128 letters, digits, '_' or '-', not starting with '-', so "
        "that it goes into URLs as is (default: a random one)",
        show_default=False,
    ),
]

Part = Event | Experience


def _print_created(kind: str, record: Project | Part) -> None:
    out().print(f"Created {kind} {record.id} ({record.name})", soft_wrap=True)


def _print_records(records: Sequence[Project | Part], title: str) -> None:
    if not records:
        out().print(f"No {title.lower()}.")
        return
    rows = table("id", "name", "created (UTC)", title=title, folding=("name",))
    for record in records:
        rows.add_row(record.id, record.name, short_time(record.created_at))
    out().print(rows)


def _print_list(
    records: Sequence[Any], json_output: bool, to_json: Callable[[Any], Any], title: str
) -> None:
    if json_output:
        print_json([to_json(record) for record in records])
    else:
        _print_records(records, title)


# -- projects -------------------------------------------------------------------------------


@command(projects_app, "create")
def create_project(
    name: NameArgument,
    project_id: IdOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a project. With --json prints {projectId, name, createdAt}."""

    async def create(service: SessionService) -> Project:
        return await service.create_project(SYSTEM, {"name": name, "id": project_id})

    project = run(database, create)
    if json_output:
        print_json(project_json(project))
    else:
        _print_created("project", project)


@command(projects_app, "list")
def list_projects(database: DatabaseOption = None, json_output: JsonOption = False) -> None:
    """List every project, oldest first. With --json prints an array."""

    async def list_all(service: SessionService) -> list[Project]:
        return await service.list_projects(SYSTEM)

    _print_list(run(database, list_all), json_output, project_json, "Projects")


# -- events ---------------------------------------------------------------------------------


@command(events_app, "create")
def create_event(
    name: NameArgument,
    project: ProjectOption,
    event_id: IdOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an event of a project. With --json prints {eventId, projectId, name, createdAt}."""

    async def create(service: SessionService) -> Event:
        return await service.create_event(
            SYSTEM, {"projectId": project, "name": name, "id": event_id}
        )

    event = run(database, create)
    if json_output:
        print_json(event_json(event))
    else:
        _print_created("event", event)


@command(events_app, "list")
def list_events(
    project: ProjectOption, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """List the events of a project, oldest first. With --json prints an array."""

    async def list_all(service: SessionService) -> list[Event]:
        await service.get_project(SYSTEM, project)  # NOT_FOUND rather than an empty list
        return await service.list_events(SYSTEM, project)

    _print_list(run(database, list_all), json_output, event_json, "Events")


# -- experiences ----------------------------------------------------------------------------


@command(experiences_app, "create")
def create_experience(
    name: NameArgument,
    project: ProjectOption,
    experience_id: IdOption = None,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an experience of a project.

    With --json prints {experienceId, projectId, name, createdAt}.
    """

    async def create(service: SessionService) -> Experience:
        return await service.create_experience(
            SYSTEM, {"projectId": project, "name": name, "id": experience_id}
        )

    experience = run(database, create)
    if json_output:
        print_json(experience_json(experience))
    else:
        _print_created("experience", experience)


@command(experiences_app, "list")
def list_experiences(
    project: ProjectOption, database: DatabaseOption = None, json_output: JsonOption = False
) -> None:
    """List the experiences of a project, oldest first. With --json prints an array."""

    async def list_all(service: SessionService) -> list[Experience]:
        await service.get_project(SYSTEM, project)
        return await service.list_experiences(SYSTEM, project)

    _print_list(run(database, list_all), json_output, experience_json, "Experiences")
