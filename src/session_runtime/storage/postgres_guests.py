"""The guest tables on PostgreSQL: ``GuestRecords`` over the store's pool.

What only PostgreSQL does: erasing a guest announces each erased session on the change
channel with version 0, so subscribers on every node hear that it is gone; and a value with a
NUL, which its text cannot hold, is refused on the way in and matches nothing on the way out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from ..domain.limits import holds_nul, refuse_nul
from .guest_records import GuestRecords
from .postgres_schema import NOTIFY_CHANNEL
from .sql_plan import POSTGRES, Statement

ERASED_VERSION: Final = 0
"""The version a change notice carries for a session that was erased."""


class PostgresGuestRecords(GuestRecords):
    """Join links, share links and erasure over the store's pool."""

    dialect = POSTGRES

    def _check_open(self) -> None:
        raise NotImplementedError  # PostgresStore's

    def _erased(self, project_id: str, session_ids: Sequence[str]) -> Iterable[Statement]:
        for session_id in session_ids:
            yield Statement(
                "SELECT pg_notify(?, json_build_array(?::text, ?::text, ?::int)::text)",
                (NOTIFY_CHANNEL, project_id, session_id, ERASED_VERSION),
            )

    def _cannot_hold(self, *values: str | None) -> bool:
        if holds_nul(*values):
            self._check_open()  # a closed store says so, whatever it is asked
            return True
        return False

    def _refuse_unstorable(self, fields: Mapping[str, str | None]) -> None:
        refuse_nul(fields)
