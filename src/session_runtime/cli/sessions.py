"""``sessions``: list, show, watch live and export the sessions of a project."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from .. import SYSTEM
from ..client import AsyncProjectClient
from ..domain.models import ListSessionsInput, Session, SessionPage, SessionStatus
from ..service import SessionService
from .console import out, print_hint, print_json, short_time, table
from .errors import EXIT_INTERRUPTED, CliError, command
from .export import export_sessions
from .help_flag import FlagHelpGroup
from .options import (
    DatabaseOption,
    EventFilter,
    ExperienceFilter,
    JsonOption,
    ModeFilter,
    ProjectOption,
    StatusFilter,
    flag,
    option_without_default,
    session_filters,
)
from .remote import TokenOption, UrlOption, run_on_file_or_server
from .stats import session_stats

sessions_app = typer.Typer(
    cls=FlagHelpGroup,
    help="List, show, watch, export and count the sessions of a project.",
    no_args_is_help=True,
)

SessionArgument = Annotated[str, typer.Argument(metavar="SESSION_ID", help="The session's id.")]
SHORT_TEXT = 60
VALUE_WIDTH = 40
"""A value in a one-line summary is cut to this many characters, so every key gets a place."""


def shorten(text: str, width: int = SHORT_TEXT) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def summarize(values: dict[str, Any], width: int = SHORT_TEXT) -> str:
    """``name="Ada", age=3``: every key of an object, each value as compact JSON cut to
    ``VALUE_WIDTH``, within ``width``; the keys that do not fit are counted (``+2 more``)."""
    parts = [
        f"{key}={shorten(orjson.dumps(value).decode(), VALUE_WIDTH)}"
        for key, value in values.items()
    ]
    line = ""
    for index, part in enumerate(parts):
        candidate = f"{line}, {part}" if line else part
        left = len(parts) - index - 1
        if len(candidate) + (len(f", +{left} more") if left else 0) > width and line:
            return f"{line}, +{left + 1} more"
        line = candidate
    return shorten(line, width)


@command(sessions_app, "list")
def list_sessions(
    project: ProjectOption,
    event: EventFilter = None,
    experience: ExperienceFilter = None,
    status: StatusFilter = None,
    mode: ModeFilter = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many sessions.")] = 50,
    cursor: Annotated[
        str | None, option_without_default(help="Continue after a previous page (its next cursor).")
    ] = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List a project's sessions, newest first, as a table (an array of sessions with --json).

    When more match than --limit, the cursor of the next page is printed on stderr. To get
    every matching session, use [bold]sessions export[/]. With --url, from that server (the
    table then names events and experiences by id).
    """
    query = {**session_filters(event, experience, status, mode), "limit": limit, "cursor": cursor}

    async def list_page(service: SessionService) -> tuple[SessionPage, dict[str, str]]:
        await service.get_project(SYSTEM, project)  # NOT_FOUND rather than an empty list
        page = await service.list_sessions(SYSTEM, project, ListSessionsInput.model_validate(query))
        names = {e.id: e.name for e in await service.list_events(SYSTEM, project)}
        names.update({x.id: x.name for x in await service.list_experiences(SYSTEM, project)})
        return page, names

    async def list_remote(client: AsyncProjectClient) -> tuple[SessionPage, dict[str, str]]:
        parsed = ListSessionsInput.model_validate(query)
        # The input's fields are the client's keyword arguments, by the same names.
        return await client.list_sessions(**parsed.model_dump()), {}

    page, names = run_on_file_or_server(database, url, token, project, list_page, list_remote)
    if json_output:
        print_json([session.to_json() for session in page.items])
    elif not page.items:
        out().print("No sessions match.")
    else:
        rows = table(
            "session id",
            "status",
            "mode",
            "step",
            "event",
            "experience",
            "updated (UTC)",
            folding=("event", "experience"),
        )
        for session in page.items:
            rows.add_row(
                session.id,
                session.status.value,
                session.mode.value,
                str(session.current_step_index),
                names.get(session.event_id, session.event_id),
                names.get(session.experience_id, session.experience_id),
                short_time(session.updated_at),
            )
        out().print(rows)
    if page.next_cursor is not None:
        print_hint(f"more sessions match: add --cursor {page.next_cursor}")


@command(sessions_app, "show")
def show_session(
    project: ProjectOption,
    session_id: SessionArgument,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one session: its state, inputs and outputs (the session's JSON with --json).

    With --url, as that server has it.
    """

    async def get(service: SessionService) -> Session:
        return await service.get_session(SYSTEM, project, session_id)

    async def get_remote(client: AsyncProjectClient) -> Session:
        return await client.get_session(session_id)

    session = run_on_file_or_server(database, url, token, project, get, get_remote)
    if json_output:
        print_json(session.to_json())
        return
    document = session.to_json()
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold", no_wrap=True)
    details.add_column(overflow="fold")
    for key, value in document.items():
        if key in ("inputs", "outputs"):
            continue
        details.add_row(key, "" if value is None else str(value))
    console = out()
    console.print(details)
    for key in ("inputs", "outputs"):
        console.print(Text(key, style="bold"))
        console.print(orjson.dumps(document[key], option=orjson.OPT_INDENT_2).decode())


def describe_version(session: Session, width: int = 200) -> Text:
    """One line per version: ``v3 09:30:02 completed step 2 inputs: name="Ada"``, every input
    key shown as far as ``width`` (the terminal's) allows."""
    line = Text.assemble(
        (f"v{session.version}", "bold"),
        f" {session.updated_at.strftime('%H:%M:%S')} ",
        (session.status.value, "bold green" if session.status is SessionStatus.ACTIVE else "bold"),
        f" step {session.current_step_index}",
    )
    if session.inputs:
        room = width - len(line) - len("  inputs: ")
        room -= len(f"  outputs: {shorten(', '.join(session.outputs))}") if session.outputs else 0
        line.append(f"  inputs: {summarize(session.inputs, max(room, SHORT_TEXT))}")
    if session.outputs:
        line.append(f"  outputs: {shorten(', '.join(session.outputs))}")
    if session.end_reason:
        line.append(f"  reason: {shorten(session.end_reason)}")
    return line


async def follow_session(
    read: Callable[[], Awaitable[Session]],
    session_id: str,
    *,
    interval: float,
    timeout: float | None,
    on_version: Callable[[Session], None],
) -> Session:
    """Read the session every ``interval`` seconds (``read``: from the database or a server)
    and call ``on_version`` with each new version, until a final status.

    The CLI runs apart from the server, so its in-process change feed never hears of writes:
    the database is the one place both see.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    seen_version = 0
    while True:
        session = await read()
        if session.version != seen_version:
            seen_version = session.version
            on_version(session)
        if session.is_final:
            return session
        if deadline is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise CliError(
                    f"timed out: session {session_id} is still {session.status.value} "
                    f"at version {session.version}"
                )
            await asyncio.sleep(min(interval, remaining))
        else:
            await asyncio.sleep(interval)


@command(sessions_app, "watch")
def watch_session(
    project: ProjectOption,
    session_id: SessionArgument,
    interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between two looks at the database.")
    ] = 0.5,
    timeout: Annotated[
        float | None,
        option_without_default(min=0, help="Give up after this many seconds (exit 1)."),
    ] = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: Annotated[
        bool, flag("--json", help="Print each version as one JSON line.")
    ] = False,
) -> None:
    """Follow a session live: one line per new version (status, step, inputs in short).

    Ends with exit 0 when the session reaches a final status (completed, abandoned, error),
    with exit 1 on --timeout; Ctrl-C stops it (exit 130). Polls the database, so it sees the
    writes of a server running on the same file; with --url, polls that server.
    """
    console = out()

    def show(session: Session) -> None:
        if json_output:
            print_json(session.to_json())
        else:
            console.print(describe_version(session, console.width), soft_wrap=True)

    def follow(read: Callable[[], Awaitable[Session]]) -> Awaitable[Session]:
        return follow_session(read, session_id, interval=interval, timeout=timeout, on_version=show)

    async def watch(service: SessionService) -> Session:
        return await follow(lambda: service.get_session(SYSTEM, project, session_id))

    async def watch_remote(client: AsyncProjectClient) -> Session:
        return await follow(lambda: client.get_session(session_id))

    try:
        run_on_file_or_server(database, url, token, project, watch, watch_remote)
    except KeyboardInterrupt:
        print_hint(f"stopped watching session {session_id}")
        raise typer.Exit(EXIT_INTERRUPTED) from None


command(sessions_app, "export")(export_sessions)
command(sessions_app, "stats")(session_stats)
