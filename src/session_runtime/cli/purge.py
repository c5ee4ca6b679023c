"""``purge``: delete old sessions on purpose, the one way a session is ever deleted.

>>> parse_age("90d")
datetime.timedelta(days=90)
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from .. import SYSTEM
from ..domain.models import Mode
from ..domain.ports import PurgeCount
from ..domain.timestamps import utc_now
from ..service import SessionService
from .console import out, plural, print_hint, print_json, table
from .options import DatabaseOption, JsonOption, ModeFilter, flag, option_without_default
from .runner import run

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_AGE = re.compile(r"(\d+)([smhdw])")


# Older than any session can be (and than the dates the stores keep): beyond it, "now minus
# the age" would not be a date at all.
MAX_AGE = timedelta(days=36_500)


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` as a duration (positive, at most ``MAX_AGE``)."""
    match = _AGE.fullmatch(text.strip())
    if match is None or int(match[1]) == 0:
        raise typer.BadParameter("give a positive age with a unit: 90d, 12h, 30m, 45s or 2w")
    seconds = int(match[1]) * _UNITS[match[2]]
    if seconds > MAX_AGE.total_seconds():
        raise typer.BadParameter(
            f"{text.strip()} is out of range: give at most {MAX_AGE.days}d (100 years)"
        )
    return timedelta(seconds=seconds)


def _counts_json(counts: list[PurgeCount]) -> list[dict[str, object]]:
    return [
        {
            "projectId": c.project_id,
            "mode": c.mode.value,
            "status": c.status.value,
            "count": c.count,
        }
        for c in counts
    ]


def purge(
    older_than: Annotated[
        str,
        option_without_default(
            "--older-than",
            help="Sessions with no update for longer than this: 90d, 12h, 30m, 45s, 2w.",
        ),
    ],
    mode: ModeFilter = None,
    project: Annotated[
        str | None, option_without_default("--project", "-p", help="Only this project's sessions.")
    ] = None,
    dry_run: Annotated[
        bool, flag("--dry-run", help="Print what would be deleted; delete nothing.")
    ] = False,
    yes: Annotated[
        bool, flag("--yes", "-y", help="Delete without asking for confirmation.")
    ] = False,
    database: DatabaseOption = None,
    json_output: JsonOption = False,
) -> None:
    """Delete sessions whose last update is older than --older-than, as retention requires.

    Nothing else ever deletes a session. Prints how many sessions it deleted (or, with
    --dry-run, would delete) per project, mode and status. Without --yes it first counts and
    asks.
    """
    age = parse_age(older_than)
    if not dry_run and not yes:
        counted = run(database, lambda service: _purge(service, age, mode, project, True))
        total = sum(c.count for c in counted)
        if total == 0:
            _report(counted, age, dry_run=True, json_output=json_output)
            return
        _print_table(counted, "Would delete")
        question = "Delete this session?" if total == 1 else f"Delete these {total} sessions?"
        if not typer.confirm(question, err=True):
            # The operator answered, and the answer is done: not a failure (exit 0).
            print_hint("Nothing deleted.")
            return
    counts = run(database, lambda service: _purge(service, age, mode, project, dry_run))
    _report(counts, age, dry_run=dry_run, json_output=json_output)


async def _purge(
    service: SessionService,
    age: timedelta,
    mode: Mode | None,
    project: str | None,
    dry_run: bool,
) -> list[PurgeCount]:
    if project is not None:
        await service.get_project(SYSTEM, project)  # NOT_FOUND for a mistyped id
    return await service.purge_sessions(SYSTEM, age, mode=mode, project_id=project, dry_run=dry_run)


def _print_table(counts: list[PurgeCount], title: str) -> None:
    rows = table("project", "mode", "status", "sessions", title=title)
    for count in counts:
        rows.add_row(count.project_id, count.mode.value, count.status.value, str(count.count))
    out().print(rows)


def _report(counts: list[PurgeCount], age: timedelta, *, dry_run: bool, json_output: bool) -> None:
    total = sum(count.count for count in counts)
    cutoff = (utc_now() - age).isoformat().replace("+00:00", "Z")
    if json_output:
        print_json(
            {"dryRun": dry_run, "updatedBefore": cutoff, "deleted": 0 if dry_run else total,
             "matched": total, "counts": _counts_json(counts)}
        )  # fmt: skip
        return
    verb = "Would delete" if dry_run else "Deleted"
    if counts:
        _print_table(counts, verb)
    print_hint(f"{verb} {plural(total, 'session')} last updated before {cutoff}")
