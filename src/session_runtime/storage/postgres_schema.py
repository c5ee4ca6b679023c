"""The PostgreSQL schema, versioned in a ``schema_migrations`` table and upgraded in place.

It mirrors ``sqlite_schema`` step by step, from the same statements (``schema_tables``; step
4, for the change listener, is PostgreSQL's own), so both stores hold the same data the same way:
timestamps are whole microseconds in ``bigint`` columns, which keeps list cursors identical.
``inputs`` and ``outputs`` are ``json``: the text the store encoded, kept as written.
``jsonb`` would re-parse every document on every write and turn numbers into decimals (a large
float such as ``5.373174357926853e+16`` comes back as a different integer), and nothing here
queries inside the documents.

Each migration is a list of statements run in one transaction together with its row in
``schema_migrations``, so a database is always at exactly one version. Every transaction first
takes a transaction-scoped advisory lock, so that several server nodes starting together
upgrade the database once, one after the other, instead of racing. A database from a newer
release is refused.
"""

from __future__ import annotations

from typing import Any, Final

from ..domain.errors import FailedPreconditionError
from ..domain.limits import holds_nul
from .reporting_sql import REPORTING_INDEXES
from .schema_tables import (
    CATALOG_AND_SESSIONS,
    END_REASON_AND_LIST_FILTERS,
    GUEST_TABLES,
    IDEMPOTENCY_TABLE,
    POSTGRES_TYPES,
)

NOTIFY_CHANNEL: Final = "session_changes"
"""Every committed insert or update of a session is announced here, as the JSON text
``[projectId, sessionId, version]``: ids and version only, never the document, because a
notification carries at most 8,000 bytes. Listeners read the session itself afterwards."""


MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the catalog, tokens and sessions.
    (
        *POSTGRES_TYPES.render(CATALOG_AND_SESSIONS),
        # Large documents are rewritten whole on every update: lz4 compresses them several
        # times faster than the default pglz. Servers built without lz4 (or older than 14)
        # keep the default.
        """DO $$
        BEGIN
            EXECUTE 'ALTER TABLE sessions ALTER COLUMN inputs SET COMPRESSION lz4, '
                'ALTER COLUMN outputs SET COMPRESSION lz4';
        EXCEPTION WHEN feature_not_supported OR syntax_error THEN
            RAISE NOTICE 'lz4 is not available: sessions keep the default compression';
        END
        $$""",
    ),
    # 2: why a session ended, an index for every list filter, and the change notification.
    (
        *POSTGRES_TYPES.render(END_REASON_AND_LIST_FILTERS),
        f"""CREATE FUNCTION notify_session_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(
                '{NOTIFY_CHANNEL}',
                json_build_array(NEW.project_id, NEW.id, NEW.version)::text
            );
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER sessions_notify AFTER INSERT OR UPDATE ON sessions "
        "FOR EACH ROW EXECUTE FUNCTION notify_session_change()",
    ),
    # 3: the funnel, the stale-session sweeper and retention.
    REPORTING_INDEXES,
    # 4 (PostgreSQL's own): a change listener that lost its connection reads what a project
    # missed by keyset on (updated_at, id), a page at a time, in this index's order.
    ("CREATE INDEX sessions_by_change ON sessions (project_id, updated_at, id)",),
    # 5: guests who arrive by a link; their share links are deleted with their session, by
    # erasure or by purge alike.
    (
        *POSTGRES_TYPES.render(GUEST_TABLES),
        """CREATE FUNCTION delete_share_links_of_session() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM share_links WHERE session_id = OLD.id;
            RETURN NULL;
        END
        $$""",
        "CREATE TRIGGER sessions_delete_share_links AFTER DELETE ON sessions "
        "FOR EACH ROW EXECUTE FUNCTION delete_share_links_of_session()",
    ),
    # Idempotency keys: each keyed write's key, request fingerprint and response.
    POSTGRES_TYPES.render(IDEMPOTENCY_TABLE),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)

MIGRATION_TIMEOUT: Final = 600.0
"""Seconds a migration step, or the wait for another node's, may take: building an index on a
large table takes minutes, far beyond the few seconds allowed to an operation. Opening a store
is not a request anybody waits on."""

_CREATE_VERSIONS: Final = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def quote_identifier(name: str) -> str:
    """``my"schema`` -> ``"my""schema"``: a name PostgreSQL reads back exactly as given."""
    if not name or holds_nul(name):
        raise ValueError(f"not a usable identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


async def schema_version(conn: Any) -> int:
    """The version the database is at; 0 when it holds no schema of ours yet."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(version)


async def _lock(conn: Any, schema: str | None) -> None:
    # One lock per schema: stores over different schemas of one database do not wait on each
    # other. Transaction-scoped, so it can never outlive a failed migration.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"session-runtime migrations {schema or '(search_path)'}",
        timeout=MIGRATION_TIMEOUT,
    )


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise FailedPreconditionError(
            f"the database is at schema version {version}, newer than this release "
            f"knows ({SCHEMA_VERSION}): upgrade session-runtime",
            details={"schemaVersion": version, "supported": SCHEMA_VERSION},
        )


async def migrate(conn: Any, *, schema: str | None = None, target: int = SCHEMA_VERSION) -> int:
    """Upgrade the database to ``target``; return the version it was at.

    ``conn`` is an asyncpg connection whose ``search_path`` starts with ``schema`` when one is
    given; the schema is created when missing. Raises ``FailedPreconditionError`` for a
    database whose schema is newer than this code, before changing anything.
    """
    async with conn.transaction():
        await _lock(conn, schema)
        start = await schema_version(conn)
        _refuse_newer(start)
        if start == 0:
            if schema is not None:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
            await conn.execute(_CREATE_VERSIONS)
    for version in range(start, target):
        async with conn.transaction():
            await _lock(conn, schema)
            # Another node may have upgraded the database while this one waited for the lock.
            current = await schema_version(conn)
            _refuse_newer(current)
            if current != version:
                continue
            # One round trip for the whole step (it is one transaction either way).
            await conn.execute(";\n".join(MIGRATIONS[version]), timeout=MIGRATION_TIMEOUT)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version + 1)
    return start
