"""Events and experiences: the two parts of a project's catalog, stored alike by every store.

Both are rows of ``(project_id, id, name, created_at)`` in a table of their own. A store gives
the three statements on such a table (``_insert_part``, ``_get_part``, ``_list_parts``) and
inherits the six ``Store`` methods from ``CatalogParts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.models import Event, Experience


class CatalogParts:
    """The ``Store`` methods of events and experiences, over a store's three part statements."""

    async def _insert_part(
        self, table: str, project_id: str, part_id: str, name: str, created_at: datetime
    ) -> None:
        raise NotImplementedError

    async def _get_part(self, table: str, project_id: str, part_id: str) -> dict[str, Any] | None:
        """The part as keyword arguments for its model (``part_from_row``), or ``None``."""
        raise NotImplementedError

    async def _list_parts(self, table: str, project_id: str) -> list[dict[str, Any]]:
        """The project's parts, oldest first, as keyword arguments for their model."""
        raise NotImplementedError

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
