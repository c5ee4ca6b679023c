"""The SQL both stores run for the funnel, the sweeper and retention, and its indexes.

SQLite and PostgreSQL read the same statements; only the placeholders differ (``?`` against
``$1``), so a ``Placeholders`` hands them out in order. The funnel's statements are a plan
(``sql_plan``) that each store runs on its own connections.

The funnel never loads a session: the counts are one ``GROUP BY`` over a covering index
(``sessions_funnel``, in the order of the grouping), and the median time to complete is read at
the middle of ``sessions_completion``, which holds completed sessions in order of that time:
the store skips half the matching entries instead of sorting them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from ..domain.models import Mode
from ..domain.ports import PurgeCount, PurgeQuery, StatsQuery
from ..domain.state import SessionStatus
from ..domain.stats import StatsAggregate, StatsCount
from ..domain.timestamps import to_micros
from .rows import micros_or_none
from .sql_plan import Plan, Statement

REPORTING_INDEXES: Final[tuple[str, ...]] = (
    # Covers the funnel's counts: grouped in index order, filtered without reading a row.
    "CREATE INDEX sessions_funnel ON sessions "
    "(project_id, mode, experience_id, status, current_step_index, event_id, created_at)",
    # The median time to complete: the middle of this index's range, without a sort.
    # ``completed_at`` comes last only so PostgreSQL reads the range index-only: it does so
    # for an expression only when every column the expression reads is in the index (without
    # it, each entry skipped cost a table read: 210 ms against 8 ms for 35,000 entries).
    "CREATE INDEX sessions_completion ON sessions (project_id, mode, experience_id, status, "
    "(completed_at - created_at), event_id, created_at, completed_at)",
    # What the sweeper looks for: active sessions, least recently updated first.
    "CREATE INDEX sessions_active_by_update ON sessions (updated_at) WHERE status = 'active'",
    # What retention deletes, and what a change listener catches up on.
    "CREATE INDEX sessions_by_update ON sessions (updated_at)",
)
"""Schema version 3 on both stores."""

PURGE_BATCH: Final = 5000
"""Sessions deleted per transaction: a purge never holds the writer for long."""


class Placeholders:
    """Collects parameters and writes each one's placeholder: ``?`` or ``$n``."""

    def __init__(self, style: Callable[[int], str]) -> None:
        self.style = style
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return self.style(len(self.params))

    def where(self, *conditions: tuple[str, str, Any]) -> str:
        """``column operator value`` for each ``(column, operator, value)`` whose value is not
        ``None``, joined by ``AND``: the optional filters of a query, in one place."""
        return " AND ".join(
            f"{column} {operator} {self(value)}"
            for column, operator, value in conditions
            if value is not None
        )


def qmark(_: int) -> str:
    return "?"


def numbered(position: int) -> str:
    return f"${position}"


def _stats_filter(query: StatsQuery, place: Placeholders) -> str:
    return place.where(
        ("project_id", "=", query.project_id),
        ("mode", "=", query.mode.value),
        ("experience_id", "=", query.experience_id),
        ("event_id", "=", query.event_id),
        ("created_at", ">=", micros_or_none(query.created_from)),
        ("created_at", "<", micros_or_none(query.created_to)),
    )


def stats_counts_sql(query: StatsQuery, style: Callable[[int], str]) -> tuple[str, list[Any]]:
    """``experience_id, status, current_step_index, count`` for every group that has sessions."""
    place = Placeholders(style)
    sql = (
        "SELECT experience_id, status, current_step_index, count(*) FROM sessions "
        f"WHERE {_stats_filter(query, place)} "
        "GROUP BY experience_id, status, current_step_index"
    )
    return sql, place.params


def median_sql(
    query: StatsQuery, experience_id: str, completed: int, style: Callable[[int], str]
) -> tuple[str, list[Any]]:
    """The one or two middle durations (microseconds) of ``completed`` completed sessions."""
    place = Placeholders(style)
    narrowed = replace(query, experience_id=experience_id)
    where = _stats_filter(narrowed, place)
    status = place(SessionStatus.COMPLETED.value)
    limit = place(2 - completed % 2)
    offset = place((completed - 1) // 2)
    sql = (
        "SELECT completed_at - created_at FROM sessions "
        f"WHERE {where} AND status = {status} "
        f"ORDER BY completed_at - created_at LIMIT {limit} OFFSET {offset}"
    )
    return sql, place.params


def counts_from_rows(rows: list[Any]) -> list[StatsCount]:
    return [
        StatsCount(
            experience_id=row[0],
            status=SessionStatus(row[1]),
            step_index=int(row[2]),
            count=int(row[3]),
        )
        for row in rows
    ]


def completed_per_experience(counts: list[StatsCount]) -> dict[str, int]:
    """How many completed sessions each experience has: the size of its median's range."""
    completed: dict[str, int] = {}
    for row in counts:
        if row.status is SessionStatus.COMPLETED:
            completed[row.experience_id] = completed.get(row.experience_id, 0) + row.count
    return completed


def session_stats_plan(query: StatsQuery) -> Plan[StatsAggregate]:
    """The funnel, whatever reads the rows (``sql_plan``): the counts, then each experience's
    median."""
    counts = counts_from_rows((yield Statement(*stats_counts_sql(query, qmark))))
    medians = {}
    for experience_id, count in completed_per_experience(counts).items():
        median = median_sql(query, experience_id, count, qmark)
        durations = [row[0] for row in (yield Statement(*median))]
        if durations:
            medians[experience_id] = median_seconds(durations)
    return StatsAggregate(counts, medians)


def median_seconds(durations: list[Any]) -> float:
    """The median of the one or two middle values, in seconds."""
    return sum(int(value) for value in durations) / len(durations) / 1_000_000


def stale_sql(
    style: Callable[[int], str], updated_before: int, limit: int
) -> tuple[str, list[Any]]:
    place = Placeholders(style)
    sql = (
        "SELECT project_id, id FROM sessions "
        f"WHERE status = 'active' AND updated_at < {place(updated_before)} "
        f"ORDER BY updated_at LIMIT {place(limit)}"
    )
    return sql, place.params


def purge_filter(query: PurgeQuery, place: Placeholders) -> str:
    return place.where(
        ("updated_at", "<", to_micros(query.updated_before)),
        ("mode", "=", None if query.mode is None else query.mode.value),
        ("project_id", "=", query.project_id),
    )


def purge_count_sql(query: PurgeQuery, style: Callable[[int], str]) -> tuple[str, list[Any]]:
    """What a dry run reports: the matching sessions, counted per project, mode and status."""
    place = Placeholders(style)
    sql = (
        "SELECT project_id, mode, status, count(*) FROM sessions "
        f"WHERE {purge_filter(query, place)} GROUP BY project_id, mode, status"
    )
    return sql, place.params


class PurgeTally:
    """Adds up what the batches of a purge deleted."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}

    def add(self, project_id: str, mode: str, status: str, count: int = 1) -> None:
        key = (project_id, mode, status)
        self.counts[key] = self.counts.get(key, 0) + count

    @classmethod
    def counted(cls, rows: list[Any]) -> list[PurgeCount]:
        """What a dry run reports, from the rows of ``purge_count_sql``."""
        tally = cls()
        for project_id, mode, status, count in rows:
            tally.add(project_id, mode, status, count)
        return tally.result()

    def result(self) -> list[PurgeCount]:
        return [
            PurgeCount(
                project_id=project_id, mode=Mode(mode), status=SessionStatus(status), count=count
            )
            for (project_id, mode, status), count in sorted(self.counts.items())
        ]
