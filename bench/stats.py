"""Funnel figures over a million sessions: ``session_stats`` on SQLite and on PostgreSQL.

Run with ``make bench`` (or ``python bench/stats.py --sessions 1000000 --store both``). One
project of ``--sessions`` sessions is written straight into the store's own table, in the row
format of ``storage/rows.py`` (the service would take an hour for a million): 6 experiences,
10 events, 90% guest and 10% preview, 55% completed (at the last of 10 steps), 25% abandoned,
5% error and 15% still active (at steps 0..9, fewer at each later step), created over 90 days,
completed seconds to minutes after they started. The table's secondary indexes are dropped
before the rows go in and rebuilt after from the schema's own definitions (sorting once is
minutes faster than a million inserts into ten indexes); a freshly built index is more compact
than one grown row by row, which flatters scans a little.

Then the service (``SYSTEM`` principal) computes five funnels, best of ``--rounds`` calls:
the whole project (mode guest, the default), one experience, one event, a 7-day window, and
mode preview. The baseline, measured in the same run, is what the database saves us: the same
filter, every matching session's experience, status, step and timestamps loaded into Python
and counted there, best of 2. The baseline's figures must equal the service's, or the run
fails.

PostgreSQL is a throwaway cluster (``tests/support/postgres.py``, ``fsync=off``) unless
``DATABASE_URL`` names a server; the rows go in by ``COPY``, then ``VACUUM ANALYZE`` so that
the funnel's covering index is read without visiting the table.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from session_runtime import SYSTEM, SessionRuntime, SessionService
from session_runtime.domain.state import SessionStatus
from session_runtime.domain.stats import (
    SessionStats,
    StatsAggregate,
    StatsCount,
    StatsInput,
    build_stats,
)
from session_runtime.domain.timestamps import from_micros, to_micros, utc_now
from session_runtime.domain.tokens import new_id
from session_runtime.storage.rows import SESSION_COLUMNS
from store_postgres import postgres_dsn

EXPERIENCES = 6
EVENTS = 10
STEPS = 10
DAYS = 90
BATCH = 50_000
TARGET_MS = 500.0
SECOND = 1_000_000
DAY = 86_400 * SECOND
COLUMNS = [column.strip() for column in SESSION_COLUMNS.split(",")]


@dataclass(frozen=True)
class Catalog:
    project_id: str
    event_ids: list[str]
    experience_ids: list[str]
    now: int


async def _catalog(service: SessionService) -> Catalog:
    project = await service.create_project(SYSTEM, {"name": "funnel bench"})
    events = [
        await service.create_event(SYSTEM, {"projectId": project.id, "name": f"event {n}"})
        for n in range(EVENTS)
    ]
    experiences = [
        await service.create_experience(SYSTEM, {"projectId": project.id, "name": f"exp {n}"})
        for n in range(EXPERIENCES)
    ]
    return Catalog(
        project.id,
        [event.id for event in events],
        [experience.id for experience in experiences],
        to_micros(utc_now()),
    )


def session_batches(catalog: Catalog, count: int, seed: int = 5) -> Iterator[list[tuple[Any, ...]]]:
    """Rows in the order of ``SESSION_COLUMNS`` (that of ``session_to_row``), ``BATCH`` at a
    time, so a million never sit in memory at once."""
    rng = random.Random(seed)
    batch: list[tuple[Any, ...]] = []
    for index in range(count):
        draw = rng.random()
        if draw < 0.55:
            status, step = "completed", STEPS - 1
        else:
            status = "abandoned" if draw < 0.80 else "error" if draw < 0.85 else "active"
            # Guests give up along the way: fewer sessions at every later step.
            step = min(int(rng.expovariate(0.35)), STEPS - 1)
        created = catalog.now - rng.randrange(DAYS * DAY)
        # Seconds to minutes: a median near two minutes, rarely past ten.
        took = max(3 * SECOND, int(rng.lognormvariate(math.log(120), 0.7) * SECOND))
        updated = created + (took if status != "active" else rng.randrange(took))
        batch.append(
            (
                new_id(),
                catalog.project_id,
                catalog.event_ids[rng.randrange(EVENTS)],
                catalog.experience_ids[rng.randrange(EXPERIENCES)],
                "preview" if rng.random() < 0.10 else "guest",
                "published",
                status,
                step,
                f'{{"profile":{{"name":"guest {index}"}}}}',
                "{}",
                "guest:bench",
                created,
                updated,
                updated if status == "completed" else None,
                {"abandoned": "no update for 30 minutes", "error": "render failed"}.get(status),
                step + (1 if status == "active" else 2),
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _cases(catalog: Catalog) -> list[tuple[str, dict[str, str]]]:
    window_end = from_micros(catalog.now) - timedelta(days=30)
    return [
        ("whole project (mode guest)", {}),
        ("one experience", {"experienceId": catalog.experience_ids[0]}),
        ("one event", {"eventId": catalog.event_ids[0]}),
        (
            "7-day window (from/to)",
            {
                "from": (window_end - timedelta(days=7)).isoformat(),
                "to": window_end.isoformat(),
            },
        ),
        ("mode preview", {"mode": "preview"}),
    ]


def baseline_sql(
    project_id: str, filters: StatsInput, style: Callable[[int], str]
) -> tuple[str, list[Any]]:
    """The baseline's read: the five columns of every matching session."""
    params: list[Any] = []

    def place(value: Any) -> str:
        params.append(value)
        return style(len(params))

    clauses = [f"project_id = {place(project_id)}", f"mode = {place(filters.mode.value)}"]
    if filters.experience_id is not None:
        clauses.append(f"experience_id = {place(filters.experience_id)}")
    if filters.event_id is not None:
        clauses.append(f"event_id = {place(filters.event_id)}")
    if filters.from_ is not None:
        clauses.append(f"created_at >= {place(to_micros(filters.from_))}")
    if filters.to is not None:
        clauses.append(f"created_at < {place(to_micros(filters.to))}")
    sql = (
        "SELECT experience_id, status, current_step_index, created_at, completed_at "
        f"FROM sessions WHERE {' AND '.join(clauses)}"
    )
    return sql, params


def count_in_python(
    project_id: str, filters: StatsInput, rows: Sequence[Sequence[Any]]
) -> SessionStats:
    """The funnel from loaded rows: what the store would do without SQL aggregation."""
    counts: dict[tuple[str, str, int], int] = defaultdict(int)
    durations: dict[str, list[int]] = defaultdict(list)
    for experience_id, status, step, created_at, completed_at in rows:
        counts[(experience_id, status, step)] += 1
        if status == "completed":
            durations[experience_id].append(completed_at - created_at)
    medians = {}
    for experience_id, values in durations.items():
        values.sort()
        middle = values[(len(values) - 1) // 2 : len(values) // 2 + 1]
        medians[experience_id] = sum(middle) / len(middle) / SECOND
    aggregate = StatsAggregate(
        [StatsCount(x, SessionStatus(s), int(k), n) for (x, s, k), n in counts.items()], medians
    )
    return build_stats(project_id, filters, aggregate)


async def best_ms(rounds: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The fastest of ``rounds`` calls, in milliseconds, and the last result."""
    best, result = math.inf, None
    for _ in range(rounds):
        started = time.perf_counter()
        result = await call()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, result


@dataclass(frozen=True)
class Figure:
    store: str
    case: str
    sessions: int
    stats_ms: float
    baseline_ms: float


async def measure(
    store: str,
    service: SessionService,
    catalog: Catalog,
    load: Callable[[str, list[Any]], Awaitable[Sequence[Sequence[Any]]]],
    style: Callable[[int], str],
    rounds: int,
) -> list[Figure]:
    figures = []
    for case, filters in _cases(catalog):
        figure = await _measure_case(store, service, catalog, load, style, rounds, case, filters)
        figures.append(figure)
        print(
            f"  {case}: {figure.stats_ms:.1f} ms (load and count: {figure.baseline_ms:.0f} ms)",
            flush=True,
        )
    return figures


async def _measure_case(
    store: str,
    service: SessionService,
    catalog: Catalog,
    load: Callable[[str, list[Any]], Awaitable[Sequence[Sequence[Any]]]],
    style: Callable[[int], str],
    rounds: int,
    case: str,
    filters: dict[str, str],
) -> Figure:
    project_id = catalog.project_id
    stats_ms, stats = await best_ms(
        rounds, lambda: service.session_stats(SYSTEM, project_id, filters)
    )
    parsed = StatsInput.model_validate(filters)
    sql, params = baseline_sql(project_id, parsed, style)

    async def baseline() -> SessionStats:
        return count_in_python(project_id, parsed, await load(sql, params))

    baseline_ms, expected = await best_ms(2, baseline)
    if stats != expected:
        raise SystemExit(f"{store}, {case}: the service's funnel differs from the baseline's")
    return Figure(store, case, stats.totals.total, stats_ms, baseline_ms)


def seed_sqlite(path: Path, sessions: int) -> Catalog:
    """A new SQLite file with one project of ``sessions`` sessions (see the module's text)."""

    async def schema_and_catalog() -> Catalog:
        async with SessionRuntime.sqlite(path) as runtime:  # creates the schema
            return await _catalog(runtime.service)

    catalog = asyncio.run(schema_and_catalog())
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")  # 1 GB: ten indexes take random inserts
    insert = f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * len(COLUMNS))})"
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type = 'index' AND tbl_name = 'sessions' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    for batch in session_batches(catalog, sessions):
        conn.execute("BEGIN")
        conn.executemany(insert, batch)
        conn.execute("COMMIT")
    for _, definition in indexes:  # rebuilt from the schema's own statements
        conn.execute(definition)
    conn.execute("ANALYZE")
    conn.close()
    print(f"SQLite: seeded {sessions:,} sessions in {time.perf_counter() - started:.0f} s")
    return catalog


async def run_sqlite(folder: Path, sessions: int, rounds: int) -> list[Figure]:
    path = folder / "stats.db"
    catalog = await asyncio.to_thread(seed_sqlite, path, sessions)
    conn = sqlite3.connect(path, isolation_level=None)

    async def load(sql: str, params: list[Any]) -> list[Any]:
        return conn.execute(sql, params).fetchall()

    try:
        async with SessionRuntime.sqlite(path) as runtime:
            await _check_readable(runtime.service, catalog)
            return await measure("SQLite", runtime.service, catalog, load, _qmark, rounds)
    finally:
        conn.close()


async def run_postgres(dsn: str, sessions: int, rounds: int) -> list[Figure]:
    schema = f"bench_stats_{new_id().lower().replace('-', '_')}"
    runtime = SessionRuntime.postgres(dsn, schema=schema)
    async with runtime:  # creates the schema
        catalog = await _catalog(runtime.service)
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        try:
            started = time.perf_counter()
            # Bulk rows need no change notices: replica mode skips the trigger.
            await conn.execute("SET session_replication_role = replica")
            await conn.execute("SET maintenance_work_mem = '256MB'")
            indexes = await conn.fetch(
                "SELECT index.indexrelid::regclass::text, pg_get_indexdef(index.indexrelid) "
                "FROM pg_index AS index "
                "WHERE index.indrelid = 'sessions'::regclass AND NOT index.indisprimary"
            )
            for name, _ in indexes:
                await conn.execute(f"DROP INDEX {name}")
            for batch in session_batches(catalog, sessions):
                await conn.copy_records_to_table(
                    "sessions", records=batch, columns=COLUMNS, schema_name=schema
                )
            for _, definition in indexes:  # rebuilt from the schema's own definitions
                await conn.execute(definition)
            await conn.execute("VACUUM ANALYZE sessions")
            print(
                f"PostgreSQL: seeded {sessions:,} sessions in {time.perf_counter() - started:.0f} s"
            )

            async def load(sql: str, params: list[Any]) -> list[Any]:
                return await conn.fetch(sql, *params)

            await _check_readable(runtime.service, catalog)
            return await measure("PostgreSQL", runtime.service, catalog, load, _numbered, rounds)
        finally:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()


async def _check_readable(service: SessionService, catalog: Catalog) -> None:
    """The seeded rows are sessions the service can read, not just rows that fit the table."""
    page = await service.list_sessions(SYSTEM, catalog.project_id, {"limit": 5})
    for item in page.items:
        session = await service.get_session(SYSTEM, catalog.project_id, item.id)
        assert session.project_id == catalog.project_id


def _qmark(_: int) -> str:
    return "?"


def _numbered(position: int) -> str:
    return f"${position}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    figures: list[Figure] = []
    if args.store in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-stats-") as tmp:
            figures += asyncio.run(run_sqlite(Path(tmp), args.sessions, args.rounds))
    if args.store in ("postgres", "both"):
        with postgres_dsn() as dsn:
            figures += asyncio.run(run_postgres(dsn, args.sessions, args.rounds))
    print(
        f"\n{args.sessions:,} sessions in one project; the service best of {args.rounds} "
        "calls, the baseline (load every matching session, count in Python) best of 2\n"
    )
    print("| store | funnel | matching sessions | stats | load and count | ratio | < 500 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for figure in figures:
        print(
            f"| {figure.store} | {figure.case} | {figure.sessions:,} | "
            f"{figure.stats_ms:.1f} ms | {figure.baseline_ms:,.0f} ms | "
            f"{figure.baseline_ms / figure.stats_ms:.1f}x | "
            f"{'yes' if figure.stats_ms < TARGET_MS else 'no'} |"
        )
    print(f"\ntotal run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
