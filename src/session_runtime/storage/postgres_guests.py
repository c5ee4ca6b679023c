"""What only the PostgreSQL store does for guests (``GuestRecords`` does the rest).

Erasing a guest announces each erased session on the change channel with version 0, so
subscribers on every node hear that it is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from .guest_records import GuestRecords
from .postgres_schema import NOTIFY_CHANNEL
from .sql_plan import Statement

ERASED_VERSION: Final = 0
"""The version a change notice carries for a session that was erased."""


class PostgresGuestRecords(GuestRecords):
    """Join links, share links and erasure over the store's pool."""

    def _erased(self, project_id: str, session_ids: Sequence[str]) -> Iterable[Statement]:
        for session_id in session_ids:
            yield Statement(
                "SELECT pg_notify(?, json_build_array(?::text, ?::text, ?::int)::text)",
                (NOTIFY_CHANNEL, project_id, session_id, ERASED_VERSION),
            )
