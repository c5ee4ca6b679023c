"""Funnel figures: per experience, how many sessions reached each step and how they ended.

The store aggregates (counts grouped by experience, status and step; the median time to
complete); ``build_stats`` turns those few rows into the funnel, so no session is ever loaded
to compute it. A session at step ``k`` has reached every step ``0..k``.

>>> rows = [
...     StatsCount("x1", SessionStatus.COMPLETED, 2, 3),
...     StatsCount("x1", SessionStatus.ACTIVE, 0, 1),
... ]
>>> stats = build_stats("p1", StatsInput(), StatsAggregate(rows, {"x1": 42.0}))
>>> [step.reached for step in stats.experiences[0].steps]
[4, 3, 3]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, model_validator
from pydantic.alias_generators import to_camel

from .ids import MAX_ID_LENGTH
from .models import Mode
from .state import SessionStatus

__all__ = [
    "ExperienceFunnel",
    "SessionStats",
    "StatsAggregate",
    "StatsCount",
    "StatsInput",
    "StatusCounts",
    "StepReach",
    "build_stats",
]

_Identifier = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class StatsInput(_Model):
    """Which sessions count: ``mode`` defaults to ``guest`` (previews are not analytics);
    ``from_``/``to`` bound ``createdAt`` (``from`` inclusive, ``to`` exclusive)."""

    event_id: _Identifier | None = None
    experience_id: _Identifier | None = None
    mode: Mode = Mode.GUEST
    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check_range(self) -> StatsInput:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self


@dataclass(frozen=True, slots=True)
class StatsCount:
    """One row of the store's aggregation: how many sessions share these three values."""

    experience_id: str
    status: SessionStatus
    step_index: int
    count: int


@dataclass(frozen=True, slots=True)
class StatsAggregate:
    """What a store computes: the counts, and per experience the median seconds from
    ``createdAt`` to ``completedAt`` of its completed sessions (absent when none)."""

    counts: list[StatsCount]
    median_seconds: dict[str, float] = field(default_factory=dict)


class StatusCounts(_Model):
    total: int = 0
    active: int = 0
    completed: int = 0
    abandoned: int = 0
    error: int = 0


class StepReach(_Model):
    step_index: int
    reached: int


class ExperienceFunnel(_Model):
    experience_id: str
    counts: StatusCounts
    steps: list[StepReach]
    median_completion_seconds: float | None = None


class SessionStats(_Model):
    project_id: str
    mode: Mode
    event_id: str | None = None
    experience_id: str | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    totals: StatusCounts
    experiences: list[ExperienceFunnel]


def _status_counts(by_status: dict[SessionStatus, int]) -> StatusCounts:
    return StatusCounts(
        total=sum(by_status.values()),
        **{status.value: count for status, count in by_status.items()},
    )


MAX_DENSE_STEPS = 256
"""Up to this step every index is listed; past it (a client wrote a huge index) only the
indices some session is at, so a funnel stays small whatever was written."""


def _step_indices(steps: dict[int, int]) -> list[int]:
    """The step indices of a funnel, highest first."""
    highest = max(steps)
    if highest < MAX_DENSE_STEPS:
        return list(range(highest, -1, -1))
    return sorted({0, *range(min(highest, MAX_DENSE_STEPS)), *steps}, reverse=True)


def build_stats(project_id: str, query: StatsInput, aggregate: StatsAggregate) -> SessionStats:
    """The funnel of every experience in ``aggregate``, ordered by experience id."""
    by_status: dict[str, dict[SessionStatus, int]] = defaultdict(lambda: defaultdict(int))
    at_step: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in aggregate.counts:
        by_status[row.experience_id][row.status] += row.count
        at_step[row.experience_id][row.step_index] += row.count
    totals: dict[SessionStatus, int] = defaultdict(int)
    funnels = []
    for experience_id in sorted(by_status):
        for status, count in by_status[experience_id].items():
            totals[status] += count
        steps = at_step[experience_id]
        reached, running = [], 0
        for step_index in _step_indices(steps):
            running += steps.get(step_index, 0)
            reached.append(StepReach(step_index=step_index, reached=running))
        funnels.append(
            ExperienceFunnel(
                experience_id=experience_id,
                counts=_status_counts(by_status[experience_id]),
                steps=reached[::-1],
                median_completion_seconds=aggregate.median_seconds.get(experience_id),
            )
        )
    return SessionStats(
        project_id=project_id,
        **query.model_dump(),  # the figures say which sessions they count
        totals=_status_counts(totals),
        experiences=funnels,
    )
