"""``sessions export``: every matching session, as JSON lines or CSV, page after page.

Pages come from ``list_sessions`` with its keyset cursor (newest first), so sessions created
while an export runs do not shift the pages it has yet to read. A file is written beside its
destination and renamed into place at the end: a failed export leaves no half a file.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol, TextIO

import orjson
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .. import SYSTEM
from ..domain.models import ListSessionsInput, Session
from ..service import SessionService
from .console import err, print_hint
from .options import (
    DatabaseOption,
    EventFilter,
    ExperienceFilter,
    ModeFilter,
    ProjectOption,
    StatusFilter,
    session_filters,
)
from .runner import run

PAGE_SIZE = 500  # the largest page list_sessions gives

CSV_COLUMNS = (
    "id",
    "projectId",
    "eventId",
    "experienceId",
    "mode",
    "configSource",
    "status",
    "currentStepIndex",
    "createdBy",
    "createdAt",
    "updatedAt",
    "completedAt",
    "endReason",
    "version",
    "inputs",
    "outputs",
)
"""The scalar fields as JSON names them (an empty cell for null), then inputs and outputs as
JSON text."""


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class SessionWriter(Protocol):
    def write(self, session: Session) -> None: ...


class JsonLinesWriter:
    """One session per line, as the API's JSON."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, session: Session) -> None:
        self.stream.write(orjson.dumps(session.to_json()).decode())
        self.stream.write("\n")


class CsvWriter:
    """A header, then one row per session: ``CSV_COLUMNS``."""

    def __init__(self, stream: TextIO) -> None:
        self.rows = csv.writer(stream)
        self.rows.writerow(CSV_COLUMNS)

    def write(self, session: Session) -> None:
        document = session.to_json()
        self.rows.writerow([csv_cell(column, document[column]) for column in CSV_COLUMNS])


def csv_cell(column: str, value: Any) -> str:
    if column in ("inputs", "outputs"):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def writer_for(export_format: ExportFormat, stream: TextIO) -> SessionWriter:
    if export_format is ExportFormat.CSV:
        return CsvWriter(stream)
    return JsonLinesWriter(stream)


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
    progress: Progress,
) -> int:
    """Write every session that matches ``filters``; return how many."""
    task = progress.add_task("Exporting", total=None)
    count = 0
    cursor: str | None = None
    while True:
        query = ListSessionsInput.model_validate({**filters, "limit": PAGE_SIZE, "cursor": cursor})
        page = await service.list_sessions(SYSTEM, project_id, query)
        for session in page.items:
            writer.write(session)
        count += len(page.items)
        progress.update(task, completed=count)
        if page.next_cursor is None:
            progress.update(task, total=count)
            return count
        cursor = page.next_cursor


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
) -> None:
    """Export every session of a project that matches the filters, newest first.

    CSV has the scalar fields (camelCase, as in the JSON), then inputs and outputs as JSON
    text. A progress bar shows on stderr; the file appears only once the export is complete.
    """
    filters = session_filters(event, experience, status, mode)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} sessions"),
        TimeElapsedColumn(),
        console=err(),
    )

    async def export(service: SessionService) -> int:
        # NOT_FOUND rather than an empty export, before a file or a progress bar appears.
        await service.get_project(SYSTEM, project)
        with open_destination(output) as stream, progress:
            return await write_all(
                service, project, filters, writer_for(export_format, stream), progress
            )

    count = run(database, export)
    print_hint(f"Exported {count} sessions to {output or 'stdout'}")
