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
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson

from ..domain.errors import NotFoundError, UnavailableError
from ..domain.idempotency import IdempotencyClaim
from ..domain.limits import holds_nul, refuse_nul
from ..domain.models import Project, Session
from ..domain.ports import PurgeCount, PurgeQuery, SessionMutation, SessionQuery, StatsQuery
from ..domain.stats import StatsAggregate
from ..domain.timestamps import to_micros
from ..domain.tokens import TokenRecord
from .catalog_parts import CatalogParts
from .guest_records import KeyedPlan
from .idempotency_sql import (
    DELETE_FOR_SESSIONS_POSTGRES,
    PRUNE_POSTGRES,
    keyed_record,
    postgres_keep,
    postgres_resolve,
)
from .json_columns import encode_checked
from .listing_sql import session_page_sql
from .postgres_connection import (
    OUTAGES,
    check_encoding,
    init_connection,
    keep_session,
    storage_errors,
)
from .postgres_guests import PostgresGuestRecords
from .postgres_rows import placeholders, session_changes
from .postgres_schema import migrate, quote_identifier
from .reporting_sql import (
    PURGE_BATCH,
    Placeholders,
    PurgeTally,
    numbered,
    purge_count_sql,
    purge_filter,
    session_stats_plan,
    stale_sql,
)
from .rows import (
    PART_COLUMNS,
    SESSION_COLUMNS,
    TOKEN_COLUMNS,
    part_from_row,
    project_from_row,
    session_from_row,
    session_to_row,
    token_from_row,
    token_to_row,
)
from .sql_plan import numbered_placeholders, run_plan_async

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PostgresStore(CatalogParts, PostgresGuestRecords):
    """A ``Store`` on a PostgreSQL database, shared by any number of server nodes.

    ``schema`` puts every table in that schema (created when missing), through the
    connections' ``search_path``; tests use it to give each test a database of its own.

    >>> async with PostgresStore("postgresql://app@db/sessions") as store:  # doctest: +SKIP
    ...     await store.get_project("p1")
    """

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
        self.purge_batch = PURGE_BATCH
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

    async def _fetch_one(self, sql: str, *params: Any) -> Any:
        rows = await self._fetch(sql, *params)
        return rows[0] if rows else None

    async def _read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._fetch(numbered_placeholders(sql), *params)

    async def _read_row(self, sql: str, params: Sequence[Any]) -> Any:
        rows = await self._read_rows(sql, params)
        return rows[0] if rows else None

    async def _run_keyed(self, plan: KeyedPlan[T], idempotency: IdempotencyClaim[Any] | None) -> T:
        async with self._transaction() as conn:
            await postgres_resolve(conn, idempotency)
            result, record = await run_plan_async(conn, plan)
            await postgres_keep(conn, record)
        return result

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        async with self._connection(conflict) as conn:
            await conn.execute(sql, *params)

    def _check_open(self) -> None:
        if self._pool is None:
            raise UnavailableError("the store is closed")

    # -- catalog --------------------------------------------------------------------------

    async def insert_project(self, project: Project) -> None:
        refuse_nul({"id": project.id, "name": project.name})
        await self._insert(
            "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)",
            (project.id, project.name, to_micros(project.created_at)),
            f"project {project.id!r} already exists",
        )

    async def get_project(self, project_id: str) -> Project | None:
        row = await self._fetch_one(
            "SELECT id, name, created_at FROM projects WHERE id = $1", project_id
        )
        return None if row is None else project_from_row(row)

    async def list_projects(self) -> list[Project]:
        rows = await self._fetch(
            "SELECT id, name, created_at FROM projects ORDER BY created_at, id"
        )
        return [project_from_row(row) for row in rows]

    async def _insert_part(
        self, table: str, project_id: str, part_id: str, name: str, created_at: datetime
    ) -> None:
        refuse_nul({"projectId": project_id, "id": part_id, "name": name})
        await self._insert(
            f"INSERT INTO {table} (project_id, id, name, created_at) VALUES ($1, $2, $3, $4)",
            (project_id, part_id, name, to_micros(created_at)),
            f"{table[:-1]} {part_id!r} already exists in project {project_id!r}",
        )

    async def _get_part(self, table: str, project_id: str, part_id: str) -> dict[str, Any] | None:
        row = await self._fetch_one(
            f"SELECT {PART_COLUMNS} FROM {table} WHERE project_id = $1 AND id = $2",
            project_id,
            part_id,
        )
        return None if row is None else part_from_row(row)

    async def _list_parts(self, table: str, project_id: str) -> list[dict[str, Any]]:
        rows = await self._fetch(
            f"SELECT {PART_COLUMNS} FROM {table} WHERE project_id = $1 ORDER BY created_at, id",
            project_id,
        )
        return [part_from_row(row) for row in rows]

    # -- tokens ---------------------------------------------------------------------------

    async def insert_token(self, token: TokenRecord) -> None:
        refuse_nul({"projectId": token.project_id, "user": token.user, "eventId": token.event_id})
        await self._insert(
            f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES ({placeholders(10)})",
            token_to_row(token),
            f"token {token.id!r} already exists",
        )

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        row = await self._fetch_one(
            f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1", token_hash
        )
        return None if row is None else token_from_row(row)

    async def list_tokens(self, project_id: str) -> list[TokenRecord]:
        rows = await self._fetch(
            f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE project_id = $1 ORDER BY created_at, id",
            project_id,
        )
        return [token_from_row(row) for row in rows]

    async def revoke_token(self, token_id: str, revoked_at: datetime) -> TokenRecord | None:
        # One statement: the first revocation's time stands, and the row comes back either way.
        row = await self._fetch_one(
            f"UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 "
            f"RETURNING {TOKEN_COLUMNS}",
            token_id,
            to_micros(revoked_at),
        )
        return None if row is None else token_from_row(row)

    # -- sessions -------------------------------------------------------------------------

    async def insert_session(
        self, session: Session, *, idempotency: IdempotencyClaim[Session] | None = None
    ) -> None:
        refuse_nul(
            {
                "projectId": session.project_id,
                "eventId": session.event_id,
                "experienceId": session.experience_id,
                "createdBy": session.created_by,
                "reason": session.end_reason,
            }
        )
        inputs, outputs = encode_checked(session.inputs, session.outputs)
        sql = f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({placeholders(16)})"
        row = session_to_row(session, inputs, outputs)
        if idempotency is None:
            await self._insert(sql, row, f"session {session.id!r} already exists")
            return
        record = keyed_record(idempotency, session)
        async with self._transaction(f"session {session.id!r} already exists") as conn:
            await postgres_resolve(conn, idempotency)
            await conn.execute(sql, *row)
            await postgres_keep(conn, record)

    async def get_session(self, project_id: str, session_id: str) -> Session | None:
        row = await self._fetch_one(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1 AND project_id = $2",
            session_id,
            project_id,
        )
        return None if row is None else session_from_row(row)

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        sql, params = session_page_sql(query, numbered)
        return [session_from_row(row) for row in await self._fetch(sql, *params)]

    async def sessions_changed_after(
        self, project_id: str, after: tuple[int, str], limit: int
    ) -> list[Session]:
        """One page of the project's sessions written after ``after``, oldest change first.

        ``after`` is a position in the order of changes, ``(updated_at in microseconds, id)``,
        and the page goes on from there by keyset in the ``sessions_by_change`` index, so a
        listener that lost its connection reads what it missed a bounded page at a time.
        """
        if holds_nul(project_id, after[1]):
            self._check_open()
            return []
        rows = await self._fetch(
            f"SELECT {SESSION_COLUMNS} FROM sessions "
            "WHERE project_id = $1 AND (updated_at, id) > ($2, $3) "
            "ORDER BY updated_at, id LIMIT $4",
            project_id,
            after[0],
            after[1],
            limit,
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
        if holds_nul(project_id, session_id):
            self._check_open()
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

    # -- reporting and retention ----------------------------------------------------------

    async def session_stats(self, query: StatsQuery) -> StatsAggregate:
        if holds_nul(query.project_id, query.event_id, query.experience_id):
            self._check_open()
            return StatsAggregate([])
        async with self._connection() as conn:
            return await run_plan_async(conn, session_stats_plan(query))

    async def stale_sessions(self, updated_before: datetime, limit: int) -> list[tuple[str, str]]:
        sql, params = stale_sql(numbered, to_micros(updated_before), limit)
        return [(row[0], row[1]) for row in await self._fetch(sql, *params)]

    async def purge_sessions(self, query: PurgeQuery, *, dry_run: bool) -> list[PurgeCount]:
        if holds_nul(query.project_id):
            self._check_open()
            return []
        if dry_run:
            sql, params = purge_count_sql(query, numbered)
            return PurgeTally.counted(await self._fetch(sql, *params))
        tally = PurgeTally()
        place = Placeholders(numbered)
        where = purge_filter(query, place)
        # One transaction per batch, so writes of live sessions go on in between; a row
        # another transaction holds is left for the next batch rather than waited on.
        # Their stored responses hold their data: gone with them, in the same statement.
        sql = (
            "WITH gone AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions "
            f"WHERE {where} LIMIT {int(self.purge_batch)} FOR UPDATE SKIP LOCKED) "
            "RETURNING id, project_id, mode, status), "
            "keys AS (DELETE FROM idempotency_keys k USING gone "
            "WHERE k.project_id = gone.project_id AND k.session_id = gone.id) "
            "SELECT project_id, mode, status FROM gone"
        )
        while True:
            async with self._transaction() as conn:
                rows = await conn.fetch(sql, *place.params)
            for project_id, mode, status in rows:
                tally.add(project_id, mode, status)
            if len(rows) < self.purge_batch:
                return tally.result()

    # -- idempotency keys -----------------------------------------------------------------

    async def prune_idempotency_records(self, now: datetime) -> int:
        """Delete the keys whose records expired at or before ``now``; return how many."""
        async with self._connection() as conn:
            status: str = await conn.execute(PRUNE_POSTGRES, to_micros(now))
        return int(status.split()[-1])

    async def delete_idempotency_records_for_sessions(
        self, project_id: str, session_ids: Sequence[str]
    ) -> int:
        """Delete the keys (and stored responses) of these sessions; return how many."""
        storable = [s for s in session_ids if not holds_nul(s)]
        if holds_nul(project_id) or not storable:
            self._check_open()
            return 0
        async with self._connection() as conn:
            status: str = await conn.execute(DELETE_FOR_SESSIONS_POSTGRES, project_id, storable)
        return int(status.split()[-1])
