"""Progress updates per second: the service on SQLite against raw sqlite3 doing the same work.

Run with ``make bench`` (or ``python bench/store.py --updates 20000``); it also prints the
PostgreSQL comparison of ``bench/store_postgres.py``. Every figure comes from
the same process and the same run, so the ratios hold on a noisy, shared machine; each case
runs ``--rounds`` times and the best round counts.

The raw baselines run the statements the store runs for an update (read the row, decode
``inputs``, merge, encode, write the row) on one connection in WAL mode with
``synchronous=FULL``: once with one commit per update, once with every update in one
transaction (the ceiling, which no durable server could reach).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

import store_postgres
from session_runtime import SYSTEM, SessionRuntime
from session_runtime.domain.timestamps import to_micros, utc_now
from session_runtime.storage.rows import SESSION_COLUMNS


async def _seed(runtime: SessionRuntime, sessions: int) -> tuple[str, list[str]]:
    service = runtime.service
    project = await service.create_project(SYSTEM, {"name": "bench"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "e"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "x"})
    ids = []
    for _ in range(sessions):
        created = await service.create_session(
            SYSTEM,
            {
                "projectId": project.id,
                "eventId": event.id,
                "experienceId": experience.id,
                "mode": "guest",
                "configSource": "published",
            },
        )
        ids.append(created.session_id)
    return project.id, ids


def _update_body(session_id: str, index: int) -> dict[str, object]:
    # Ten distinct keys per session keep documents a realistic, constant size.
    return {
        "sessionId": session_id,
        "currentStepIndex": index % 7,
        "inputs": {f"answer{index % 10}": {"text": f"value {index}", "score": index % 5}},
    }


async def service_updates(
    folder: Path, *, updates: int, sessions: int, writers: int, synchronous: str = "FULL"
) -> tuple[float, int]:
    """Updates/s through the service with ``writers`` concurrent tasks; also the commits."""
    runtime = SessionRuntime.sqlite(folder / "service.db", synchronous=synchronous)  # type: ignore[arg-type]
    async with runtime:
        project_id, ids = await _seed(runtime, sessions)
        service = runtime.service
        per_writer = updates // writers
        commits_before = runtime.store.commits  # type: ignore[attr-defined]

        async def writer(number: int) -> None:
            for index in range(per_writer):
                session_id = ids[(number + index * writers) % len(ids)]
                await service.update_session_progress(
                    SYSTEM, project_id, _update_body(session_id, index)
                )

        started = time.perf_counter()
        await asyncio.gather(*(writer(n) for n in range(writers)))
        elapsed = time.perf_counter() - started
        commits = runtime.store.commits - commits_before  # type: ignore[attr-defined]
    return per_writer * writers / elapsed, commits


def raw_updates(folder: Path, *, updates: int, sessions: int, one_transaction: bool) -> float:
    """Updates/s of raw sqlite3 running the store's statements for each update."""
    path = folder / f"raw-{one_transaction}.db"
    asyncio.run(_create_only(path, sessions))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    ids = [row[0] for row in conn.execute("SELECT id FROM sessions")]
    select = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ? AND project_id = ?"
    update = (
        "UPDATE sessions SET status = ?, current_step_index = ?, inputs = ?, outputs = ?, "
        "updated_at = ?, completed_at = ?, end_reason = ?, version = ? WHERE id = ?"
    )

    def one_update(index: int) -> None:
        session_id = ids[index % len(ids)]
        row = conn.execute(select, (session_id, project_id)).fetchone()
        inputs = orjson.loads(row[8])
        body = _update_body(session_id, index)
        inputs.update(body["inputs"])  # type: ignore[call-overload]
        conn.execute(
            update,
            (
                row[6],
                body["currentStepIndex"],
                orjson.dumps(inputs).decode(),
                row[9],
                to_micros(utc_now()),
                None,
                None,
                row[15] + 1,
                session_id,
            ),
        )

    project_id = conn.execute("SELECT project_id FROM sessions LIMIT 1").fetchone()[0]
    started = time.perf_counter()
    if one_transaction:
        conn.execute("BEGIN IMMEDIATE")
        for index in range(updates):
            one_update(index)
        conn.execute("COMMIT")
    else:
        for index in range(updates):
            conn.execute("BEGIN IMMEDIATE")
            one_update(index)
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return updates / elapsed


async def _create_only(path: Path, sessions: int) -> None:
    async with SessionRuntime.sqlite(path) as runtime:
        await _seed(runtime, sessions)


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return max(run() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--writers", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--postgres-updates", type=int, default=10_000, help="0 skips the PostgreSQL figures"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        counter = iter(range(1_000_000))

        def fresh() -> Path:
            sub = folder / str(next(counter))
            sub.mkdir()
            return sub

        def service_many() -> float:
            rate, _ = asyncio.run(
                service_updates(
                    fresh(), updates=args.updates, sessions=args.sessions, writers=args.writers
                )
            )
            return rate

        def service_hot() -> float:
            rate, _ = asyncio.run(
                service_updates(fresh(), updates=args.updates, sessions=1, writers=args.writers)
            )
            return rate

        def service_hot_sequential() -> float:
            rate, _ = asyncio.run(
                service_updates(fresh(), updates=args.updates // 10, sessions=1, writers=1)
            )
            return rate

        per_commit = best_of(
            args.rounds,
            lambda: raw_updates(
                fresh(), updates=args.updates // 4, sessions=args.sessions, one_transaction=False
            ),
        )
        ceiling = best_of(
            args.rounds,
            lambda: raw_updates(
                fresh(), updates=args.updates, sessions=args.sessions, one_transaction=True
            ),
        )
        many = best_of(args.rounds, service_many)
        hot = best_of(args.rounds, service_hot)
        hot_sequential = best_of(args.rounds, service_hot_sequential)

    rows = [
        ("raw sqlite3, one commit per update (FULL)", per_commit, "baseline"),
        ("raw sqlite3, all updates in one transaction", ceiling, "ceiling"),
        (
            f"service, {args.sessions} sessions, {args.writers} concurrent writers (FULL)",
            many,
            f"{many / per_commit:.2f}x baseline, {many / ceiling:.2f}x ceiling",
        ),
        (
            f"service, one hot session, {args.writers} concurrent writers (FULL)",
            hot,
            f"{hot / per_commit:.2f}x baseline",
        ),
        ("service, one hot session, one writer awaiting each update (FULL)", hot_sequential, ""),
    ]
    print(f"updates: {args.updates}, best of {args.rounds} rounds\n")
    print("| case | updates/s | ratio |")
    print("| --- | ---: | --- |")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio} |")
    if args.postgres_updates:
        with store_postgres.postgres_dsn() as dsn:
            table = store_postgres.rows(
                dsn,
                updates=args.postgres_updates,
                sessions=args.sessions,
                writers=args.writers,
                rounds=2,
            )
        print(f"\nPostgreSQL, {args.postgres_updates} updates, best of 2 rounds\n")
        print("| case | updates/s | ratio |")
        print("| --- | ---: | --- |")
        print("\n".join(table))


if __name__ == "__main__":
    main()
