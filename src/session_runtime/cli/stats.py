"""``sessions stats``: the funnel of each experience, in the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from .. import SYSTEM
from ..client import AsyncProjectClient
from ..domain.models import Mode
from ..domain.stats import ExperienceFunnel, SessionStats
from ..service import SessionService
from .console import out, plural, print_json, table
from .options import (
    DatabaseOption,
    EventFilter,
    ExperienceFilter,
    JsonOption,
    ProjectOption,
    option_without_default,
)
from .remote import TokenOption, UrlOption, run_on_file_or_server

BAR_WIDTH = 30


def bar(part: int, whole: int) -> str:
    """``█████░░░``: ``part`` of ``whole`` in ``BAR_WIDTH`` cells."""
    filled = round(BAR_WIDTH * part / whole) if whole else 0
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def duration(seconds: float | None) -> str:
    """``4 min 42 s``, ``12 s``, or ``-`` when nothing completed."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def print_funnel(funnel: ExperienceFunnel, name: str) -> None:
    counts = funnel.counts
    total = counts.total
    rows = table("step", "reached", "", "share", title=f"{name}: {plural(total, 'session')}")
    for step in funnel.steps:
        share = f"{100 * step.reached / total:.0f}%" if total else "-"
        rows.add_row(str(step.step_index), str(step.reached), bar(step.reached, total), share)
    out().print(rows)
    out().print(
        f"  completed {counts.completed}, abandoned {counts.abandoned}, error {counts.error}, "
        f"active {counts.active}; median to complete {duration(funnel.median_completion_seconds)}"
    )


def session_stats(
    project: ProjectOption,
    event: EventFilter = None,
    experience: ExperienceFilter = None,
    mode: Annotated[
        Mode, typer.Option("--mode", help="Which sessions count (previews are not analytics).")
    ] = Mode.GUEST,
    since: Annotated[
        datetime | None,
        option_without_default("--from", help="Sessions created at or after (UTC)."),
    ] = None,
    until: Annotated[
        datetime | None, option_without_default("--to", help="Sessions created before (UTC).")
    ] = None,
    database: DatabaseOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the funnel of each experience: sessions that reached each step, how they ended,
    the median time to complete (the same figures as GET /v1/projects/{p}/stats).

    With --url, that server's figures (a member token; experiences named by id)."""
    query = {
        "eventId": event,
        "experienceId": experience,
        "mode": mode,
        "from": None if since is None else _as_utc(since),
        "to": None if until is None else _as_utc(until),
    }

    async def load(service: SessionService) -> tuple[SessionStats, dict[str, str]]:
        stats = await service.session_stats(
            SYSTEM, project, {key: value for key, value in query.items() if value is not None}
        )
        names = {x.id: x.name for x in await service.list_experiences(SYSTEM, project)}
        return stats, names

    async def load_remote(client: AsyncProjectClient) -> tuple[SessionStats, dict[str, str]]:
        stats = await client.session_stats(
            event_id=event,
            experience_id=experience,
            mode=mode,
            created_from=None if since is None else _utc(since),
            created_to=None if until is None else _utc(until),
        )
        return stats, {}

    stats, names = run_on_file_or_server(database, url, token, project, load, load_remote)
    if json_output:
        print_json(stats.model_dump(mode="json", by_alias=True))
        return
    if not stats.experiences:
        out().print(f"No {mode.value} sessions match.")
        return
    for funnel in stats.experiences:
        print_funnel(funnel, names.get(funnel.experience_id, funnel.experience_id))
        out().print()


def _utc(moment: datetime) -> datetime:
    """A date from the command line, read as UTC when it names no zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _as_utc(moment: datetime) -> str:
    """A date from the command line, read as UTC when it names no zone."""
    if moment.tzinfo is None:
        return moment.isoformat() + "Z"
    return moment.isoformat()
