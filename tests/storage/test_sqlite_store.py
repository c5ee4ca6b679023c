"""What is particular to the SQLite store: WAL, durability settings, group commit, the file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from session_runtime import (
    SYSTEM,
    FailedPreconditionError,
    Guest,
    ResourceExhaustedError,
    Session,
    SessionRuntime,
    Settings,
    SqliteStore,
    UnavailableError,
)
from session_runtime.storage import SessionQuery

SYNCHRONOUS_LEVELS = {"NORMAL": 1, "FULL": 2}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


@pytest.fixture
async def runtime(path: Path) -> AsyncIterator[SessionRuntime]:
    async with SessionRuntime.sqlite(path) as runtime:
        yield runtime


async def start_session(runtime: SessionRuntime) -> Session:
    service = runtime.service
    project = await service.create_project(SYSTEM, {"name": "Demo"})
    event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "Party"})
    experience = await service.create_experience(SYSTEM, {"projectId": project.id, "name": "Booth"})
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
    return created.session


async def pragma(store: SqliteStore, name: str) -> tuple[Any, Any]:
    """The pragma's value on the writing connection and on a reading one."""
    on_writer = await store._write(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])
    on_reader = store._read(lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])
    return on_writer, on_reader


# -- the file ---------------------------------------------------------------------------------


async def test_the_file_is_in_wal_mode(runtime: SessionRuntime, path: Path) -> None:
    await start_session(runtime)

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert path.with_name(path.name + "-wal").exists()


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
async def test_synchronous_is_applied_to_every_connection(path: Path, synchronous: Any) -> None:
    async with SqliteStore(path, synchronous=synchronous) as store:
        assert store.synchronous == synchronous
        level = SYNCHRONOUS_LEVELS[synchronous]
        assert await pragma(store, "synchronous") == (level, level)


async def test_synchronous_defaults_to_full(path: Path) -> None:
    async with SqliteStore(path) as store:
        assert await pragma(store, "synchronous") == (2, 2)


async def test_settings_choose_the_file_and_synchronous(path: Path) -> None:
    settings = Settings(database_path=path, synchronous="NORMAL")
    async with SessionRuntime.from_settings(settings) as runtime:
        store = runtime.store
        assert isinstance(store, SqliteStore)
        assert store.path == path
        assert await pragma(store, "synchronous") == (1, 1)
    assert path.exists()


def test_an_unknown_synchronous_level_is_refused(path: Path) -> None:
    with pytest.raises(ValueError, match="FULL or NORMAL"):
        SqliteStore(path, synchronous="OFF")  # type: ignore[arg-type]


async def test_readers_cannot_write(runtime: SessionRuntime) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    with pytest.raises(UnavailableError):
        store._read(lambda conn: conn.execute("DELETE FROM sessions"))


async def test_the_parent_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data" / "sessions.db"
    async with SessionRuntime.sqlite(path) as runtime:
        await start_session(runtime)
    assert path.exists()


async def test_a_path_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    with pytest.raises(UnavailableError):
        await store.open()


async def test_a_file_that_is_not_a_database_is_unavailable(path: Path) -> None:
    path.write_bytes(b"these bytes are not a database" * 200)
    store = SqliteStore(path)
    with pytest.raises(UnavailableError):
        await store.open()


async def test_tokens_are_stored_hashed_only(runtime: SessionRuntime, path: Path) -> None:
    session = await start_session(runtime)
    record, secret = await runtime.service.create_member_token(
        SYSTEM, session.project_id, user="ada", role="owner"
    )
    await runtime.close()

    stored = b"".join(
        file.read_bytes() for file in path.parent.iterdir() if file.name.startswith(path.name)
    )
    assert secret.encode() not in stored
    assert record.token_hash.encode() in stored


# -- group commit -----------------------------------------------------------------------------


async def test_concurrent_writes_share_commits(runtime: SessionRuntime) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    session = await start_session(runtime)
    writes = 200
    commits_before = store.commits

    await asyncio.gather(
        *(
            runtime.service.update_session_progress(
                SYSTEM, session.project_id, {"sessionId": session.id, "inputs": {f"k{i}": i}}
            )
            for i in range(writes)
        )
    )

    commits = store.commits - commits_before
    assert 1 <= commits < writes
    stored = await runtime.service.get_session(SYSTEM, session.project_id, session.id)
    assert stored.version == writes + 1
    assert stored.inputs == {f"k{i}": i for i in range(writes)}


async def test_sequential_writes_commit_one_by_one(runtime: SessionRuntime) -> None:
    store = runtime.store
    assert isinstance(store, SqliteStore)
    session = await start_session(runtime)
    commits_before = store.commits

    for step in range(1, 6):
        await runtime.service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": step}
        )

    assert store.commits - commits_before == 5


async def test_a_refused_write_does_not_undo_the_others_in_its_batch(
    runtime: SessionRuntime,
) -> None:
    service = runtime.service
    session = await start_session(runtime)
    project_id = session.project_id

    def add(key: str, value: Any) -> dict[str, Any]:
        return {"sessionId": session.id, "inputs": {key: value}}

    results = await asyncio.gather(
        service.update_session_progress(SYSTEM, project_id, add("a", 1)),
        service.update_session_progress(SYSTEM, project_id, add("stale", 1), expected_version=1),
        service.update_session_progress(SYSTEM, project_id, add("b", 2)),
        service.update_session_progress(SYSTEM, project_id, add("huge", "x" * 1_100_000)),
        service.update_session_progress(SYSTEM, project_id, add("c", 3)),
        service.create_project(SYSTEM, {"name": "Again", "id": project_id}),
        service.update_session_progress(SYSTEM, project_id, add("d", 4)),
        return_exceptions=True,
    )

    assert isinstance(results[1], FailedPreconditionError)
    assert isinstance(results[3], ResourceExhaustedError)
    assert isinstance(results[5], FailedPreconditionError)
    stored = await service.get_session(SYSTEM, project_id, session.id)
    assert stored.inputs == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert stored.version == 5


async def test_close_finishes_every_queued_write(path: Path) -> None:
    runtime = SessionRuntime.sqlite(path)
    await runtime.open()
    session = await start_session(runtime)
    writes = [
        asyncio.create_task(
            runtime.service.update_session_progress(
                SYSTEM, session.project_id, {"sessionId": session.id, "inputs": {f"k{i}": i}}
            )
        )
        for i in range(50)
    ]
    await asyncio.sleep(0)

    await runtime.close()

    results = await asyncio.gather(*writes, return_exceptions=True)
    acknowledged = [result for result in results if isinstance(result, Session)]
    assert acknowledged
    assert all(
        isinstance(result, UnavailableError) for result in results if result not in acknowledged
    )
    async with SessionRuntime.sqlite(path) as reopened:
        stored = await reopened.service.get_session(SYSTEM, session.project_id, session.id)
    assert stored.version == 1 + len(acknowledged)
    assert stored.inputs == {
        key: value for result in acknowledged for key, value in result.inputs.items()
    }
    assert max(result.version for result in acknowledged) == stored.version


# -- life cycle -------------------------------------------------------------------------------


async def test_a_closed_store_is_unavailable(path: Path) -> None:
    runtime = SessionRuntime.sqlite(path)
    await runtime.open()
    session = await start_session(runtime)
    store = runtime.store
    await runtime.close()

    with pytest.raises(UnavailableError) as caught:
        await runtime.service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": 1}
        )
    assert caught.value.code == "UNAVAILABLE"
    assert caught.value.http_status == 503
    with pytest.raises(UnavailableError):
        await runtime.service.get_session(SYSTEM, session.project_id, session.id)
    with pytest.raises(UnavailableError):
        await runtime.service.list_sessions(SYSTEM, session.project_id)
    with pytest.raises(UnavailableError):
        await runtime.service.create_project(SYSTEM, {"name": "Late"})
    with pytest.raises(UnavailableError):
        await store.list_sessions(SessionQuery(project_id=session.project_id, limit=10))
    with pytest.raises(UnavailableError):
        await store.get_project(session.project_id)


async def test_a_store_that_was_never_opened_is_unavailable(path: Path) -> None:
    store = SqliteStore(path)
    with pytest.raises(UnavailableError):
        await store.get_project("p1")
    with pytest.raises(UnavailableError):
        await store.list_projects()
    with pytest.raises(UnavailableError):
        await store.revoke_token("t1", datetime.now(UTC))


async def test_opening_and_closing_twice_is_harmless(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.open()
    await store.close()
    await store.close()
    with pytest.raises(UnavailableError):
        await store.list_projects()


async def test_reopening_keeps_everything(path: Path) -> None:
    async with SessionRuntime.sqlite(path) as runtime:
        session = await start_session(runtime)
        record, secret = await runtime.service.create_guest_token(SYSTEM, session.project_id)
        written = await runtime.service.update_session_progress(
            SYSTEM,
            session.project_id,
            {
                "sessionId": session.id,
                "currentStepIndex": 2,
                "inputs": {"name": "Ada", "answers": {"q1": [1, 2]}},
                "outputs": {"photo": {"mediaAssetId": "m1", "url": "https://cdn.example/1.jpg"}},
            },
        )
        completed = await runtime.service.complete_session(SYSTEM, session.project_id, session.id)

    async with SessionRuntime.sqlite(path) as reopened:
        service = reopened.service
        stored = await service.get_session(SYSTEM, session.project_id, session.id)
        assert stored == completed
        assert stored.inputs == written.inputs
        assert stored.outputs == written.outputs
        assert (await service.authenticate(secret)) == Guest(
            project_id=session.project_id, token_id=record.id
        )
        assert [p.id for p in await service.list_projects(SYSTEM)] == [session.project_id]
        assert [e.id for e in await service.list_events(SYSTEM, session.project_id)] == [
            session.event_id
        ]
        page = await service.list_sessions(SYSTEM, session.project_id)
        assert [item.id for item in page.items] == [session.id]


async def test_the_same_store_object_can_be_reopened(path: Path) -> None:
    store = SqliteStore(path)
    runtime = SessionRuntime(store)
    await runtime.open()
    session = await start_session(runtime)
    await runtime.close()

    await runtime.open()
    try:
        stored = await runtime.service.get_session(SYSTEM, session.project_id, session.id)
        assert stored == session
        updated = await runtime.service.update_session_progress(
            SYSTEM, session.project_id, {"sessionId": session.id, "currentStepIndex": 1}
        )
        assert updated.version == 2
    finally:
        await runtime.close()


async def test_two_stores_on_one_file_see_each_others_commits(path: Path) -> None:
    async with SessionRuntime.sqlite(path) as first, SessionRuntime.sqlite(path) as second:
        session = await start_session(first)
        project_id = session.project_id

        def add(key: str) -> dict[str, Any]:
            return {"sessionId": session.id, "inputs": {key: True}}

        await first.service.update_session_progress(SYSTEM, project_id, add("first"))
        await second.service.update_session_progress(SYSTEM, project_id, add("second"))
        await first.service.update_session_progress(SYSTEM, project_id, add("first again"))
        await second.service.update_session_progress(SYSTEM, project_id, add("second again"))

        for runtime in (first, second):
            stored = await runtime.service.get_session(SYSTEM, project_id, session.id)
            assert stored.inputs == {
                "first": True,
                "second": True,
                "first again": True,
                "second again": True,
            }
            assert stored.version == 5


async def test_a_write_from_another_process_is_not_overwritten(path: Path) -> None:
    async with SessionRuntime.sqlite(path) as runtime:
        session = await start_session(runtime)
        project_id = session.project_id
        await runtime.service.update_session_progress(
            SYSTEM, project_id, {"sessionId": session.id, "inputs": {"ours": 1}}
        )
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(
                "UPDATE sessions SET inputs = json_set(inputs, '$.theirs', 2), "
                "version = version + 1 WHERE id = ?",
                (session.id,),
            )
        finally:
            conn.close()

        updated = await runtime.service.update_session_progress(
            SYSTEM, project_id, {"sessionId": session.id, "inputs": {"ours again": 3}}
        )

        assert updated.inputs == {"ours": 1, "theirs": 2, "ours again": 3}
        assert updated.version == 4
