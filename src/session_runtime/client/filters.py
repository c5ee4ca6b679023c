"""The filters the SDK's listing and figures take, declared once, and their query parameters.

``list_sessions`` and ``session_stats`` take their filters as keyword arguments typed by these
``TypedDict``\\ s (PEP 692), so both clients and :mod:`session_runtime.client.operations` share
one declaration and a type checker still knows each name and its type::

    project.list_sessions(status="active", limit=20)
    project.session_stats(experience_id="x1", created_from=monday)

Every filter is optional; one left out, or given as ``None``, does not filter.

>>> query_parameters("list_sessions", {"event_id": "e1", "status": None},
...                  SessionFilters.__optional_keys__, limit=20)
{'eventId': 'e1', 'limit': '20'}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from ..domain.models import Mode, SessionStatus

__all__ = ["SessionFilters", "StatsFilters", "query_parameters"]


class _ProjectFilters(TypedDict, total=False):
    """What both the listing and the figures narrow a project's sessions by."""

    event_id: str | None
    """Only the sessions of this event."""
    experience_id: str | None
    """Only the sessions of this experience."""
    mode: Mode | str | None
    """``preview`` or ``guest``."""


class SessionFilters(_ProjectFilters, total=False):
    """The filters of ``list_sessions``: ``event_id``, ``experience_id``, ``mode`` and
    ``status``."""

    status: SessionStatus | str | None
    """``active``, ``completed``, ``abandoned`` or ``error``."""


class StatsFilters(_ProjectFilters, total=False):
    """The filters of ``session_stats``: ``event_id``, ``experience_id``, ``mode`` (the server
    counts only ``guest`` sessions when it is left out), and ``created_from``/``created_to``."""

    created_from: datetime | None
    """Only the sessions created at or after this moment."""
    created_to: datetime | None
    """Only the sessions created before this moment."""


_WIRE_NAMES = {
    "event_id": "eventId",
    "experience_id": "experienceId",
    "status": "status",
    "mode": "mode",
    "created_from": "from",
    "created_to": "to",
    "limit": "limit",
    "cursor": "cursor",
}
"""Each keyword of the SDK and the query parameter the HTTP API calls it, in the order the
parameters are sent."""


def query_parameters(
    operation: str, filters: Mapping[str, object], declared: frozenset[str], **paging: object
) -> dict[str, str]:
    """The query parameters of ``filters`` (the names ``declared`` by the operation's
    ``TypedDict``) and of its ``paging`` keywords; ``None`` values are left out.

    Filters arrive as ``**kwargs``: a name the operation does not declare is refused here, as
    Python refuses an unexpected keyword, rather than sent or dropped without a word.
    """
    unknown = sorted(filters.keys() - declared)
    if unknown:
        raise TypeError(f"{operation}() got an unexpected keyword argument {unknown[0]!r}")
    given = {**filters, **paging}
    return {
        wire: _wire_value(given[name])
        for name, wire in _WIRE_NAMES.items()
        if given.get(name) is not None
    }


def _wire_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
