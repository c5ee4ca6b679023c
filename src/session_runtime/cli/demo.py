"""The demo a new database starts with: a project, an event, an experience and two tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text

from .. import SYSTEM
from ..domain.auth import Role
from ..domain.models import Event, Experience, Project
from ..service import SessionService
from .console import out
from .errors import CliError

OWNER_USER = "owner"


@dataclass(frozen=True, slots=True)
class Demo:
    project: Project
    event: Event
    experience: Experience
    owner_token: str
    guest_token: str

    def to_json(self) -> dict[str, Any]:
        return {
            "projectId": self.project.id,
            "eventId": self.event.id,
            "experienceId": self.experience.id,
            "ownerToken": self.owner_token,
            "guestToken": self.guest_token,
        }


async def create_demo(service: SessionService) -> Demo:
    """The demo catalog with an owner token and a guest token bound to the demo event."""
    project = await service.create_project(SYSTEM, {"name": "Demo project"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Demo event"})
    experience = await service.create_experience(
        SYSTEM, {"projectId": project.id, "name": "Demo experience"}
    )
    _, owner_token = await service.create_member_token(
        SYSTEM, project.id, user=OWNER_USER, role=Role.OWNER
    )
    _, guest_token = await service.create_guest_token(SYSTEM, project.id, event_id=event.id)
    return Demo(project, event, experience, owner_token, guest_token)


async def create_demo_in_new_database(service: SessionService) -> Demo:
    """``create_demo``, refusing a database that already has projects."""
    projects = await service.list_projects(SYSTEM)
    if projects:
        count = f"{len(projects)} project{'s' if len(projects) > 1 else ''}"
        raise CliError(f"the database already has {count}; init only sets up a new one")
    return await create_demo(service)


async def create_demo_if_empty(service: SessionService) -> Demo | None:
    """``create_demo`` on a database without projects (a first start); else ``None``."""
    if await service.list_projects(SYSTEM):
        return None
    return await create_demo(service)


def print_demo(demo: Demo, database: Path | str) -> None:
    """The demo's ids and its two tokens, which are shown this once and never again."""
    console = out()
    console.print(Text(f"Initialised {database} with a demo:", style="bold"), soft_wrap=True)
    for label, record in (
        ("project", demo.project),
        ("event", demo.event),
        ("experience", demo.experience),
    ):
        console.print(f"  {label:<11} {record.id}  {record.name}", soft_wrap=True)
    console.print(
        Text.assemble("  owner token ", (demo.owner_token, "bold green"), f"  (user {OWNER_USER})"),
        soft_wrap=True,
    )
    console.print(
        Text.assemble("  guest token ", (demo.guest_token, "bold green"), "  (the demo event)"),
        soft_wrap=True,
    )
    console.print(
        Text("These tokens are shown once (only their hashes are stored): keep them now.")
    )
