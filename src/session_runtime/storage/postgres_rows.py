"""Rows of the PostgreSQL schema to domain values and back.

The columns and their order are those of the SQLite schema. ``inputs`` and ``outputs`` arrive
already decoded (the connection's ``json`` codec decodes with orjson) and leave as the JSON
text ``encode_checked`` produced, so the size limit is measured on the same bytes as in SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from ..domain.errors import ValidationError
from ..domain.models import ConfigSource, Mode, Project, Session, SessionStatus
from ..domain.timestamps import from_micros, to_micros
from .json_columns import encode_checked
from .rows import micros_or_none

SESSION_COLUMNS: Final = (
    "id, project_id, event_id, experience_id, mode, config_source, status, "
    "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
    "completed_at, end_reason, version"
)
# ``user`` is a reserved word in PostgreSQL.
TOKEN_COLUMNS: Final = (
    'id, project_id, kind, token_hash, "user", role, event_id, created_at, revoked_at, expires_at'
)
PART_COLUMNS: Final = "id, project_id, name, created_at"

JsonTexts = dict[str, str]
"""JSON text by column name (``inputs``, ``outputs``)."""

_MODES = {mode.value: mode for mode in Mode}
_CONFIG_SOURCES = {source.value: source for source in ConfigSource}
_STATUSES = {status.value: status for status in SessionStatus}


def placeholders(count: int, start: int = 1) -> str:
    """``placeholders(3)`` -> ``"$1, $2, $3"``."""
    return ", ".join(f"${index}" for index in range(start, start + count))


def project_from_row(row: Sequence[Any]) -> Project:
    return Project(id=row[0], name=row[1], created_at=from_micros(row[2]))


def session_from_row(row: Sequence[Any]) -> Session:
    return Session.trusted(
        id=row[0],
        project_id=row[1],
        event_id=row[2],
        experience_id=row[3],
        mode=_MODES[row[4]],
        config_source=_CONFIG_SOURCES[row[5]],
        status=_STATUSES[row[6]],
        current_step_index=row[7],
        inputs=row[8],
        outputs=row[9],
        created_by=row[10],
        created_at=from_micros(row[11]),
        updated_at=from_micros(row[12]),
        completed_at=micros_to_datetime(row[13]),
        end_reason=row[14],
        version=row[15],
    )


def micros_to_datetime(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def holds_nul(values: Sequence[Any]) -> bool:
    """Whether a text value holds U+0000, which PostgreSQL's ``text`` cannot store.

    No stored row can match such a key, and no such value can be written.
    """
    return any(type(value) is str and "\x00" in value for value in values)


def refuse_nul(fields: dict[str, str | None]) -> None:
    """Raise ``ValidationError`` naming the first field that holds U+0000."""
    for name, value in fields.items():
        if value is not None and "\x00" in value:
            raise ValidationError.at(name, "must not contain the NUL character (U+0000)")


def session_changes(current: Session, updated: Session) -> tuple[list[str], list[Any], JsonTexts]:
    """The ``SET`` clauses and values that turn ``current`` into ``updated``.

    The JSON columns are sent only when the mutation replaced them (a completion does not
    resend a megabyte of inputs); the size limit is checked on both whenever one changes,
    since the stored session counts both. Also returns the JSON text sent, by column.
    """
    values: list[Any] = [
        updated.status.value,
        updated.current_step_index,
        to_micros(updated.updated_at),
        micros_or_none(updated.completed_at),
        updated.end_reason,
        updated.version,
    ]
    assignments = [
        "status = $1",
        "current_step_index = $2",
        "updated_at = $3",
        "completed_at = $4",
        "end_reason = $5",
        "version = $6",
    ]
    sent: JsonTexts = {}
    is_new_inputs = updated.inputs is not current.inputs
    is_new_outputs = updated.outputs is not current.outputs
    if is_new_inputs or is_new_outputs:
        inputs, outputs = encode_checked(updated.inputs, updated.outputs)
        if is_new_inputs:
            sent["inputs"] = inputs
        if is_new_outputs:
            sent["outputs"] = outputs
        for column, text in sent.items():
            values.append(text)
            assignments.append(f"{column} = ${len(values)}")
    return assignments, values, sent
