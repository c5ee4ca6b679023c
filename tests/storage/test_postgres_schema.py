"""The PostgreSQL schema: versioned in ``schema_migrations``, upgraded in place, announced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from session_runtime import SYSTEM, FailedPreconditionError, SessionRuntime
from session_runtime.storage.postgres import PostgresStore
from session_runtime.storage.postgres_schema import (
    MIGRATIONS,
    NOTIFY_CHANNEL,
    SCHEMA_VERSION,
    migrate,
    quote_identifier,
    schema_version,
)

from ..support.postgres import PostgresDatabase


@pytest.fixture
def schema(postgres: PostgresDatabase) -> str:
    """A schema name of the test's own (created by the first migration or store)."""
    return postgres.new_schema()


@pytest.fixture
async def connection(postgres: PostgresDatabase, schema: str) -> AsyncIterator[Any]:
    conn = await postgres.connect(schema)
    yield conn
    await conn.close()


def store(postgres: PostgresDatabase, schema: str) -> PostgresStore:
    return PostgresStore(postgres.dsn, schema=schema, min_pool=1)


async def tables(conn: Any, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
    return {row[0] for row in rows}


async def indexes(conn: Any, schema: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1", schema
    )
    return {row[0]: row[1] for row in rows}


async def columns(conn: Any, schema: str, table: str) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = $1 AND table_name = $2",
        schema,
        table,
    )
    return {row[0]: row[1] for row in rows}


async def insert_version_1_data(conn: Any) -> None:
    """A project, its event and experience, a token and a session, as version 1 stored them."""
    await conn.execute(
        """
        INSERT INTO projects (id, name, created_at) VALUES ('p1', 'Demo', 0);
        INSERT INTO events (project_id, id, name, created_at) VALUES ('p1', 'e1', 'Party', 1);
        INSERT INTO experiences (project_id, id, name, created_at) VALUES ('p1', 'x1', 'Booth', 2);
        INSERT INTO tokens (id, project_id, kind, token_hash, created_at)
            VALUES ('t1', 'p1', 'guest', 'hash-1', 3);
        INSERT INTO sessions (id, project_id, event_id, experience_id, mode, config_source,
            status, current_step_index, inputs, outputs, created_by, created_at, updated_at,
            version)
        VALUES ('s1', 'p1', 'e1', 'x1', 'guest', 'published', 'active', 2,
            '{"name": "Ada", "answers": [1, 2.5, null]}', '{}', 'user:ada', 10, 20, 3);
        """
    )


def test_the_version_is_the_number_of_migrations() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2


async def test_a_new_schema_is_migrated_to_the_latest_version(connection: Any, schema: str) -> None:
    assert await migrate(connection, schema=schema) == 0

    assert await schema_version(connection) == SCHEMA_VERSION
    assert await tables(connection, schema) >= {
        "schema_migrations",
        "projects",
        "events",
        "experiences",
        "tokens",
        "sessions",
    }
    session_columns = await columns(connection, schema, "sessions")
    assert session_columns["inputs"] == session_columns["outputs"] == "json"
    assert session_columns["created_at"] == session_columns["updated_at"] == "bigint"
    assert session_columns["end_reason"] == "text"
    assert set(await indexes(connection, schema)) >= {
        "sessions_by_project",
        "sessions_by_event",
        "sessions_by_experience",
        "sessions_by_status",
        "sessions_by_creator",
    }
    applied = await connection.fetch("SELECT version, applied_at FROM schema_migrations")
    assert sorted(row[0] for row in applied) == list(range(1, SCHEMA_VERSION + 1))
    assert all(row[1] is not None for row in applied)


async def test_every_list_filter_has_its_index(connection: Any, schema: str) -> None:
    await migrate(connection, schema=schema)

    definitions = await indexes(connection, schema)

    for name, column in (
        ("sessions_by_project", ""),
        ("sessions_by_event", "event_id, "),
        ("sessions_by_experience", "experience_id, "),
        ("sessions_by_status", "status, "),
        ("sessions_by_creator", "created_by, "),
    ):
        assert definitions[name].endswith(f"(project_id, {column}created_at DESC, id DESC)")


async def test_migrating_again_changes_nothing(connection: Any, schema: str) -> None:
    await migrate(connection, schema=schema)
    before = await indexes(connection, schema), await tables(connection, schema)

    assert await migrate(connection, schema=schema) == SCHEMA_VERSION

    assert (await indexes(connection, schema), await tables(connection, schema)) == before
    assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == SCHEMA_VERSION


async def test_an_old_schema_is_upgraded_and_keeps_its_data(
    postgres: PostgresDatabase, connection: Any, schema: str
) -> None:
    assert await migrate(connection, schema=schema, target=1) == 0
    assert await schema_version(connection) == 1
    assert "end_reason" not in await columns(connection, schema, "sessions")
    await insert_version_1_data(connection)

    async with SessionRuntime(store(postgres, schema)) as runtime:
        service = runtime.service
        session = await service.get_session(SYSTEM, "p1", "s1")
        assert session.inputs == {"name": "Ada", "answers": [1, 2.5, None]}
        assert (session.current_step_index, session.version) == (2, 3)
        assert session.end_reason is None
        assert [p.name for p in await service.list_projects(SYSTEM)] == ["Demo"]
        assert [e.id for e in await service.list_events(SYSTEM, "p1")] == ["e1"]
        assert [s.id for s in (await service.list_sessions(SYSTEM, "p1")).items] == ["s1"]
        abandoned = await service.abandon_session(
            SYSTEM, "p1", {"sessionId": "s1", "reason": "left"}
        )
        assert (abandoned.end_reason, abandoned.version) == ("left", 4)

    assert await schema_version(connection) == SCHEMA_VERSION
    row = await connection.fetchrow("SELECT inputs::text, end_reason, version FROM sessions")
    assert orjson.loads(row[0]) == {"name": "Ada", "answers": [1, 2.5, None]}
    assert (row[1], row[2]) == ("left", 4)


async def test_a_schema_from_a_newer_release_is_refused(
    postgres: PostgresDatabase, connection: Any, schema: str
) -> None:
    await connection.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
    await connection.execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz)"
    )
    await connection.execute("INSERT INTO schema_migrations VALUES ($1, now())", SCHEMA_VERSION + 1)

    with pytest.raises(FailedPreconditionError) as caught:
        await store(postgres, schema).open()

    assert caught.value.details == {
        "schemaVersion": SCHEMA_VERSION + 1,
        "supported": SCHEMA_VERSION,
    }
    assert "upgrade session-runtime" in caught.value.message
    assert await tables(connection, schema) == {"schema_migrations"}


async def test_a_failed_migration_leaves_the_schema_at_its_version(
    connection: Any, schema: str
) -> None:
    await migrate(connection, schema=schema, target=1)
    # An index named as one the next migration creates makes it fail halfway through.
    await connection.execute("CREATE INDEX sessions_by_status ON sessions (status)")

    with pytest.raises(asyncpg.DuplicateTableError):
        await migrate(connection, schema=schema)

    assert await schema_version(connection) == 1
    assert "end_reason" not in await columns(connection, schema, "sessions")
    assert not connection.is_in_transaction()


async def test_nodes_starting_together_migrate_once(
    postgres: PostgresDatabase, connection: Any, schema: str
) -> None:
    stores = [store(postgres, schema) for _ in range(6)]

    await asyncio.gather(*(each.open() for each in stores))
    try:
        rows = await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [row[0] for row in rows] == list(range(1, SCHEMA_VERSION + 1))
        assert await stores[0].list_projects() == []
    finally:
        await asyncio.gather(*(each.close() for each in stores))


async def test_every_session_write_is_announced_with_ids_and_version_only(
    postgres: PostgresDatabase, schema: str
) -> None:
    notices: asyncio.Queue[str] = asyncio.Queue()
    async with SessionRuntime(store(postgres, schema)) as runtime:
        listener = await runtime.store.connect_listener()  # type: ignore[attr-defined]
        try:
            await listener.add_listener(
                NOTIFY_CHANNEL, lambda _conn, _pid, _channel, payload: notices.put_nowait(payload)
            )
            service = runtime.service
            project = await service.create_project(SYSTEM, {"name": "Demo"})
            event = await service.create_event(SYSTEM, {"projectId": project.id, "name": "E"})
            experience = await service.create_experience(
                SYSTEM, {"projectId": project.id, "name": "X"}
            )
            created = await service.create_session(
                SYSTEM,
                {
                    "projectId": project.id,
                    "eventId": event.id,
                    "experienceId": experience.id,
                    "mode": "preview",
                    "configSource": "draft",
                },
            )
            await service.update_session_progress(
                SYSTEM, project.id, {"sessionId": created.session_id, "inputs": {"big": "x" * 9000}}
            )
            await service.complete_session(SYSTEM, project.id, created.session_id)

            received = [orjson.loads(await asyncio.wait_for(notices.get(), 5)) for _ in range(3)]
        finally:
            await listener.close()

    assert received == [[project.id, created.session_id, version] for version in (1, 2, 3)]
    assert notices.empty()


async def test_the_schema_guards_the_session_state(connection: Any, schema: str) -> None:
    await migrate(connection, schema=schema)
    insert = (
        "INSERT INTO sessions (id, project_id, event_id, experience_id, mode, config_source, "
        "status, current_step_index, inputs, outputs, created_by, created_at, updated_at, "
        "version) VALUES ($1, 'p1', 'e1', 'x1', $2, 'published', $3, $4, '{}', '{}', 'u', 0, 0, "
        "$5)"
    )
    await connection.execute(insert, "ok", "guest", "active", 0, 1)
    for bad in (
        ("s1", "live", "active", 0, 1),
        ("s2", "guest", "paused", 0, 1),
        ("s3", "guest", "active", -1, 1),
        ("s4", "guest", "active", 0, 0),
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(insert, *bad)
