"""The catalog and its tokens, for both SQL stores: projects, events, experiences, tokens.

A part of ``SqliteStore`` and ``PostgresStore`` (mixed in), over their primitives
(``SqlStoreBase``). Events and experiences are alike: rows of ``(project_id, id, name,
created_at)`` in a table of their own, so one set of statements serves both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.models import Event, Experience, Project
from ..domain.timestamps import to_micros
from ..domain.tokens import TokenRecord
from .rows import (
    PART_COLUMNS,
    TOKEN_COLUMNS,
    TOKEN_INSERT,
    part_from_row,
    project_from_row,
    token_from_row,
    token_to_row,
)
from .sql_base import SqlStoreBase, WritePlan
from .sql_plan import Statement

_PROJECT_COLUMNS = "id, name, created_at"


class CatalogRecords(SqlStoreBase):
    """The ``Store`` methods of the catalog and of tokens."""

    # -- projects -------------------------------------------------------------------------

    async def insert_project(self, project: Project) -> None:
        self._refuse_unstorable({"id": project.id, "name": project.name})
        await self._insert(
            f"INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES (?, ?, ?)",
            (project.id, project.name, to_micros(project.created_at)),
            f"project {project.id!r} already exists",
        )

    async def get_project(self, project_id: str) -> Project | None:
        row = await self._read_row(
            f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE id = ?", (project_id,)
        )
        return None if row is None else project_from_row(row)

    async def list_projects(self) -> list[Project]:
        rows = await self._read_rows(
            f"SELECT {_PROJECT_COLUMNS} FROM projects ORDER BY created_at, id"
        )
        return [project_from_row(row) for row in rows]

    # -- events and experiences -----------------------------------------------------------

    async def insert_event(self, event: Event) -> None:
        await self._insert_part("events", event.project_id, event.id, event.name, event.created_at)

    async def get_event(self, project_id: str, event_id: str) -> Event | None:
        row = await self._get_part("events", project_id, event_id)
        return None if row is None else Event(**row)

    async def list_events(self, project_id: str) -> list[Event]:
        return [Event(**row) for row in await self._list_parts("events", project_id)]

    async def insert_experience(self, experience: Experience) -> None:
        await self._insert_part(
            "experiences",
            experience.project_id,
            experience.id,
            experience.name,
            experience.created_at,
        )

    async def get_experience(self, project_id: str, experience_id: str) -> Experience | None:
        row = await self._get_part("experiences", project_id, experience_id)
        return None if row is None else Experience(**row)

    async def list_experiences(self, project_id: str) -> list[Experience]:
        return [Experience(**row) for row in await self._list_parts("experiences", project_id)]

    async def _insert_part(
        self, table: str, project_id: str, part_id: str, name: str, created_at: datetime
    ) -> None:
        self._refuse_unstorable({"projectId": project_id, "id": part_id, "name": name})
        await self._insert(
            f"INSERT INTO {table} ({PART_COLUMNS}) VALUES (?, ?, ?, ?)",
            (part_id, project_id, name, to_micros(created_at)),
            f"{table[:-1]} {part_id!r} already exists in project {project_id!r}",
        )

    async def _get_part(self, table: str, project_id: str, part_id: str) -> dict[str, Any] | None:
        """The part as keyword arguments for its model (``part_from_row``), or ``None``."""
        row = await self._read_row(
            f"SELECT {PART_COLUMNS} FROM {table} WHERE project_id = ? AND id = ?",
            (project_id, part_id),
        )
        return None if row is None else part_from_row(row)

    async def _list_parts(self, table: str, project_id: str) -> list[dict[str, Any]]:
        """The project's parts, oldest first, as keyword arguments for their model."""
        rows = await self._read_rows(
            f"SELECT {PART_COLUMNS} FROM {table} WHERE project_id = ? ORDER BY created_at, id",
            (project_id,),
        )
        return [part_from_row(row) for row in rows]

    # -- tokens ---------------------------------------------------------------------------

    async def insert_token(self, token: TokenRecord) -> None:
        self._refuse_unstorable(
            {"projectId": token.project_id, "user": token.user, "eventId": token.event_id}
        )
        await self._insert(TOKEN_INSERT, token_to_row(token), f"token {token.id!r} already exists")

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        row = await self._read_row(
            f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)
        )
        return None if row is None else token_from_row(row)

    async def list_tokens(self, project_id: str) -> list[TokenRecord]:
        rows = await self._read_rows(
            f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE project_id = ? ORDER BY created_at, id",
            (project_id,),
        )
        return [token_from_row(row) for row in rows]

    async def revoke_token(self, token_id: str, revoked_at: datetime) -> TokenRecord | None:
        if self._cannot_hold(token_id):
            return None
        return await self._run_write(_revoke_token_plan(token_id, revoked_at))


def _revoke_token_plan(token_id: str, revoked_at: datetime) -> WritePlan[TokenRecord | None]:
    # One statement: the first revocation's time stands, and the row comes back either way.
    rows = yield Statement(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? "
        f"RETURNING {TOKEN_COLUMNS}",
        (to_micros(revoked_at), token_id),
    )
    return (token_from_row(rows[0]) if rows else None), None
