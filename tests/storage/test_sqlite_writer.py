"""The SQLite store's one write path: one write's failure is its own, a dead writer says so.

The failures are real ones: a trigger installed in the test's database raises for one session,
a second connection holds the write lock, the writer's task is cancelled as a shutting-down
loop would.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    NotFoundError,
    Session,
    SessionRuntime,
    SqliteStore,
    UnavailableError,
)
from session_runtime.storage.sqlite_writer import GroupCommitWriter, is_lock_error

# Generous: only there so that a writer that never answers fails the test instead of hanging it.
HANG_GUARD_SECONDS = 30


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


@pytest.fixture
async def runtime(path: Path) -> AsyncIterator[SessionRuntime]:
    async with SessionRuntime.sqlite(path, synchronous="NORMAL") as runtime:
        yield runtime


async def start_sessions(runtime: SessionRuntime, count: int) -> list[Session]:
    service = runtime.service
    project = await service.create_project(SYSTEM, {"name": "Demo"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Party"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "Booth"})
    sessions = []
    for _ in range(count):
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
        sessions.append(created.session)
    return sessions


def writer_of(runtime: SessionRuntime) -> GroupCommitWriter:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    writer = store._writer
    assert writer is not None
    return writer


def install_trigger(path: Path, sql: str) -> None:
    """DDL from another connection, as an operator's script would run it."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def progress(session: Session, key: str, value: Any) -> dict[str, Any]:
    return {"sessionId": session.id, "inputs": {key: value}}


async def test_a_storage_error_in_one_write_fails_that_write_only(
    runtime: SessionRuntime, path: Path
) -> None:
    good, doomed = await start_sessions(runtime, 2)
    # json() of malformed text is an SQLITE_ERROR, not a constraint: the kind that used to
    # fail every write of the batch.
    install_trigger(
        path,
        "CREATE TRIGGER refuse_one BEFORE UPDATE ON sessions "
        f"WHEN NEW.id = '{doomed.id}' BEGIN SELECT json('not json'); END",
    )
    service = runtime.service
    commits_before = runtime.store.commits  # type: ignore[attr-defined]

    results = await asyncio.gather(
        service.update_session_progress(SYSTEM, good.project_id, progress(good, "a", 1)),
        service.update_session_progress(SYSTEM, good.project_id, progress(doomed, "x", 1)),
        service.update_session_progress(SYSTEM, good.project_id, progress(good, "b", 2)),
        service.update_session_progress(SYSTEM, good.project_id, progress(doomed, "y", 2)),
        service.update_session_progress(SYSTEM, good.project_id, progress(good, "c", 3)),
        return_exceptions=True,
    )

    assert [type(result) for result in results] == [
        Session,
        UnavailableError,
        Session,
        UnavailableError,
        Session,
    ]
    # All five shared one transaction, so the good ones really sat beside the failing ones.
    assert runtime.store.commits - commits_before == 1  # type: ignore[attr-defined]
    assert "malformed JSON" in str(results[1])
    stored_good = await service.get_session(SYSTEM, good.project_id, good.id)
    assert stored_good.inputs == {"a": 1, "b": 2, "c": 3}
    assert stored_good.version == 4
    stored_doomed = await service.get_session(SYSTEM, good.project_id, doomed.id)
    assert stored_doomed.inputs == {} and stored_doomed.version == 1

    # The failed writes left nothing behind, in the file or in the writer's cache.
    install_trigger(path, "DROP TRIGGER refuse_one")
    again = await service.update_session_progress(SYSTEM, good.project_id, progress(doomed, "z", 3))
    assert again.version == 2 and again.inputs == {"z": 3}


async def test_a_trigger_that_rolls_back_the_transaction_leaves_every_write_whole(
    runtime: SessionRuntime, path: Path
) -> None:
    good, doomed = await start_sessions(runtime, 2)
    # RAISE(ROLLBACK) ends the whole transaction, not only the statement.
    install_trigger(
        path,
        "CREATE TRIGGER roll_back_all BEFORE UPDATE ON sessions "
        f"WHEN NEW.id = '{doomed.id}' BEGIN SELECT RAISE(ROLLBACK, 'refused here'); END",
    )
    service = runtime.service

    missing = {"sessionId": "missing", "inputs": {"m": 1}}
    results = await asyncio.gather(
        service.update_session_progress(SYSTEM, good.project_id, missing),
        service.update_session_progress(SYSTEM, good.project_id, progress(good, "a", 1)),
        service.update_session_progress(SYSTEM, good.project_id, progress(doomed, "x", 1)),
        service.update_session_progress(SYSTEM, good.project_id, progress(good, "b", 2)),
        return_exceptions=True,
    )

    assert isinstance(results[0], NotFoundError)  # its own refusal, not the rollback's
    results = results[1:]
    assert isinstance(results[1], UnavailableError)
    acknowledged = [r for r in results if isinstance(r, Session)]
    refused = [r for r in results if not isinstance(r, Session)]
    assert all(isinstance(r, UnavailableError) for r in refused)
    # Whatever was acknowledged is stored; whatever was refused is not.
    stored = await service.get_session(SYSTEM, good.project_id, good.id)
    assert stored.inputs == {key: v for r in acknowledged for key, v in r.inputs.items()}
    assert stored.version == 1 + len(acknowledged)
    # The write after the one that rolled back went on in a transaction of its own.
    assert isinstance(results[2], Session)


async def test_a_dead_writer_fails_queued_and_later_writes_at_once(
    runtime: SessionRuntime,
) -> None:
    (session,) = await start_sessions(runtime, 1)
    service = runtime.service
    writer = writer_of(runtime)
    # Another connection holds the write lock, so the writer's batch waits on it.
    blocker = sqlite3.connect(runtime.store.path, isolation_level=None)  # type: ignore[attr-defined]
    blocker.execute("BEGIN IMMEDIATE")
    try:
        writes = [
            asyncio.create_task(
                service.update_session_progress(
                    SYSTEM, session.project_id, progress(session, f"k{i}", i)
                )
            )
            for i in range(5)
        ]
        for _ in range(1000):  # until every write is queued or taken into the waiting batch
            await asyncio.sleep(0)
            if writer.pending == len(writes):
                break
        assert writer.pending == len(writes)

        writer._task.cancel()  # the writer dies, as on a loop that is torn down under it

        async with asyncio.timeout(HANG_GUARD_SECONDS):
            results = await asyncio.gather(*writes, return_exceptions=True)
        assert all(isinstance(result, UnavailableError) for result in results), results
        assert all("writer" in str(result) for result in results)
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            with pytest.raises(UnavailableError, match="writer"):
                await service.update_session_progress(
                    SYSTEM, session.project_id, progress(session, "late", 1)
                )
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    stored = await service.get_session(SYSTEM, session.project_id, session.id)
    assert stored.version == 1 and stored.inputs == {}


def test_lock_errors_are_known_by_their_code(path: Path) -> None:
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as busy:
            other.execute("BEGIN IMMEDIATE")
        assert is_lock_error(busy.value)
        holder.execute("ROLLBACK")

        # An error whose text speaks of a lock, but that no lock caused.
        holder.execute(
            "CREATE TRIGGER says_locked BEFORE INSERT ON t "
            "BEGIN SELECT RAISE(ABORT, 'database is locked, busy'); END"
        )
        with pytest.raises(sqlite3.IntegrityError) as refused:
            holder.execute("INSERT INTO t VALUES (1)")
        assert not is_lock_error(refused.value)
        with pytest.raises(sqlite3.OperationalError) as missing:
            holder.execute("SELECT * FROM locked_busy_table")
        assert not is_lock_error(missing.value)
    finally:
        holder.close()
        other.close()
