"""The guest tables on SQLite: ``GuestRecords`` over the store's one writer and its readers.

Every write is one transaction of the writer's group commit, as every other write of the
store. What only SQLite does is forget the sessions a guest's erasure deleted from the
writer's session cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .guest_records import GuestRecords
from .session_cache import SessionCache
from .sql_plan import SQLITE, Statement


class SqliteGuestRecords(GuestRecords):
    """Join links, share links and erasure over the store's writer and readers."""

    dialect = SQLITE
    _cache: SessionCache

    def _erased(self, project_id: str, session_ids: Sequence[str]) -> Iterable[Statement]:
        for session_id in session_ids:
            self._cache.pop(session_id, None)
        return ()
