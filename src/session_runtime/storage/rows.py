"""Rows to domain values and back, the same for every SQL store (both keep timestamps as whole
microseconds and JSON documents as encoded text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain.auth import Role
from ..domain.models import Session
from ..domain.timestamps import from_micros, to_micros
from ..domain.tokens import TokenKind, TokenRecord


def session_to_row(session: Session, inputs_json: str, outputs_json: str) -> tuple[Any, ...]:
    """The values of ``SESSION_COLUMNS``, in order, with the JSON columns already encoded."""
    return (
        session.id,
        session.project_id,
        session.event_id,
        session.experience_id,
        session.mode.value,
        session.config_source.value,
        session.status.value,
        session.current_step_index,
        inputs_json,
        outputs_json,
        session.created_by,
        to_micros(session.created_at),
        to_micros(session.updated_at),
        micros_or_none(session.completed_at),
        session.end_reason,
        session.version,
    )


def token_from_row(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        id=row[0],
        project_id=row[1],
        kind=TokenKind(row[2]),
        token_hash=row[3],
        user=row[4],
        role=None if row[5] is None else Role(row[5]),
        event_id=row[6],
        created_at=from_micros(row[7]),
        revoked_at=None if row[8] is None else from_micros(row[8]),
        expires_at=None if row[9] is None else from_micros(row[9]),
    )


def token_to_row(token: TokenRecord) -> tuple[Any, ...]:
    return (
        token.id,
        token.project_id,
        token.kind.value,
        token.token_hash,
        token.user,
        None if token.role is None else token.role.value,
        token.event_id,
        to_micros(token.created_at),
        micros_or_none(token.revoked_at),
        micros_or_none(token.expires_at),
    )


def part_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """An event or an experience, as keyword arguments for its model."""
    return {"id": row[0], "project_id": row[1], "name": row[2], "created_at": from_micros(row[3])}


def micros_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)
