"""The SQLite schema: versioned in ``PRAGMA user_version``, upgraded in place."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_runtime import SYSTEM, FailedPreconditionError, SessionRuntime, SqliteStore
from session_runtime.storage.guest_rows import JOIN_LINKS, SHARE_LINKS
from session_runtime.storage.rows import SESSION_COLUMNS, TOKEN_COLUMNS
from session_runtime.storage.sqlite_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    migrate,
    schema_version,
)


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "schema.db", isolation_level=None)
    yield conn
    conn.close()


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def indexes(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
    ).fetchall()
    return {row[0] for row in rows}


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_the_version_is_the_number_of_migrations() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 2


def test_a_new_file_is_migrated_to_the_latest_version(connection: sqlite3.Connection) -> None:
    assert migrate(connection) == 0

    assert schema_version(connection) == SCHEMA_VERSION
    assert tables(connection) >= {"projects", "events", "experiences", "tokens", "sessions"}
    assert "end_reason" in columns(connection, "sessions")
    assert indexes(connection) >= {
        "sessions_by_project",
        "sessions_by_event",
        "sessions_by_experience",
        "sessions_by_status",
        "sessions_by_creator",
    }


def test_migrating_again_changes_nothing(connection: sqlite3.Connection) -> None:
    migrate(connection)
    before = connection.execute("SELECT sql FROM sqlite_schema ORDER BY name").fetchall()

    assert migrate(connection) == SCHEMA_VERSION

    assert connection.execute("SELECT sql FROM sqlite_schema ORDER BY name").fetchall() == before


def test_an_old_file_is_upgraded_and_keeps_its_data(connection: sqlite3.Connection) -> None:
    migrate(connection, target=1)
    assert schema_version(connection) == 1
    assert "end_reason" not in columns(connection, "sessions")
    connection.execute("INSERT INTO projects (id, name, created_at) VALUES ('p1', 'Demo', 0)")
    connection.execute(
        "INSERT INTO sessions (id, project_id, event_id, experience_id, mode, config_source, "
        "status, current_step_index, inputs, outputs, created_by, created_at, updated_at, "
        "version) VALUES ('s1', 'p1', 'e1', 'x1', 'guest', 'published', 'active', 2, "
        "'{\"name\":\"Ada\"}', '{}', 'user:ada', 10, 20, 3)"
    )

    assert migrate(connection) == 1

    assert schema_version(connection) == SCHEMA_VERSION
    row = connection.execute(
        "SELECT id, current_step_index, inputs, version, end_reason FROM sessions"
    ).fetchone()
    assert row == ("s1", 2, '{"name":"Ada"}', 3, None)
    assert connection.execute("SELECT name FROM projects").fetchall() == [("Demo",)]


async def test_an_upgraded_file_serves_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    conn.execute("INSERT INTO projects (id, name, created_at) VALUES ('p1', 'Demo', 0)")
    conn.execute(
        "INSERT INTO sessions (id, project_id, event_id, experience_id, mode, config_source, "
        "status, current_step_index, inputs, outputs, created_by, created_at, updated_at, "
        "version) VALUES ('s1', 'p1', 'e1', 'x1', 'guest', 'published', 'active', 2, "
        "'{\"name\":\"Ada\"}', '{}', 'user:ada', 10, 20, 3)"
    )
    conn.close()

    async with SessionRuntime.sqlite(path) as runtime:
        session = await runtime.service.get_session(SYSTEM, "p1", "s1")
        assert session.inputs == {"name": "Ada"}
        assert session.end_reason is None
        abandoned = await runtime.service.abandon_session(
            SYSTEM, "p1", {"sessionId": "s1", "reason": "left"}
        )
        assert abandoned.end_reason == "left"
        assert abandoned.version == 4


def test_a_file_from_a_newer_release_is_refused(connection: sqlite3.Connection) -> None:
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(FailedPreconditionError) as caught:
        migrate(connection)

    assert caught.value.details == {
        "schemaVersion": SCHEMA_VERSION + 1,
        "supported": SCHEMA_VERSION,
    }
    assert tables(connection) == set()


async def test_the_store_refuses_a_file_from_a_newer_release(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    store = SqliteStore(path)
    with pytest.raises(FailedPreconditionError):
        await store.open()


def test_a_failed_migration_leaves_the_file_at_its_version(
    connection: sqlite3.Connection,
) -> None:
    migrate(connection, target=1)
    # An index named as one the next migration creates makes it fail halfway through.
    connection.execute("CREATE INDEX sessions_by_status ON sessions (status)")

    with pytest.raises(sqlite3.OperationalError):
        migrate(connection)

    assert schema_version(connection) == 1
    assert "end_reason" not in columns(connection, "sessions")
    assert not connection.in_transaction


def test_tables_are_strict(connection: sqlite3.Connection) -> None:
    migrate(connection)
    connection.execute("INSERT INTO projects (id, name, created_at) VALUES ('p1', 'Demo', 0)")

    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO projects (id, name, created_at) VALUES ('p2', 'Demo', 'yesterday')"
        )


def test_the_schema_guards_the_session_state(connection: sqlite3.Connection) -> None:
    migrate(connection)
    insert = (
        "INSERT INTO sessions (id, project_id, event_id, experience_id, mode, config_source, "
        "status, current_step_index, inputs, outputs, created_by, created_at, updated_at, "
        "version) VALUES (?, 'p1', 'e1', 'x1', ?, 'published', ?, ?, '{}', '{}', 'u', 0, 0, ?)"
    )
    connection.execute(insert, ("ok", "guest", "active", 0, 1))
    for bad in (
        ("s1", "live", "active", 0, 1),
        ("s2", "guest", "paused", 0, 1),
        ("s3", "guest", "active", -1, 1),
        ("s4", "guest", "active", 0, 0),
    ):
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute(insert, bad)


def test_the_tables_hold_exactly_the_columns_the_store_reads(
    connection: sqlite3.Connection,
) -> None:
    migrate(connection)

    # The shared column lists quote ``user`` for PostgreSQL; SQLite names the column alike.
    read = {
        "sessions": SESSION_COLUMNS,
        "tokens": TOKEN_COLUMNS.replace('"', ""),
        "join_links": JOIN_LINKS.columns,
        "share_links": SHARE_LINKS.columns,
    }
    for table, column_list in read.items():
        assert sorted(columns(connection, table)) == sorted(column_list.split(", ")), table
