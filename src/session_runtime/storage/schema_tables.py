"""The tables and indexes both stores create, written once over each dialect's type names.

SQLite and PostgreSQL hold the same data the same way (see ``postgres_schema``): the same
columns, constraints and indexes; only the names of the types differ, and SQLite's tables are
``STRICT``. Each statement is written with ``{text}``, ``{bigint}`` and the like, and a
``ColumnTypes`` fills them in. What only one engine has (PostgreSQL's notification and lz4,
SQLite's trigger syntax) stays in that engine's schema module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ColumnTypes:
    """One engine's names for the kinds of value the tables hold."""

    text: str
    integer: str  # small numbers (an HTTP status)
    bigint: str  # timestamps in microseconds, counters, versions
    json: str  # a JSON document, kept as the text the store encoded
    bytes: str
    strict: str  # what ends a ``CREATE TABLE`` (SQLite's `` STRICT``)

    def render(self, statements: tuple[str, ...]) -> tuple[str, ...]:
        names = asdict(self)
        return tuple(statement.format_map(names) for statement in statements)


SQLITE_TYPES: Final = ColumnTypes(
    text="TEXT", integer="INTEGER", bigint="INTEGER", json="TEXT", bytes="BLOB", strict=" STRICT"
)
POSTGRES_TYPES: Final = ColumnTypes(
    text="text", integer="integer", bigint="bigint", json="json", bytes="bytea", strict=""
)


def _part_table(name: str) -> str:
    """The table of one part of the catalog (``events``, ``experiences``): the two are alike."""
    return f"""CREATE TABLE {name} (
            project_id {{text}} NOT NULL REFERENCES projects (id),
            id {{text}} NOT NULL,
            name {{text}} NOT NULL,
            created_at {{bigint}} NOT NULL,
            PRIMARY KEY (project_id, id)
        ){{strict}}"""


CATALOG_AND_SESSIONS: Final[tuple[str, ...]] = (
    """CREATE TABLE projects (
            id {text} PRIMARY KEY,
            name {text} NOT NULL,
            created_at {bigint} NOT NULL
        ){strict}""",
    _part_table("events"),
    _part_table("experiences"),
    # ``user`` is a reserved word in PostgreSQL; SQLite reads the quoted name alike.
    """CREATE TABLE tokens (
            id {text} PRIMARY KEY,
            project_id {text} NOT NULL REFERENCES projects (id),
            kind {text} NOT NULL CHECK (kind IN ('member', 'guest')),
            token_hash {text} NOT NULL UNIQUE,
            "user" {text},
            role {text} CHECK (role IN ('owner', 'editor', 'viewer')),
            event_id {text},
            created_at {bigint} NOT NULL,
            revoked_at {bigint}
        ){strict}""",
    """CREATE TABLE sessions (
            id {text} PRIMARY KEY,
            project_id {text} NOT NULL,
            event_id {text} NOT NULL,
            experience_id {text} NOT NULL,
            mode {text} NOT NULL CHECK (mode IN ('preview', 'guest')),
            config_source {text} NOT NULL CHECK (config_source IN ('draft', 'published')),
            status {text} NOT NULL
                CHECK (status IN ('active', 'completed', 'abandoned', 'error')),
            current_step_index {bigint} NOT NULL CHECK (current_step_index >= 0),
            inputs {json} NOT NULL,
            outputs {json} NOT NULL,
            created_by {text} NOT NULL,
            created_at {bigint} NOT NULL,
            updated_at {bigint} NOT NULL,
            completed_at {bigint},
            version {bigint} NOT NULL CHECK (version >= 1)
        ){strict}""",
    "CREATE INDEX sessions_by_project ON sessions (project_id, created_at DESC, id DESC)",
)
"""Step 1: the catalog, tokens and sessions."""

END_REASON_AND_LIST_FILTERS: Final[tuple[str, ...]] = (
    "ALTER TABLE sessions ADD COLUMN end_reason {text}",
    "CREATE INDEX sessions_by_event ON sessions (project_id, event_id, created_at DESC, id DESC)",
    "CREATE INDEX sessions_by_experience "
    "ON sessions (project_id, experience_id, created_at DESC, id DESC)",
    "CREATE INDEX sessions_by_status ON sessions (project_id, status, created_at DESC, id DESC)",
    "CREATE INDEX sessions_by_creator "
    "ON sessions (project_id, created_by, created_at DESC, id DESC)",
)
"""Step 2: why a session ended, and an index for every list filter."""

GUEST_TABLES: Final[tuple[str, ...]] = (
    "ALTER TABLE tokens ADD COLUMN expires_at {bigint}",
    """CREATE TABLE join_links (
            id {text} PRIMARY KEY,
            project_id {text} NOT NULL REFERENCES projects (id),
            event_id {text},
            label {text},
            code {text} NOT NULL UNIQUE,
            created_by {text} NOT NULL,
            created_at {bigint} NOT NULL,
            expires_at {bigint},
            max_guests {bigint} CHECK (max_guests >= 1),
            joined_count {bigint} NOT NULL DEFAULT 0 CHECK (joined_count >= 0),
            revoked_at {bigint}
        ){strict}""",
    "CREATE INDEX join_links_by_project ON join_links (project_id, created_at, id)",
    """CREATE TABLE share_links (
            id {text} PRIMARY KEY,
            project_id {text} NOT NULL,
            session_id {text} NOT NULL,
            code_hash {text} NOT NULL UNIQUE,
            created_by {text} NOT NULL,
            created_at {bigint} NOT NULL,
            expires_at {bigint} NOT NULL,
            revoked_at {bigint}
        ){strict}""",
    "CREATE INDEX share_links_by_session ON share_links (session_id, created_at, id)",
)
"""Guests who arrive by a link: tokens that expire, join links, share links (each engine adds
the trigger that deletes a session's share links with it)."""

IDEMPOTENCY_TABLE: Final[tuple[str, ...]] = (
    """CREATE TABLE idempotency_keys (
        caller {text} NOT NULL,
        idempotency_key {text} NOT NULL,
        fingerprint {text} NOT NULL,
        status {integer} NOT NULL,
        headers {text} NOT NULL,
        body {bytes} NOT NULL,
        project_id {text},
        session_id {text},
        created_at {bigint} NOT NULL,
        expires_at {bigint} NOT NULL,
        PRIMARY KEY (caller, idempotency_key)
    ){strict}""",
    "CREATE INDEX idempotency_keys_by_session ON idempotency_keys (session_id)",
    "CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at)",
)
"""Idempotency keys: each keyed write's key, request fingerprint and response."""
