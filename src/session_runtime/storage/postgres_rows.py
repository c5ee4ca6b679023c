"""Rows of the PostgreSQL schema: what differs from SQLite's (see ``rows``).

``inputs`` and ``outputs`` leave as the JSON text ``encode_checked`` produced, so the size limit
is measured on the same bytes as in SQLite; only the columns a mutation replaced are sent.
"""

from __future__ import annotations

from typing import Any

from ..domain.models import Session
from ..domain.timestamps import to_micros
from .json_columns import encode_checked
from .rows import micros_or_none

JsonTexts = dict[str, str]
"""JSON text by column name (``inputs``, ``outputs``)."""


def placeholders(count: int, start: int = 1) -> str:
    """``placeholders(3)`` -> ``"$1, $2, $3"``."""
    return ", ".join(f"${index}" for index in range(start, start + count))


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
