"""Progress updates per second on PostgreSQL: the service against raw asyncpg doing the same work.

Run by ``bench/store.py`` (or alone: ``python bench/store_postgres.py``). The raw baseline runs,
for each update, the statements the store runs: in one transaction, read the row with
``SELECT ... FOR UPDATE``, merge ``inputs`` in Python, ``UPDATE`` the row; from the same number
of concurrent writers over a pool of the same size. ``DATABASE_URL`` names the server, else a
throwaway cluster is started (``tests/support/postgres.py``; ``fsync=off``, so these figures
measure the software, not a disk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import orjson

from session_runtime import SYSTEM, SessionRuntime
from session_runtime.domain.timestamps import to_micros, utc_now
from session_runtime.domain.tokens import new_id

ROOT = Path(__file__).resolve().parents[1]
POOL = 10


@contextmanager
def postgres_dsn() -> Iterator[str]:
    """``DATABASE_URL``, else a throwaway cluster for the duration."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import ThrowawayCluster, find_initdb

    initdb = find_initdb()
    if initdb is None:
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql")
    cluster = ThrowawayCluster(initdb)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _body(session_id: str, index: int) -> dict[str, object]:
    return {
        "sessionId": session_id,
        "currentStepIndex": index % 7,
        "inputs": {f"answer{index % 10}": {"text": f"value {index}", "score": index % 5}},
    }


async def _seed(runtime: SessionRuntime, sessions: int) -> tuple[str, list[str]]:
    service = runtime.service
    project = await service.create_project(SYSTEM, {"name": "bench"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "e"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "x"})
    body = {
        "projectId": project.id,
        "eventId": event.id,
        "experienceId": experience.id,
        "mode": "guest",
        "configSource": "published",
    }
    created = [await service.create_session(SYSTEM, body) for _ in range(sessions)]
    return project.id, [result.session_id for result in created]


async def service_updates(dsn: str, *, updates: int, sessions: int, writers: int) -> float:
    schema = f"bench_{new_id().lower().replace('-', '_')}"
    runtime = SessionRuntime.postgres(dsn, schema=schema, max_pool=POOL)
    async with runtime:
        project_id, ids = await _seed(runtime, sessions)
        per_writer = updates // writers

        async def writer(number: int) -> None:
            for index in range(per_writer):
                session_id = ids[(number + index * writers) % len(ids)]
                await runtime.service.update_session_progress(
                    SYSTEM, project_id, _body(session_id, index)
                )

        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(writers)))
        return per_writer * writers / (time.perf_counter() - started)


async def raw_updates(dsn: str, *, updates: int, sessions: int, writers: int) -> float:
    schema = f"bench_{new_id().lower().replace('-', '_')}"
    runtime = SessionRuntime.postgres(dsn, schema=schema, max_pool=POOL)
    async with runtime:
        project_id, ids = await _seed(runtime, sessions)
    pool = await asyncpg.create_pool(
        dsn, min_size=POOL, max_size=POOL, server_settings={"search_path": schema}
    )
    select = (
        "SELECT id, project_id, event_id, experience_id, mode, config_source, status, "
        "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
        "completed_at, end_reason, version FROM sessions WHERE id = $1 AND project_id = $2 "
        "FOR UPDATE"
    )
    update = (
        "UPDATE sessions SET current_step_index = $1, inputs = $2::json, updated_at = $3, "
        "version = $4 WHERE id = $5"
    )
    per_writer = updates // writers

    async def writer(number: int) -> None:
        for index in range(per_writer):
            session_id = ids[(number + index * writers) % len(ids)]
            body = _body(session_id, index)
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(select, session_id, project_id)
                inputs = orjson.loads(row["inputs"])
                inputs.update(body["inputs"])  # type: ignore[call-overload]
                await conn.execute(
                    update,
                    body["currentStepIndex"],
                    orjson.dumps(inputs).decode(),
                    to_micros(utc_now()),
                    row["version"] + 1,
                    session_id,
                )

    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(writers)))
        return per_writer * writers / (time.perf_counter() - started)
    finally:
        await pool.close()


def rows(dsn: str, *, updates: int, sessions: int, writers: int, rounds: int) -> list[str]:
    """The table rows of the PostgreSQL comparison, best of ``rounds``."""

    def best(run: Callable[[], float]) -> float:
        return max(run() for _ in range(rounds))

    options = {"updates": updates, "sessions": sessions, "writers": writers}
    raw = best(lambda: asyncio.run(raw_updates(dsn, **options)))
    service = best(lambda: asyncio.run(service_updates(dsn, **options)))
    return [
        f"| raw asyncpg, SELECT FOR UPDATE + UPDATE per transaction, {writers} writers, "
        f"pool of {POOL} | {raw:,.0f} | baseline |",
        f"| service on PostgreSQL, {sessions} sessions, {writers} concurrent writers | "
        f"{service:,.0f} | {service / raw:.2f}x raw asyncpg |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with postgres_dsn() as dsn:
        table = rows(
            dsn,
            updates=args.updates,
            sessions=args.sessions,
            writers=args.writers,
            rounds=args.rounds,
        )
    print("| case | updates/s | ratio |")
    print("| --- | ---: | --- |")
    print("\n".join(table))


if __name__ == "__main__":
    main()
