"""What the CLI prints: rich text for people on stdout, exactly one JSON document for scripts,
one line per error on stderr.

Consoles are made per use, so they follow whatever ``sys.stdout`` is at the time (a test runner
swaps it). Markup and emoji are off: names and reasons come from users and are printed as given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import typer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from ..domain.models import Event, Experience, Project
from ..domain.tokens import TokenRecord

# The same serializer as the sessions' JSON, so that every timestamp the CLI prints looks alike.
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


# Piped into a file or a pager, a line may be long: a table is not squeezed to 80 columns.
PIPE_WIDTH = 200


def out() -> Console:
    """A console on stdout, for people (as wide as the terminal, or ``PIPE_WIDTH``)."""
    console = Console(markup=False, emoji=False, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, PIPE_WIDTH)
    return console


def err() -> Console:
    """A console on stderr: progress, hints, anything that must stay out of piped output."""
    return Console(stderr=True, markup=False, emoji=False, highlight=False)


def print_json(document: Any) -> None:
    """One JSON document on one line of stdout, for scripts (``| jq``)."""
    typer.echo(orjson.dumps(document).decode())


def print_error(message: str) -> None:
    """``error: <message>`` as one line on stderr."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)


def print_hint(message: str) -> None:
    """A remark for the operator on stderr, so that stdout stays clean for pipes."""
    typer.echo(message, err=True)


def plural(count: int, noun: str) -> str:
    """``1 session``, ``0 sessions``, ``2 sessions``: a count and its noun, agreeing."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def iso(moment: datetime | None) -> str | None:
    """Server time as JSON shows it: ISO 8601 UTC with ``Z`` (``None`` stays ``None``)."""
    return None if moment is None else _DATETIME.dump_python(moment, mode="json")


def short_time(moment: datetime | None) -> str:
    """Server time for a table cell: ``2026-01-15 09:30:00`` (UTC)."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def table(*columns: str, title: str | None = None, folding: tuple[str, ...] = ()) -> Table:
    """A table whose cells keep to one line (an id is there to be copied), except the
    ``folding`` columns: free text, which wraps."""
    result = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        if column in folding:
            result.add_column(column, overflow="fold", min_width=min(len(column), 12))
        else:
            result.add_column(column, no_wrap=True)
    return result


# -- the JSON of catalog records and tokens: ids named as in `init --json` -------------------


def project_json(project: Project) -> dict[str, Any]:
    return {"projectId": project.id, "name": project.name, "createdAt": iso(project.created_at)}


def event_json(event: Event) -> dict[str, Any]:
    return {
        "eventId": event.id,
        "projectId": event.project_id,
        "name": event.name,
        "createdAt": iso(event.created_at),
    }


def experience_json(experience: Experience) -> dict[str, Any]:
    return {
        "experienceId": experience.id,
        "projectId": experience.project_id,
        "name": experience.name,
        "createdAt": iso(experience.created_at),
    }


def token_json(record: TokenRecord, secret: str | None = None) -> dict[str, Any]:
    """A token's public record; ``secret`` only right after it was created (never stored)."""
    document: dict[str, Any] = {"tokenId": record.id}
    if secret is not None:
        document["token"] = secret
    document.update(
        projectId=record.project_id,
        kind=record.kind.value,
        user=record.user,
        role=None if record.role is None else record.role.value,
        eventId=record.event_id,
        createdAt=iso(record.created_at),
        revokedAt=iso(record.revoked_at),
    )
    return document
