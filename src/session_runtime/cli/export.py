"""``sessions export``: every matching session, as JSON lines or CSV, page after page.

Pages come from ``list_sessions`` with its keyset cursor (newest first), so sessions created
while an export runs do not shift the pages it has yet to read. A file is written beside its
destination and renamed into place at the end: a failed export leaves no half a file.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import httpx
import orjson
import typer
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from .. import SYSTEM
from ..client.errors import error_from_response, map_transport_errors
from ..client.operations import client_headers, segment
from ..domain.export import ExportFormat, csv_header, csv_line, json_line
from ..reporting import EXPORT_PAGE_SIZE
from ..service import SessionService
from .console import err, plural, print_hint
from .options import (
    DatabaseOption,
    EventFilter,
    ExperienceFilter,
    ModeFilter,
    ProjectOption,
    StatusFilter,
    option_without_default,
    session_filters,
)
from .remote import TokenOption, require_token
from .runner import run

PAGE_SIZE = EXPORT_PAGE_SIZE
SERVER_CHUNK_BYTES = 64 * 1024


class SessionCount(ProgressColumn):
    """``1 session``, ``250 sessions``: how many were written so far."""

    def render(self, task: Task) -> Text:
        return Text(plural(int(task.completed), "session"))


class SessionWriter:
    """Writes sessions (their JSON documents) to a stream in one format, and counts them on a
    progress bar, which moves a page at a time so that drawing it costs next to nothing."""

    def __init__(self, export_format: ExportFormat, stream: TextIO, progress: Progress) -> None:
        self.stream = stream
        self.line = json_line if export_format is ExportFormat.JSONL else csv_line
        self.progress = progress
        self.task = progress.add_task("Exporting", total=None)
        self.count = 0
        if export_format is ExportFormat.CSV:
            stream.write(csv_header())

    def write(self, document: dict[str, Any]) -> None:
        self.stream.write(self.line(document))
        self.count += 1
        if self.count % PAGE_SIZE == 0:
            self.progress.update(self.task, completed=self.count)

    def finish(self) -> int:
        """Show the final count on the progress bar and return it."""
        self.progress.update(self.task, completed=self.count, total=self.count)
        return self.count


@contextmanager
def open_destination(output: Path | None) -> Iterator[TextIO]:
    """stdout, or ``output`` written through a temporary file renamed into place on success."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


async def write_all(
    service: SessionService,
    project_id: str,
    filters: dict[str, Any],
    writer: SessionWriter,
) -> int:
    """Write every session of the database that matches ``filters``; return how many."""
    first_page, given = await service.first_export_page(SYSTEM, project_id, filters)
    async for session in service.export_sessions(SYSTEM, project_id, first_page, given):
        writer.write(session.to_json())
    return writer.finish()


def open_server_export(
    http: httpx.Client, project_id: str, filters: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The server's export (``GET .../sessions:export``, JSON lines), a session at a time.

    A refusal raises the server's own error before anything is yielded; a stream that breaks
    off raises ``UnavailableError``.
    """
    path = f"/v1/projects/{segment('projectId', project_id)}/sessions:export"
    params = {"format": "jsonl", **{name: str(value) for name, value in filters.items()}}
    with map_transport_errors(), http.stream("GET", path, params=params) as response:
        if response.status_code != 200:
            response.read()
            raise error_from_response(response)
        for line in response.iter_lines():
            if line:
                yield orjson.loads(line)


def export_sessions(
    project: ProjectOption,
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl (one session's JSON per line) or csv.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write to this file (default: stdout)"),
    ] = None,
    event: EventFilter = None,
    experience: ExperienceFilter = None,
    status: StatusFilter = None,
    mode: ModeFilter = None,
    database: DatabaseOption = None,
    url: Annotated[
        str | None,
        option_without_default(
            "--url",
            envvar="SESSION_RUNTIME_URL",
            help="Export from this server (its /sessions:export) instead of a database file.",
        ),
    ] = None,
    token: TokenOption = None,
) -> None:
    """Export every session of a project that matches the filters, newest first.

    From the database file as an operator, or with --url from a running server with a token
    (a guest token exports its own sessions only). CSV has the scalar fields (camelCase, as in
    the JSON), then inputs and outputs as JSON text. A progress bar shows on stderr; the file
    appears only once the export is complete.
    """
    filters = session_filters(event, experience, status, mode)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        SessionCount(),
        TimeElapsedColumn(),
        console=err(),
    )

    if url is not None:
        with httpx.Client(
            base_url=url, headers=client_headers(require_token(token)), timeout=httpx.Timeout(30.0)
        ) as http:
            documents = open_server_export(http, project, filters)
            # The server's refusal comes before a file or a progress bar appears.
            first = next(documents, None)
            if first is not None:
                documents = itertools.chain((first,), documents)
            with open_destination(output) as stream, progress:
                writer = SessionWriter(export_format, stream, progress)
                for document in documents:
                    writer.write(document)
                count = writer.finish()
        print_hint(f"Exported {plural(count, 'session')} to {output or 'stdout'}")
        return

    async def export(service: SessionService) -> int:
        # NOT_FOUND rather than an empty export, before a file or a progress bar appears.
        await service.get_project(SYSTEM, project)
        with open_destination(output) as stream, progress:
            return await write_all(
                service, project, filters, SessionWriter(export_format, stream, progress)
            )

    count = run(database, export)
    print_hint(f"Exported {plural(count, 'session')} to {output or 'stdout'}")
