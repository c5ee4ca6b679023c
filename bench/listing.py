"""Listing cost against project size: a page of 100 with 10,000 vs 1,000,000 sessions.

Run with ``make bench`` (or ``python bench/listing.py``). For each store, two projects in one
database: a small one and a large one. Sessions are written straight into the table (the
service would take minutes for a million); then the service lists a page of 100, newest first:
the first page, and a page from the middle reached through a keyset cursor. Each figure is the
median of ``--repeat`` calls after a warm-up; the ratio large / small is the figure that
matters (an index walk should not care how many rows sit behind the page).

PostgreSQL is measured when ``DATABASE_URL`` is set or a throwaway cluster can be started
(``tests/support/postgres.py``); ``--stores sqlite`` skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from session_runtime import SYSTEM, SessionRuntime, SessionService
from session_runtime.domain.timestamps import to_micros, utc_now
from session_runtime.domain.tokens import new_id
from store_postgres import postgres_dsn

_PAGE = 100


async def _catalog(service: SessionService, name: str) -> tuple[str, str, str]:
    project = await service.create_project(SYSTEM, {"name": name})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "e"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "x"})
    return project.id, event.id, experience.id


def _rows(project: str, event: str, experience: str, count: int) -> list[tuple[object, ...]]:
    start = to_micros(utc_now()) - count * 1000
    statuses = ("active", "completed", "abandoned", "error")
    rows: list[tuple[object, ...]] = []
    for i in range(count):
        created = start + i * 1000
        row = (new_id(), project, event, experience, "guest", "published", statuses[i % 4])
        rows.append((*row, i % 7, f'{{"answer":{i}}}', "{}", "guest:bench", created, created))
    return [(*row, None, None, 1) for row in rows]


async def _time_pages(service: SessionService, project_id: str, repeat: int) -> tuple[float, float]:
    """Median milliseconds of the first page and of a page from the middle."""
    middle_cursor = None
    page = await service.list_sessions(SYSTEM, project_id, {"limit": _PAGE})
    # Walk to roughly the middle with large pages, to get a cursor deep in the index.
    total_pages = 0
    cursor = page.next_cursor
    while cursor is not None and total_pages < 20:
        step = await service.list_sessions(SYSTEM, project_id, {"limit": 500, "cursor": cursor})
        cursor = step.next_cursor
        total_pages += 1
        middle_cursor = cursor or middle_cursor

    async def timed(call: Callable[[], Awaitable[object]]) -> float:
        for _ in range(5):
            await call()
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    first = await timed(lambda: service.list_sessions(SYSTEM, project_id, {"limit": _PAGE}))
    middle_query = {"limit": _PAGE, "cursor": middle_cursor} if middle_cursor else {"limit": _PAGE}
    middle = await timed(lambda: service.list_sessions(SYSTEM, project_id, middle_query))
    return first, middle


async def measure_sqlite(folder: Path, small: int, large: int, repeat: int) -> list[str]:
    path = folder / "listing.db"
    async with SessionRuntime.sqlite(path) as runtime:
        projects = [await _catalog(runtime.service, f"p{n}") for n in (small, large)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for (project, event, experience), count in zip(projects, (small, large), strict=True):
        conn.executemany(
            "INSERT INTO sessions (id, project_id, event_id, experience_id, mode, "
            "config_source, status, current_step_index, inputs, outputs, created_by, "
            "created_at, updated_at, completed_at, end_reason, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _rows(project, event, experience, count),
        )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    async with SessionRuntime.sqlite(path) as runtime:
        timings = [await _time_pages(runtime.service, p[0], repeat) for p in projects]
    return _report_rows("SQLite", small, large, timings)


async def measure_postgres(dsn: str, small: int, large: int, repeat: int) -> list[str]:
    runtime = SessionRuntime.postgres(dsn)
    async with runtime:
        projects = [await _catalog(runtime.service, f"p{n}") for n in (small, large)]
        conn = await asyncpg.connect(dsn)
        try:
            # Bulk rows need no change notices: replica mode skips the triggers.
            await conn.execute("SET session_replication_role = replica")
            for (project, event, experience), count in zip(projects, (small, large), strict=True):
                # Generated on the server: a million rows in seconds.
                await conn.execute(
                    """
                    INSERT INTO sessions (id, project_id, event_id, experience_id, mode,
                        config_source, status, current_step_index, inputs, outputs,
                        created_by, created_at, updated_at, completed_at, end_reason, version)
                    SELECT md5(random()::text || i), $1, $2, $3, 'guest', 'published',
                        (ARRAY['active','completed','abandoned','error'])[1 + i % 4], i % 7,
                        json_build_object('answer', i), '{}'::json, 'guest:bench',
                        $4::bigint + i * 1000, $4::bigint + i * 1000, NULL, NULL, 1
                    FROM generate_series(1, $5) AS i
                    """,
                    project,
                    event,
                    experience,
                    to_micros(utc_now()) - count * 1000,
                    count,
                )
            await conn.execute("ANALYZE sessions")
            timings = [await _time_pages(runtime.service, p[0], repeat) for p in projects]
            await conn.execute(
                "DELETE FROM sessions WHERE project_id = ANY($1)", [p[0] for p in projects]
            )
        finally:
            await conn.close()
    return _report_rows("PostgreSQL", small, large, timings)


def _report_rows(
    store: str, small: int, large: int, timings: list[tuple[float, float]]
) -> list[str]:
    (small_first, small_middle), (large_first, large_middle) = timings
    return [
        f"| {store} | first page | {small_first:.2f} ms | {large_first:.2f} ms | "
        f"{large_first / small_first:.2f}x |",
        f"| {store} | a page from the middle (cursor) | {small_middle:.2f} ms | "
        f"{large_middle:.2f} ms | {large_middle / small_middle:.2f}x |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgres")
    args = parser.parse_args()
    stores = set(args.stores.split(","))
    rows: list[str] = []
    started = time.perf_counter()
    if "sqlite" in stores:
        with tempfile.TemporaryDirectory(prefix="bench-listing-") as tmp:
            rows += asyncio.run(measure_sqlite(Path(tmp), args.small, args.large, args.repeat))
    if "postgres" in stores:
        with postgres_dsn() as dsn:
            rows += asyncio.run(measure_postgres(dsn, args.small, args.large, args.repeat))
    print(f"a page of {_PAGE}, median of {args.repeat} calls through the service\n")
    print(f"| store | page | {args.small:,} sessions | {args.large:,} sessions | ratio |")
    print("| --- | --- | ---: | ---: | ---: |")
    print("\n".join(rows))
    print(f"\ntotal run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
