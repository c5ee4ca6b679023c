"""Sessions, for both SQL stores: inserting, reading, listing, the funnel, the sweeper's query,
and the idempotency records kept with sessions.

A part of ``SqliteStore`` and ``PostgresStore`` (mixed in), over their primitives
(``SqlStoreBase``). What each engine does its own way stays in its store: applying a mutation
(SQLite's writer keeps a session cache, PostgreSQL locks the row) and deleting one batch of a
purge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..domain.idempotency import IdempotencyClaim
from ..domain.models import Session
from ..domain.ports import PurgeCount, PurgeQuery, SessionQuery, StatsQuery
from ..domain.stats import StatsAggregate
from ..domain.timestamps import to_micros
from .idempotency_sql import keyed_record
from .json_columns import encode_checked
from .listing_sql import session_page_sql
from .reporting_sql import (
    PURGE_BATCH,
    Placeholders,
    PurgeTally,
    purge_count_sql,
    purge_filter,
    qmark,
    session_stats_plan,
    stale_sql,
)
from .rows import SESSION_COLUMNS, session_from_row, session_to_row
from .sql_base import SqlStoreBase, WritePlan, insert_plan
from .sql_plan import Statement

SESSION_INSERT = f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * 16)})"


class SessionRecords(SqlStoreBase):
    """The ``Store`` methods of sessions whose SQL both engines share."""

    purge_batch: int = PURGE_BATCH

    async def insert_session(
        self, session: Session, *, idempotency: IdempotencyClaim[Session] | None = None
    ) -> None:
        self._refuse_unstorable(
            {
                "projectId": session.project_id,
                "eventId": session.event_id,
                "experienceId": session.experience_id,
                "createdBy": session.created_by,
                "reason": session.end_reason,
            }
        )
        inputs, outputs = encode_checked(session.inputs, session.outputs)
        row = session_to_row(session, inputs, outputs)
        conflict = f"session {session.id!r} already exists"
        if idempotency is None:  # one statement: no transaction to open around it
            await self._insert(SESSION_INSERT, row, conflict)
            return
        record = keyed_record(idempotency, session)
        await self._run_write(insert_plan(SESSION_INSERT, row, conflict, record), idempotency)

    async def get_session(self, project_id: str, session_id: str) -> Session | None:
        row = await self._read_row(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ? AND project_id = ?",
            (session_id, project_id),
        )
        return None if row is None else session_from_row(row)

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        return [
            session_from_row(row) for row in await self._read_rows(*session_page_sql(query, qmark))
        ]

    async def session_stats(self, query: StatsQuery) -> StatsAggregate:
        if self._cannot_hold(query.project_id, query.event_id, query.experience_id):
            return StatsAggregate([])
        return await self._run_read(session_stats_plan(query))

    async def stale_sessions(self, updated_before: datetime, limit: int) -> list[tuple[str, str]]:
        rows = await self._read_rows(*stale_sql(qmark, to_micros(updated_before), limit))
        return [(row[0], row[1]) for row in rows]

    async def purge_sessions(self, query: PurgeQuery, *, dry_run: bool) -> list[PurgeCount]:
        if self._cannot_hold(query.project_id):
            return []
        if dry_run:
            return PurgeTally.counted(await self._read_rows(*purge_count_sql(query, qmark)))
        tally = PurgeTally()
        place = Placeholders(qmark)
        where = purge_filter(query, place)
        # One transaction per batch, so writes of live sessions go on in between.
        batch = self._purge_batch_plan
        while await self._run_write(batch(where, place.params, tally)) == self.purge_batch:
            pass
        return tally.result()

    def _purge_batch_plan(
        self, where: str, params: Sequence[Any], tally: PurgeTally
    ) -> WritePlan[int]:
        """Delete at most ``purge_batch`` sessions matching ``where`` and their idempotency
        records, adding them to ``tally``; return how many (each engine its own way)."""
        raise NotImplementedError

    # -- idempotency records --------------------------------------------------------------

    async def prune_idempotency_records(self, now: datetime) -> int:
        return await self._run_write(
            _counted("DELETE FROM idempotency_keys WHERE expires_at <= ?", (to_micros(now),))
        )

    async def delete_idempotency_records_for_sessions(
        self, project_id: str, session_ids: Sequence[str]
    ) -> int:
        storable = [session_id for session_id in session_ids if not self._cannot_hold(session_id)]
        if self._cannot_hold(project_id) or not storable:
            self._check_open()
            return 0
        dialect = self.dialect
        statement = (
            f"DELETE FROM idempotency_keys WHERE project_id = ? AND session_id {dialect.in_id_list}"
        )
        return await self._run_write(_counted(statement, (project_id, dialect.id_list(storable))))


def _counted(sql: str, params: tuple[object, ...]) -> WritePlan[int]:
    """One statement as a write, answering how many rows it changed."""
    count = yield Statement(sql, params, counts=True)
    return int(count), None
