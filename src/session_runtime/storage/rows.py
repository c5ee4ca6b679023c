"""Rows to domain values and back, the same for every SQL store (both keep timestamps as whole
microseconds, and the same columns in the same order).

A session's JSON columns leave as the text ``encode_checked`` produced; they come back as that
text (SQLite) or already decoded (PostgreSQL's ``json`` codec decodes with orjson):
``session_from_row`` takes either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import orjson

from ..domain.auth import Role
from ..domain.models import ConfigSource, Mode, Project, Session, SessionStatus
from ..domain.timestamps import from_micros, to_micros
from ..domain.tokens import TokenKind, TokenRecord

SESSION_COLUMNS: Final = (
    "id, project_id, event_id, experience_id, mode, config_source, status, "
    "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
    "completed_at, end_reason, version"
)
INPUTS_COLUMN, OUTPUTS_COLUMN = 8, 9
PART_COLUMNS: Final = "id, project_id, name, created_at"
# ``user`` is a reserved word in PostgreSQL; SQLite reads the quoted name alike.
TOKEN_COLUMNS: Final = (
    'id, project_id, kind, token_hash, "user", role, event_id, created_at, revoked_at, expires_at'
)
TOKEN_INSERT: Final = f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ({', '.join('?' * 10)})"
"""With ``?`` placeholders (see ``sql_plan``)."""

RecordT = TypeVar("RecordT")

_MODES = {mode.value: mode for mode in Mode}
_CONFIG_SOURCES = {source.value: source for source in ConfigSource}
_STATUSES = {status.value: status for status in SessionStatus}


def session_from_row(row: Sequence[Any]) -> Session:
    """The session a row of ``SESSION_COLUMNS`` holds, whichever store read it."""
    return Session.trusted(
        id=row[0],
        project_id=row[1],
        event_id=row[2],
        experience_id=row[3],
        mode=_MODES[row[4]],
        config_source=_CONFIG_SOURCES[row[5]],
        status=_STATUSES[row[6]],
        current_step_index=row[7],
        inputs=_json_object(row[8]),
        outputs=_json_object(row[9]),
        created_by=row[10],
        created_at=from_micros(row[11]),
        updated_at=from_micros(row[12]),
        completed_at=datetime_or_none(row[13]),
        end_reason=row[14],
        version=row[15],
    )


def _json_object(column: Any) -> Any:
    # ``inputs`` and ``outputs`` are always objects, so text can only be their encoded JSON.
    return orjson.loads(column) if type(column) is str else column


def project_from_row(row: Sequence[Any]) -> Project:
    return Project(id=row[0], name=row[1], created_at=from_micros(row[2]))


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
        revoked_at=datetime_or_none(row[8]),
        expires_at=datetime_or_none(row[9]),
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


def datetime_or_none(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


class RowMapping(Generic[RecordT]):
    """A record kind whose attributes are its columns, by the same names and in one order.

    The column list and both directions of the mapping come from one declaration, so they
    cannot drift apart. Values pass as they are, but for the timestamps named in ``moments``
    (whole microseconds) and ``optional_moments`` (the same, or ``NULL``).

    >>> mapping = RowMapping(Project, "id, name, created_at", moments=("created_at",))
    >>> mapping.columns
    'id, name, created_at'
    """

    def __init__(
        self,
        record: Callable[..., RecordT],
        columns: str,
        *,
        moments: Sequence[str] = (),
        optional_moments: Sequence[str] = (),
    ) -> None:
        self.record = record
        self.columns = columns
        self.names = tuple(columns.split(", "))
        self.count = len(self.names)
        unknown = (set(moments) | set(optional_moments)) - set(self.names)
        if unknown:
            raise ValueError(f"not among the columns: {sorted(unknown)}")
        self._to_sql: list[Callable[[Any], Any]] = []
        self._from_sql: list[Callable[[Any], Any]] = []
        for name in self.names:
            if name in moments:
                self._to_sql.append(to_micros)
                self._from_sql.append(from_micros)
            elif name in optional_moments:
                self._to_sql.append(micros_or_none)
                self._from_sql.append(datetime_or_none)
            else:
                self._to_sql.append(_as_is)
                self._from_sql.append(_as_is)

    def insert_sql(self, table: str, style: Callable[[int], str]) -> str:
        """``INSERT`` of one row into ``table``, with the placeholders of ``style``."""
        marks = ", ".join(style(position) for position in range(1, self.count + 1))
        return f"INSERT INTO {table} ({self.columns}) VALUES ({marks})"

    def to_row(self, record: RecordT) -> tuple[Any, ...]:
        """The values of ``columns``, in order."""
        return tuple(
            convert(getattr(record, name))
            for name, convert in zip(self.names, self._to_sql, strict=True)
        )

    def from_row(self, row: Sequence[Any]) -> RecordT:
        """The record a row of ``columns`` holds."""
        return self.record(
            **{
                name: convert(value)
                for name, convert, value in zip(self.names, self._from_sql, row, strict=True)
            }
        )


def _as_is(value: Any) -> Any:
    return value
