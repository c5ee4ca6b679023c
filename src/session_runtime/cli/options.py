"""The options that many commands share, so that each reads and helps the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..domain.models import Mode, SessionStatus


def option_without_default(*names: str, help: str, **settings: Any) -> Any:
    """An option whose help shows no default: it has none to show (``None`` stands for "not
    given"), or it must be given. Typer would otherwise print ``[default: None]``.
    """
    return typer.Option(*names, help=help, show_default=False, **settings)


def flag(*names: str, help: str) -> Any:
    """A yes-or-no option given alone (``--json``), shown in help without a value.

    Typer's rich help prints a flag's type (``--json <bool>``) unless it has a metavar: an
    empty one keeps the help as the command line takes it.
    """
    return typer.Option(*names, help=help, metavar="")


DatabaseOption = Annotated[
    Path | None,
    option_without_default(
        "--database",
        "-d",
        help="The SQLite database file "
        "(default: $SESSION_RUNTIME_DATABASE_PATH or ./var/session-runtime.db)",
        dir_okay=False,
    ),
]
DatabaseUrlOption = Annotated[
    str | None,
    option_without_default(
        "--database-url",
        help="postgresql://... to use PostgreSQL instead of the SQLite file "
        "(default: $DATABASE_URL)",
    ),
]
JsonOption = Annotated[
    bool, flag("--json", help="Print JSON for scripts instead of text for people.")
]
ProjectOption = Annotated[str, typer.Option("--project", "-p", help="The project's id.")]

EventFilter = Annotated[
    str | None, option_without_default("--event", help="Only this event's sessions.")
]
ExperienceFilter = Annotated[
    str | None, option_without_default("--experience", help="Only this experience's sessions.")
]
StatusFilter = Annotated[
    SessionStatus | None, option_without_default("--status", help="Only sessions in this status.")
]
ModeFilter = Annotated[
    Mode | None, option_without_default("--mode", help="Only sessions of this mode.")
]


def session_filters(
    event: str | None, experience: str | None, status: SessionStatus | None, mode: Mode | None
) -> dict[str, Any]:
    """The ``list_sessions`` filters that were given, by their JSON names."""
    filters = {"eventId": event, "experienceId": experience, "status": status, "mode": mode}
    return {name: value for name, value in filters.items() if value is not None}
