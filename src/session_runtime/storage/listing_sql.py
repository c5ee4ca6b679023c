"""The SQL of a page of sessions (``Store.list_sessions``), the same for both stores but for
the placeholders (see ``reporting_sql.Placeholders``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.ports import SessionQuery
from ..domain.timestamps import to_micros
from .reporting_sql import Placeholders
from .rows import SESSION_COLUMNS


def session_page_sql(query: SessionQuery, style: Callable[[int], str]) -> tuple[str, list[Any]]:
    """The statement and parameters of one keyset page, newest first."""
    place = Placeholders(style)
    where = place.where(
        ("project_id", "=", query.project_id),
        ("event_id", "=", query.event_id),
        ("experience_id", "=", query.experience_id),
        ("status", "=", None if query.status is None else query.status.value),
        ("mode", "=", None if query.mode is None else query.mode.value),
        ("created_by", "=", query.created_by),
    )
    if query.before is not None:
        created_at, session_id = query.before
        where += f" AND (created_at, id) < ({place(to_micros(created_at))}, {place(session_id)})"
    sql = (
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {where} "
        f"ORDER BY created_at DESC, id DESC LIMIT {place(query.limit)}"
    )
    return sql, place.params
