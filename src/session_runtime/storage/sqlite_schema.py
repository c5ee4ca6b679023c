"""The SQLite schema, versioned in ``PRAGMA user_version`` and upgraded in place.

Each migration is a list of statements run in one transaction together with the version bump,
so a file is always at exactly one version. A file from a newer release is refused.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ..domain.errors import FailedPreconditionError
from .reporting_sql import REPORTING_INDEXES
from .schema_tables import (
    CATALOG_AND_SESSIONS,
    END_REASON_AND_LIST_FILTERS,
    GUEST_TABLES,
    IDEMPOTENCY_TABLE,
    SQLITE_TYPES,
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the catalog, tokens and sessions.
    SQLITE_TYPES.render(CATALOG_AND_SESSIONS),
    # 2: why a session ended, and an index for every list filter.
    SQLITE_TYPES.render(END_REASON_AND_LIST_FILTERS),
    # 3: the funnel, the stale-session sweeper and retention.
    REPORTING_INDEXES,
    # Guests who arrive by a link; their share links are deleted with their session, by
    # erasure or by purge alike.
    (
        *SQLITE_TYPES.render(GUEST_TABLES),
        """CREATE TRIGGER sessions_delete_share_links AFTER DELETE ON sessions
        BEGIN
            DELETE FROM share_links WHERE session_id = OLD.id;
        END""",
    ),
    # Idempotency keys: each keyed write's key, request fingerprint and response.
    SQLITE_TYPES.render(IDEMPOTENCY_TABLE),
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
