"""Rows of the SQLite schema: the column lists that differ from PostgreSQL's (see ``rows``)."""

from __future__ import annotations

from typing import Final

TOKEN_COLUMNS: Final = (
    "id, project_id, kind, token_hash, user, role, event_id, created_at, revoked_at"
)
