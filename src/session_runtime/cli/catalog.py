"""``projects``, ``events`` and ``experiences``: the catalog that sessions refer to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from .. import SYSTEM
from ..domain.models import Event, Experience, Project
from ..service import SessionService
from .console import out, part_json, print_json, project_json, short_time, table
from .errors import command
from .help_flag import FlagHelpGroup
from .options import DatabaseOption, JsonOption, ProjectOption, option_without_default
from .runner import run

projects_app = typer.Typer(
    cls=FlagHelpGroup, help="Create and list projects.", no_args_is_help=True
)
events_app = typer.Typer(
    cls=FlagHelpGroup, help="Create and list the events of a project.", no_args_is_help=True
)
experiences_app = typer.Typer(
    cls=FlagHelpGroup, help="Create and list the experiences of a project.", no_args_is_help=True
)

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="A name for people (1 to 200 characters).")
]
IdOption = Annotated[
    str | None,
    option_without_default(
        "--id",
        help="Choose the id: 1 to 128 letters, digits, '_' or '-', not starting with '-', so "
        "that it goes into URLs as is (default: a random one)",
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


def _print_one(record: Any, json_output: bool, to_json: Callable[[Any], Any], kind: str) -> None:
    if json_output:
        print_json(to_json(record))
    else:
        _print_created(kind, record)


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

    _print_one(run(database, create), json_output, project_json, "project")


@command(projects_app, "list")
def list_projects(database: DatabaseOption = None, json_output: JsonOption = False) -> None:
    """List every project, oldest first. With --json prints an array."""

    async def list_all(service: SessionService) -> list[Project]:
        return await service.list_projects(SYSTEM)

    _print_list(run(database, list_all), json_output, project_json, "Projects")


# -- events and experiences: the two parts of a project, with the same commands ------------


@dataclass(frozen=True, slots=True)
class PartCommands:
    """What tells the ``create`` and ``list`` commands of events and of experiences apart."""

    app: typer.Typer
    kind: str
    title: str
    create_help: str
    list_help: str
    create: Callable[[SessionService, Mapping[str, Any]], Awaitable[Part]]
    list_all: Callable[[SessionService, str], Awaitable[Sequence[Part]]]


def add_part_commands(part: PartCommands) -> None:
    """Register ``create`` and ``list`` for one kind of part on its Typer group."""

    def create_part(
        name: NameArgument,
        project: ProjectOption,
        part_id: IdOption = None,
        database: DatabaseOption = None,
        json_output: JsonOption = False,
    ) -> None:
        async def create(service: SessionService) -> Part:
            return await part.create(service, {"projectId": project, "name": name, "id": part_id})

        _print_one(run(database, create), json_output, part_json, part.kind)

    def list_parts(
        project: ProjectOption, database: DatabaseOption = None, json_output: JsonOption = False
    ) -> None:
        async def list_all(service: SessionService) -> Sequence[Part]:
            await service.get_project(SYSTEM, project)  # NOT_FOUND rather than an empty list
            return await part.list_all(service, project)

        _print_list(run(database, list_all), json_output, part_json, part.title)

    create_part.__doc__ = part.create_help
    list_parts.__doc__ = part.list_help
    command(part.app, "create")(create_part)
    command(part.app, "list")(list_parts)


add_part_commands(
    PartCommands(
        app=events_app,
        kind="event",
        title="Events",
        create_help="Create an event of a project. "
        "With --json prints {eventId, projectId, name, createdAt}.",
        list_help="List the events of a project, oldest first. With --json prints an array.",
        create=lambda service, data: service.create_event(SYSTEM, data),
        list_all=lambda service, project: service.list_events(SYSTEM, project),
    )
)
add_part_commands(
    PartCommands(
        app=experiences_app,
        kind="experience",
        title="Experiences",
        create_help="Create an experience of a project.\n\n"
        "With --json prints {experienceId, projectId, name, createdAt}.",
        list_help="List the experiences of a project, oldest first. With --json prints an array.",
        create=lambda service, data: service.create_experience(SYSTEM, data),
        list_all=lambda service, project: service.list_experiences(SYSTEM, project),
    )
)
