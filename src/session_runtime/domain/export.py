"""The two export formats, one session at a time: JSON lines and CSV.

Both the server's export route and the command line write these, so a file looks the same
whichever produced it.

>>> header = csv_header()                    # doctest: +SKIP
>>> line = csv_line(session)                 # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Any, Final

import orjson

from .models import Session

__all__ = ["CSV_COLUMNS", "ExportFormat", "csv_header", "csv_line", "json_line"]

CSV_COLUMNS: Final = (
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

    @property
    def media_type(self) -> str:
        return "application/x-ndjson" if self is ExportFormat.JSONL else "text/csv; charset=utf-8"


def json_line(document: dict[str, Any]) -> str:
    """One session's JSON (``Session.to_json()``) and a newline."""
    return orjson.dumps(document).decode() + "\n"


def _csv_text(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def csv_header() -> str:
    return _csv_text(list(CSV_COLUMNS))


def _csv_cell(column: str, value: Any) -> str:
    if column in ("inputs", "outputs"):
        return orjson.dumps(value).decode()
    return "" if value is None else str(value)


def csv_line(document: dict[str, Any]) -> str:
    """One session (``Session.to_json()``) as a CSV record, ``\\r\\n`` ended."""
    return _csv_text([_csv_cell(column, document[column]) for column in CSV_COLUMNS])


def export_line(export_format: ExportFormat, session: Session) -> str:
    document = session.to_json()
    return json_line(document) if export_format is ExportFormat.JSONL else csv_line(document)
