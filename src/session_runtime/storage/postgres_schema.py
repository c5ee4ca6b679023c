"""The PostgreSQL schema, versioned in a ``schema_migrations`` table and upgraded in place.

It mirrors ``sqlite_schema`` step by step (step 4, for the change listener, is PostgreSQL's
own), so both stores hold the same data the same way:
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

NOTIFY_CHANNEL: Final = "session_changes"
"""Every committed insert or update of a session is announced here, as the JSON text
``[projectId, sessionId, version]``: ids and version only, never the document, because a
notification carries at most 8,000 bytes. Listeners read the session itself afterwards."""


def _part_table(name: str) -> str:
    """The table of one part of the catalog (``events``, ``experiences``): the two are alike."""
    return f"""CREATE TABLE {name} (
            project_id text NOT NULL REFERENCES projects (id),
            id text NOT NULL,
            name text NOT NULL,
            created_at bigint NOT NULL,
            PRIMARY KEY (project_id, id)
        )"""


MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: the catalog, tokens and sessions.
    (
        """CREATE TABLE projects (
            id text PRIMARY KEY,
            name text NOT NULL,
            created_at bigint NOT NULL
        )""",
        _part_table("events"),
        _part_table("experiences"),
        """CREATE TABLE tokens (
            id text PRIMARY KEY,
            project_id text NOT NULL REFERENCES projects (id),
            kind text NOT NULL CHECK (kind IN ('member', 'guest')),
            token_hash text NOT NULL UNIQUE,
            "user" text,
            role text CHECK (role IN ('owner', 'editor', 'viewer')),
            event_id text,
            created_at bigint NOT NULL,
            revoked_at bigint
        )""",
        """CREATE TABLE sessions (
            id text PRIMARY KEY,
            project_id text NOT NULL,
            event_id text NOT NULL,
            experience_id text NOT NULL,
            mode text NOT NULL CHECK (mode IN ('preview', 'guest')),
            config_source text NOT NULL CHECK (config_source IN ('draft', 'published')),
            status text NOT NULL
                CHECK (status IN ('active', 'completed', 'abandoned', 'error')),
            current_step_index bigint NOT NULL CHECK (current_step_index >= 0),
            inputs json NOT NULL,
            outputs json NOT NULL,
            created_by text NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            completed_at bigint,
            version bigint NOT NULL CHECK (version >= 1)
        )""",
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
        "CREATE INDEX sessions_by_project ON sessions (project_id, created_at DESC, id DESC)",
    ),
    # 2: why a session ended, an index for every list filter, and the change notification.
    (
        "ALTER TABLE sessions ADD COLUMN end_reason text",
        "CREATE INDEX sessions_by_event "
        "ON sessions (project_id, event_id, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_experience "
        "ON sessions (project_id, experience_id, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_status "
        "ON sessions (project_id, status, created_at DESC, id DESC)",
        "CREATE INDEX sessions_by_creator "
        "ON sessions (project_id, created_by, created_at DESC, id DESC)",
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
