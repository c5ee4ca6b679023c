"""Rows of the SQLite schema to domain values and back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson

from ..domain.models import ConfigSource, Mode, Session, SessionStatus
from ..domain.timestamps import from_micros

SESSION_COLUMNS: Final = (
    "id, project_id, event_id, experience_id, mode, config_source, status, "
    "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
    "completed_at, end_reason, version"
)
INPUTS_COLUMN, OUTPUTS_COLUMN = 8, 9
TOKEN_COLUMNS: Final = (
    "id, project_id, kind, token_hash, user, role, event_id, created_at, revoked_at, expires_at"
)
PART_COLUMNS: Final = "id, project_id, name, created_at"

_MODES = {mode.value: mode for mode in Mode}
_CONFIG_SOURCES = {source.value: source for source in ConfigSource}
_STATUSES = {status.value: status for status in SessionStatus}


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
        inputs=orjson.loads(row[8]),
        outputs=orjson.loads(row[9]),
        created_by=row[10],
        created_at=from_micros(row[11]),
        updated_at=from_micros(row[12]),
        completed_at=None if row[13] is None else from_micros(row[13]),
        end_reason=row[14],
        version=row[15],
    )
