"""The SQLite schema, versioned in ``PRAGMA user_version`` and upgraded in place.

Each migration is a list of statements run in one transaction together with the version bump,
so a file is always at exactly one version. A file from a newer release is refused.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ..domain.errors import FailedPreconditionError
from .reporting_sql import REPORTING_INDEXES


def _part_table(name: str) -> str:
    """The table of one part of the catalog (``events``, ``experiences``): the two are alike."""
    return f"""CREATE TABLE {name} (
            project_id TEXT NOT NULL REFERENCES projects (id),
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (project_id, id)
        ) STRICT"""


MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the catalog, tokens and sessions.
    (
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT""",
        _part_table("events"),
        _part_table("experiences"),
        """CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL REFERENCES projects (id),
            kind TEXT NOT NULL CHECK (kind IN ('member', 'guest')),
            token_hash TEXT NOT NULL UNIQUE,
            user TEXT,
            role TEXT CHECK (role IN ('owner', 'editor', 'viewer')),
            event_id TEXT,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            experience_id TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('preview', 'guest')),
            config_source TEXT NOT NULL CHECK (config_source IN ('draft', 'published')),
            status TEXT NOT NULL
                CHECK (status IN ('active', 'completed', 'abandoned', 'error')),
            current_step_index INTEGER NOT NULL CHECK (current_step_index >= 0),
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            completed_at INTEGER,
            version INTEGER NOT NULL CHECK (version >= 1)
        ) STRICT""",
        "CREATE INDEX sessions_by_project ON sessions (project_id, created_at DESC, id DESC)",
    ),
    # 2: why a session ended, and an index for every list filter.
    (
        "ALTER TABLE sessions ADD COLUMN end_reason TEXT",
        "CREATE INDEX sessions_by_event "
        "ON sessions (project_id, event_id, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_experience "
        "ON sessions (project_id, experience_id, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_status "
        "ON sessions (project_id, status, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_creator "
        "ON sessions (project_id, created_by, created_at DESC, id DESC)",
    ),
    # 3: the funnel, the stale-session sweeper and retention.
    REPORTING_INDEXES,
)

SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Upgrade the file to ``target``; return the version it was at. Needs autocommit mode."""
    start = schema_version(conn)
    if start > SCHEMA_VERSION:
        raise FailedPreconditionError(
            f"the database is at schema version {start}, newer than this release "
            f"knows ({SCHEMA_VERSION}): upgrade session-runtime",
            details={"schemaVersion": start, "supported": SCHEMA_VERSION},
        )
    for version in range(start, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have upgraded the file while this one waited for the lock.
            if schema_version(conn) != version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return start
