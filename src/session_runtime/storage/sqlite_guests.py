"""What only the SQLite store does for guests (``GuestRecords`` does the rest).

Erasing a guest forgets the sessions it deleted from the writer's session cache, in the
erasing transaction (a transaction that rolls back forgets the whole cache anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .guest_records import GuestRecords
from .session_cache import SessionCache
from .sql_plan import Statement


class SqliteGuestRecords(GuestRecords):
    """Join links, share links and erasure over the store's writer and readers."""

    _cache: SessionCache

    def _erased(self, project_id: str, session_ids: Sequence[str]) -> Iterable[Statement]:
        for session_id in session_ids:
            self._cache.pop(session_id, None)
        return ()
