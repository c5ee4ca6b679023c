"""The scale-out store: PostgreSQL through an asyncpg connection pool.

Several server nodes share one database, so this store keeps no state of its own between
operations (no session cache as SQLite's single writer has): every operation is one statement
or one transaction on a pooled connection, and ``update_session`` locks the row with
``SELECT ... FOR UPDATE`` while it applies the mutation, so concurrent writers on any node are
serialised and never lose each other's keys.

Everything that keeps PostgreSQL from answering becomes ``UnavailableError`` quickly: connecting,
waiting for a pooled connection and every command are bounded by timeouts of a few seconds, so
a request never hangs on a database that is down. The pool replaces broken connections, so once
the database is back new operations work again without reopening the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import orjson

from ..domain.errors import NotFoundError, UnavailableError
from ..domain.idempotency import IdempotencyClaim
from ..domain.limits import holds_nul, refuse_nul
from ..domain.models import Session
from ..domain.ports import SessionMutation
from .catalog_records import CatalogRecords
from .idempotency_sql import (
    keyed_record,
    postgres_keep,
    postgres_resolve,
)
from .postgres_connection import (
    OUTAGES,
    check_encoding,
    init_connection,
    keep_session,
    storage_errors,
)
from .postgres_guests import PostgresGuestRecords
from .postgres_rows import session_changes
from .postgres_schema import migrate, quote_identifier
from .reporting_sql import (
    PurgeTally,
)
from .rows import (
    SESSION_COLUMNS,
    session_from_row,
)
from .session_records import SessionRecords
from .sql_base import WritePlan
from .sql_plan import POSTGRES, Plan, Statement, numbered_placeholders, run_plan_async

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PostgresStore(CatalogRecords, SessionRecords, PostgresGuestRecords):
    """A ``Store`` on a PostgreSQL database, shared by any number of server nodes.

    ``schema`` puts every table in that schema (created when missing), through the
    connections' ``search_path``; tests use it to give each test a database of its own.

    >>> async with PostgresStore("postgresql://app@db/sessions") as store:  # doctest: +SKIP
    ...     await store.get_project("p1")
    """

    dialect = POSTGRES

    def __init__(
        self,
        dsn: str,
        *,
        min_pool: int = 2,
        max_pool: int = 10,
        connect_timeout: float = 3.0,
        command_timeout: float = 5.0,
        schema: str | None = None,
    ) -> None:
        if not 0 <= min_pool <= max_pool or max_pool < 1:
            raise ValueError("need 0 <= min_pool <= max_pool and max_pool >= 1")
        if connect_timeout <= 0 or command_timeout <= 0:
            raise ValueError("timeouts must be positive")
        self._dsn = dsn
        self.min_pool = min_pool
        self.max_pool = max_pool
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.schema = schema
        # Waiting for a pooled connection is bounded like one command: a pool exhausted for
        # longer than that is as good as unavailable, and the caller may retry.
        self.acquire_timeout = max(connect_timeout, command_timeout)
        # A node that dies or loses the network inside a transaction would keep its row locks
        # until the server noticed the dead connection (TCP keepalive: hours). Our transactions
        # never sit idle longer than a command, so the server may end one that does.
        self._server_settings = {
            "idle_in_transaction_session_timeout": str(int(command_timeout * 2000)),
        }
        if schema is not None:
            self._server_settings["search_path"] = quote_identifier(schema)
        self._pool: Any = None

    @property
    def dsn(self) -> str:
        """Where the database is, as given (a listener opens its own connection there)."""
        return self._dsn

    # -- life cycle -----------------------------------------------------------------------

    def _connect_options(self) -> dict[str, Any]:
        """What every connection of the store is opened with, pooled or the listener's."""
        return {
            "dsn": self._dsn,
            "timeout": self.connect_timeout,
            "command_timeout": self.command_timeout,
            "server_settings": self._server_settings,
        }

    async def open(self) -> None:
        """Create the pool and bring the schema to the version this code knows."""
        if self._pool is not None:
            return
        with storage_errors():
            pool = await asyncpg.create_pool(
                min_size=self.min_pool,
                max_size=self.max_pool,
                init=init_connection,
                reset=keep_session,
                **self._connect_options(),
            )
        try:
            with storage_errors():
                async with pool.acquire(timeout=self.acquire_timeout) as conn:
                    await check_encoding(conn)
                    start = await migrate(conn, schema=self.schema)
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool
        logger.info("postgres store open (schema %s, was at version %d)", self.schema, start)

    async def close(self) -> None:
        """Let operations in flight finish (they are bounded by timeouts), then disconnect."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), timeout=self.acquire_timeout + 1.0)
        except OUTAGES:
            pool.terminate()

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect_listener(self) -> asyncpg.Connection:
        """One dedicated connection outside the pool, for ``LISTEN``.

        It uses the store's schema and ``json`` codec; the caller closes it.
        """
        with storage_errors():
            conn = await asyncpg.connect(**self._connect_options())
            try:
                await init_connection(conn)
            except BaseException:
                conn.terminate()
                raise
            return conn

    @asynccontextmanager
    async def _connection(self, conflict: str | None = None) -> AsyncIterator[Any]:
        self._check_open()
        pool = self._pool
        with storage_errors(conflict):
            async with pool.acquire(timeout=self.acquire_timeout) as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self, conflict: str | None = None) -> AsyncIterator[Any]:
        async with self._connection(conflict) as conn, conn.transaction():
            yield conn

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        if holds_nul(*params):  # a key no stored row can have; PostgreSQL would refuse it
            self._check_open()
            return []
        async with self._connection() as conn:
            rows: list[Any] = await conn.fetch(sql, *params)
            return rows

    async def _read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._fetch(numbered_placeholders(sql), *params)

    async def _read_row(self, sql: str, params: Sequence[Any]) -> Any:
        rows = await self._read_rows(sql, params)
        return rows[0] if rows else None

    async def _run_read(self, plan: Plan[T]) -> T:
        async with self._connection() as conn:
            return await run_plan_async(conn, plan)

    async def _run_write(
        self, plan: WritePlan[T], idempotency: IdempotencyClaim[Any] | None = None
    ) -> T:
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            result, record = await run_plan_async(conn, plan)
            await postgres_keep(conn, record)
        return result

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        # Without a transaction around it: one statement commits alone, in one round trip.
        async with self._connection(conflict) as conn:
            await conn.execute(numbered_placeholders(sql), *params)

    def _check_open(self) -> None:
        if self._pool is None:
            raise UnavailableError("the store is closed")

    def _cannot_hold(self, *values: str | None) -> bool:
        if holds_nul(*values):
            self._check_open()  # a closed store says so, whatever it is asked
            return True
        return False

    def _refuse_unstorable(self, fields: Mapping[str, str | None]) -> None:
        refuse_nul(fields)

    # -- sessions -------------------------------------------------------------------------

    async def sessions_changed_after(
        self, project_id: str, after: tuple[int, str], limit: int
    ) -> list[Session]:
        """One page of the project's sessions written after ``after``, oldest change first.

        ``after`` is a position in the order of changes, ``(updated_at in microseconds, id)``,
        and the page goes on from there by keyset in the ``sessions_by_change`` index, so a
        listener that lost its connection reads what it missed a bounded page at a time.
        """
        rows = await self._read_rows(
            f"SELECT {SESSION_COLUMNS} FROM sessions "
            "WHERE project_id = ? AND (updated_at, id) > (?, ?) "
            "ORDER BY updated_at, id LIMIT ?",
            (project_id, after[0], after[1], limit),
        )
        return [session_from_row(row) for row in rows]

    async def update_session(
        self,
        project_id: str,
        session_id: str,
        mutation: SessionMutation,
        *,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> tuple[Session, bool]:
        if self._cannot_hold(project_id, session_id):
            raise NotFoundError.of("session", session_id)
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            row = await conn.fetchrow(
                f"SELECT {SESSION_COLUMNS} FROM sessions "
                "WHERE id = $1 AND project_id = $2 FOR UPDATE",
                session_id,
                project_id,
            )
            if row is None:
                raise NotFoundError.of("session", session_id)
            current = session_from_row(row)
            updated = mutation(current)
            if updated is None:
                await postgres_keep(conn, keyed_record(idempotency, current))
                return current, False
            refuse_nul({"reason": updated.end_reason})
            assignments, values, sent = session_changes(current, updated)
            values.append(session_id)
            await conn.execute(
                f"UPDATE sessions SET {', '.join(assignments)} WHERE id = ${len(values)}",
                *values,
            )
            await postgres_keep(conn, keyed_record(idempotency, updated))
        # Decoded afresh from what was sent, as a reader would get it (tuples become lists,
        # read-only mappings dicts), sharing nothing with the caller; after the commit, so the
        # row is not held locked meanwhile.
        return updated.evolve(**{column: orjson.loads(text) for column, text in sent.items()}), True

    # -- retention ------------------------------------------------------------------------

    def _purge_batch_plan(
        self, where: str, params: Sequence[Any], tally: PurgeTally
    ) -> WritePlan[int]:
        # A row another transaction holds is left for the next batch rather than waited on.
        # Their stored responses hold their data: gone with them, in the same statement.
        rows = yield Statement(
            "WITH gone AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
            f"WHERE {where} LIMIT {int(self.purge_batch)} FOR UPDATE SKIP LOCKED) "
            "RETURNING id, project_id, mode, status), "
            "keys AS (DELETE FROM idempotency_keys k USING gone "
            "WHERE k.project_id = gone.project_id AND k.session_id = gone.id) "
            "SELECT project_id, mode, status FROM gone",
            params,
        )
        for project_id, mode, status in rows:
            tally.add(project_id, mode, status)
        return len(rows), None
