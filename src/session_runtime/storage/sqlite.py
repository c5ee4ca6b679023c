"""The embedded default store: one SQLite file in WAL mode.

Every write goes through one ``GroupCommitWriter`` (one connection, group commit; see
``sqlite_writer``). Reads use connections of their own, one per thread: point reads run
inline, which a WAL reader never blocks on the writer; listings run on a small thread pool.
The writer keeps the sessions it touched in a ``SessionCache`` so that an update need not read
its row back; ``PRAGMA data_version`` tells it when another process wrote to the file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from ..domain.errors import NotFoundError, UnavailableError
from ..domain.idempotency import IdempotencyClaim
from ..domain.models import Session
from ..domain.ports import SessionMutation
from ..domain.timestamps import to_micros
from .catalog_records import CatalogRecords
from .idempotency_sql import (
    keyed_record,
    sqlite_keep,
    sqlite_resolve,
)
from .json_columns import encode_checked
from .reporting_sql import (
    PurgeTally,
)
from .rows import (
    INPUTS_COLUMN,
    OUTPUTS_COLUMN,
    SESSION_COLUMNS,
    micros_or_none,
    session_from_row,
)
from .session_cache import CachedSession, new_session_cache, remember
from .session_records import SessionRecords
from .sql_base import WritePlan
from .sql_plan import SQLITE, Plan, Statement, run_plan
from .sqlite_guests import SqliteGuestRecords
from .sqlite_schema import migrate
from .sqlite_writer import GroupCommitWriter

T = TypeVar("T")
_DELETE_KEYS_OF_SESSION = "DELETE FROM idempotency_keys WHERE project_id = ? AND session_id = ?"
Synchronous = Literal["FULL", "NORMAL"]


class SqliteStore(CatalogRecords, SessionRecords, SqliteGuestRecords):
    """A ``Store`` on one SQLite file, used from the event loop that opened it.

    ``synchronous="FULL"`` (the default) makes every acknowledged write survive a power loss;
    ``"NORMAL"`` survives a crash of the process but may lose the last commits on power loss.
    """

    dialect = SQLITE

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        max_batch: int = 1024,
        reader_threads: int = 4,
        busy_timeout_ms: int = 5000,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = Path(path)
        self.synchronous = synchronous
        self.max_batch = max_batch
        self.busy_timeout_ms = busy_timeout_ms
        self._reader_threads = reader_threads
        self._writer: GroupCommitWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_connections: list[sqlite3.Connection] = []
        self._read_connections_lock = threading.Lock()
        self._cache = new_session_cache()
        self._cache_data_version: int | None = None

    @property
    def commits(self) -> int:
        """How many transactions the writer committed (each is one fsync with FULL)."""
        return 0 if self._writer is None else self._writer.commits

    @property
    def _loop(self) -> asyncio.AbstractEventLoop | None:
        return None if self._writer is None else self._writer._loop

    # -- life cycle -----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        return conn

    async def open(self) -> None:
        """Create or upgrade the file and start the writer on the running event loop."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the database at {self.path}: {exc}") from exc
        self._cache.clear()
        self._readers = ThreadPoolExecutor(self._reader_threads, thread_name_prefix="sqlite-read")
        self._writer = GroupCommitWriter(
            conn,
            max_batch=self.max_batch,
            busy_timeout_ms=self.busy_timeout_ms,
            on_begin=self._check_cache,
            on_rollback=self._cache.clear,
        )

    async def close(self) -> None:
        """Finish every queued write, then release the file."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        await writer.stop()
        if self._readers is not None:
            self._readers.shutdown(wait=True)
            self._readers = None
        with self._read_connections_lock:
            for conn in self._read_connections:
                conn.close()
            self._read_connections.clear()
        self._local = threading.local()

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _check_cache(self, conn: sqlite3.Connection) -> None:
        # Another connection committed since the writer last looked: forget what the cache
        # holds rather than trust it.
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._cache_data_version:
            self._cache.clear()
            self._cache_data_version = data_version

    def _check_open(self) -> None:
        if self._writer is None:
            raise UnavailableError("the store is closed")

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        writer = self._writer
        if writer is None:
            raise UnavailableError("the store is closed")
        return await writer.submit(op)

    # -- the read path, and what the shared parts run on (``SqlStoreBase``) --------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._writer is None:
                raise UnavailableError("the store is closed")
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._read_connections_lock:
                self._read_connections.append(conn)
        return conn

    def _read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return op(self._reader())
        except sqlite3.Error as exc:
            raise UnavailableError(f"storage error: {exc}") from exc

    async def _read_in_thread(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._readers is None:
            raise UnavailableError("the store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read, op)

    async def _read_row(self, sql: str, params: Sequence[Any]) -> Any:
        # Inline: a point read is quick, and a WAL reader never waits for the writer.
        return self._read(lambda conn: conn.execute(sql, params).fetchone())

    async def _read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self._read_in_thread(lambda conn: conn.execute(sql, params).fetchall())

    async def _run_read(self, plan: Plan[T]) -> T:
        return await self._read_in_thread(lambda conn: run_plan(conn, plan))

    async def _run_write(
        self, plan: WritePlan[T], idempotency: IdempotencyClaim[Any] | None = None
    ) -> T:
        def op(conn: sqlite3.Connection) -> T:
            sqlite_resolve(conn, idempotency)
            result, record = run_plan(conn, plan)
            sqlite_keep(conn, record)
            return result

        return await self._write(op)

    # -- sessions -------------------------------------------------------------------------

    async def update_session(
        self,
        project_id: str,
        session_id: str,
        mutation: SessionMutation,
        *,
        idempotency: IdempotencyClaim[Session] | None = None,
    ) -> tuple[Session, bool]:
        cache = self._cache

        def op(conn: sqlite3.Connection) -> tuple[Session, bool]:
            sqlite_resolve(conn, idempotency)
            cached = cache.get(session_id)
            if cached is None:
                row = conn.execute(
                    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                if row is None:
                    raise NotFoundError.of("session", session_id)
                cached = CachedSession(
                    session_from_row(row), row[INPUTS_COLUMN], row[OUTPUTS_COLUMN]
                )
                remember(cache, session_id, cached)
            current = cached.session
            if current.project_id != project_id:
                raise NotFoundError.of("session", session_id)
            updated = mutation(current)
            if updated is None:
                unchanged = _public_copy(cached)
                sqlite_keep(conn, keyed_record(idempotency, unchanged))
                return unchanged, False
            inputs, outputs = cached.inputs_json, cached.outputs_json
            if updated.inputs is not current.inputs or updated.outputs is not current.outputs:
                inputs, outputs = encode_checked(updated.inputs, updated.outputs)
            # Rendered before the write: the transaction's last statements cannot fail then.
            record = keyed_record(idempotency, updated)
            conn.execute(
                "UPDATE sessions SET status = ?, current_step_index = ?, inputs = ?, "
                "outputs = ?, updated_at = ?, completed_at = ?, end_reason = ?, version = ? "
                "WHERE id = ?",
                (
                    updated.status.value,
                    updated.current_step_index,
                    inputs,
                    outputs,
                    to_micros(updated.updated_at),
                    micros_or_none(updated.completed_at),
                    updated.end_reason,
                    updated.version,
                    session_id,
                ),
            )
            sqlite_keep(conn, record)
            written = CachedSession(updated, inputs, outputs)
            remember(cache, session_id, written)
            return _public_copy(written), True

        return await self._write(op)

    # -- retention ------------------------------------------------------------------------

    def _purge_batch_plan(
        self, where: str, params: Sequence[Any], tally: PurgeTally
    ) -> WritePlan[int]:
        rows = yield Statement(
            "DELETE FROM sessions WHERE rowid IN "
            f"(SELECT rowid FROM sessions WHERE {where} LIMIT {int(self.purge_batch)}) "
            "RETURNING id, project_id, mode, status",
            params,
        )
        for session_id, project_id, mode, status in rows:
            self._cache.pop(session_id, None)
            tally.add(project_id, mode, status)
            # Its stored responses hold its data: gone with it, in the same transaction.
            yield Statement(_DELETE_KEYS_OF_SESSION, (project_id, session_id))
        return len(rows), None


def _public_copy(cached: CachedSession) -> Session:
    """A session of the caller's own: its JSON decoded afresh, sharing nothing with the cache."""
    return cached.session.evolve(
        inputs=orjson.loads(cached.inputs_json), outputs=orjson.loads(cached.outputs_json)
    )
