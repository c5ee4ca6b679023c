"""The embedded default store: one SQLite file in WAL mode.

One writer connection, driven by one task on the event loop that opened the store, does every
write. Writes from every coroutine queue up for it; it takes all that are waiting, runs them in
one ``BEGIN IMMEDIATE`` transaction and commits once (group commit), so many small writes share
one fsync. The statements run on the loop's thread (a few microseconds each, no thread hand-off
per write); waiting for the write lock and the commit's fsync happen on a commit thread, so they
never block the loop. Each write is one read-check-write step whose only statement that changes
anything comes last: a refusal raised before it leaves nothing behind. Results reach their
callers only after the commit.

Reads use connections of their own (one per thread): point reads run inline, which a WAL reader
never blocks on the writer; listings run on a small thread pool.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from ..domain.auth import Role
from ..domain.errors import (
    FailedPreconditionError,
    NotFoundError,
    UnavailableError,
)
from ..domain.limits import check_stored_size
from ..domain.models import (
    ConfigSource,
    Event,
    Experience,
    Mode,
    Project,
    Session,
    SessionStatus,
)
from ..domain.ports import SessionMutation, SessionQuery
from ..domain.timestamps import from_micros, to_micros
from ..domain.tokens import TokenKind, TokenRecord
from .session_cache import CachedSession, SessionCache
from .sqlite_schema import migrate

logger = logging.getLogger(__name__)

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL"]
_WriteOp = Callable[[sqlite3.Connection], Any]
_Request = tuple[_WriteOp, "asyncio.Future[Any]"]

SESSION_COLUMNS = (
    "id, project_id, event_id, experience_id, mode, config_source, status, "
    "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
    "completed_at, end_reason, version"
)
_INPUTS, _OUTPUTS = 8, 9
_MODES = {mode.value: mode for mode in Mode}
_CONFIG_SOURCES = {source.value: source for source in ConfigSource}
_STATUSES = {status.value: status for status in SessionStatus}


def _session_from_row(row: Sequence[Any]) -> Session:
    return Session.trusted(
        id=row[0],
        project_id=row[1],
        event_id=row[2],
        experience_id=row[3],
        mode=_MODES[row[4]],
        config_source=_CONFIG_SOURCES[row[5]],
        status=_STATUSES[row[6]],
        current_step_index=row[7],
        inputs=orjson.loads(row[8]),
        outputs=orjson.loads(row[9]),
        created_by=row[10],
        created_at=from_micros(row[11]),
        updated_at=from_micros(row[12]),
        completed_at=None if row[13] is None else from_micros(row[13]),
        end_reason=row[14],
        version=row[15],
    )


def _token_from_row(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        id=row[0],
        project_id=row[1],
        kind=TokenKind(row[2]),
        token_hash=row[3],
        user=row[4],
        role=None if row[5] is None else Role(row[5]),
        event_id=row[6],
        created_at=from_micros(row[7]),
        revoked_at=None if row[8] is None else from_micros(row[8]),
    )


_TOKEN_COLUMNS = "id, project_id, kind, token_hash, user, role, event_id, created_at, revoked_at"


def _micros_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _encode_checked(inputs: Any, outputs: Any) -> tuple[str, str]:
    """Encode both JSON columns, refusing a session that would pass the size limit."""
    inputs_json, outputs_json = orjson.dumps(inputs), orjson.dumps(outputs)
    check_stored_size(inputs_json, outputs_json)
    return inputs_json.decode(), outputs_json.decode()


class SqliteStore:
    """A ``Store`` on one SQLite file.

    ``synchronous="FULL"`` (the default) makes every acknowledged write survive a power loss;
    ``"NORMAL"`` survives a crash of the process but may lose the last commits on power loss.
    """

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
        self._queue: deque[_Request] = deque()
        self._is_stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._has_work = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._committer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_connections: list[sqlite3.Connection] = []
        self._read_connections_lock = threading.Lock()
        self._cache = SessionCache()
        self.commits = 0
        """How many transactions the writer committed (each is one fsync with FULL)."""

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
            conn.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the database at {self.path}: {exc}") from exc
        self._is_stopping = False
        self._loop = asyncio.get_running_loop()
        self._has_work = asyncio.Event()
        self._readers = ThreadPoolExecutor(self._reader_threads, thread_name_prefix="sqlite-read")
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        self._writer = self._loop.create_task(self._run_writer(conn), name="sqlite-writer")

    async def close(self) -> None:
        """Finish every queued write, then release the file."""
        writer = self._writer
        if writer is None:
            return
        self._is_stopping = True
        self._has_work.set()
        await writer
        self._writer = None
        for pool in (self._committer, self._readers):
            if pool is not None:
                pool.shutdown(wait=True)
        self._committer = self._readers = None
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

    # -- the write path -------------------------------------------------------------------

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None or self._is_stopping:
            raise UnavailableError("the store is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise RuntimeError("a SqliteStore is used from the event loop that opened it")
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((op, future))
        self._has_work.set()
        return await future

    async def _run_writer(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                if not self._queue:
                    if self._is_stopping:
                        return
                    self._has_work.clear()
                    await self._has_work.wait()
                    continue
                count = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                outcomes = await self._run_batch(conn, batch)
                for (_op, future), (is_ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled; the write stands
                        continue
                    if is_ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            conn.close()

    async def _begin(self, conn: sqlite3.Connection) -> None:
        """Take the write lock: at once when it is free, else waiting on the commit thread.

        The writer's connection has no busy timeout of its own, so a lock held by another
        process makes the inline attempt fail at once instead of stalling the event loop.
        """
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        assert self._loop is not None and self._committer is not None
        await self._loop.run_in_executor(self._committer, self._begin_waiting, conn)

    def _begin_waiting(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute("PRAGMA busy_timeout = 0")

    async def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Request]
    ) -> list[tuple[bool, Any]]:
        """Run every write of ``batch`` in one transaction and commit it once.

        The statements run on the event loop's thread (each is a few microseconds, and no
        thread hand-off per write); taking the write lock and the commit's fsync run on the
        commit thread, so waiting for them never blocks the loop.
        """
        assert self._committer is not None and self._loop is not None
        loop = self._loop
        outcomes: list[tuple[bool, Any]] = []
        try:
            await self._begin(conn)
            try:
                # Another connection committed since this one last looked: forget what the
                # cache holds rather than trust it.
                data_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if data_version != self._cache.data_version:
                    self._cache.clear()
                    self._cache.data_version = data_version
                for op, _future in batch:
                    try:
                        outcomes.append((True, op(conn)))
                    except sqlite3.IntegrityError as exc:
                        # Only the failing statement is undone; the transaction goes on.
                        outcomes.append((False, FailedPreconditionError(str(exc))))
                    except sqlite3.Error:
                        raise
                    except Exception as exc:
                        outcomes.append((False, exc))
                await loop.run_in_executor(self._committer, conn.execute, "COMMIT")
                self.commits += 1
            except BaseException:
                self._cache.clear()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            logger.warning("a write batch of %d failed: %s", len(batch), exc)
            failure = UnavailableError(f"storage error: {exc}")
            outcomes = [(False, failure)] * len(batch)
        return outcomes

    # -- the read path --------------------------------------------------------------------

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

    def _fetch_one(self, sql: str, params: Sequence[Any]) -> Any:
        return self._read(lambda conn: conn.execute(sql, params).fetchone())

    # -- catalog --------------------------------------------------------------------------

    async def insert_project(self, project: Project) -> None:
        await self._insert(
            "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
            (project.id, project.name, to_micros(project.created_at)),
            f"project {project.id!r} already exists",
        )

    async def get_project(self, project_id: str) -> Project | None:
        row = self._fetch_one(
            "SELECT id, name, created_at FROM projects WHERE id = ?", (project_id,)
        )
        return (
            None if row is None else Project(id=row[0], name=row[1], created_at=from_micros(row[2]))
        )

    async def list_projects(self) -> list[Project]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                "SELECT id, name, created_at FROM projects ORDER BY created_at, id"
            ).fetchall()
        )
        return [Project(id=r[0], name=r[1], created_at=from_micros(r[2])) for r in rows]

    async def insert_event(self, event: Event) -> None:
        await self._insert_part("events", event.project_id, event.id, event.name, event.created_at)

    async def get_event(self, project_id: str, event_id: str) -> Event | None:
        row = self._get_part("events", project_id, event_id)
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
        row = self._get_part("experiences", project_id, experience_id)
        return None if row is None else Experience(**row)

    async def list_experiences(self, project_id: str) -> list[Experience]:
        return [Experience(**row) for row in await self._list_parts("experiences", project_id)]

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(sql, params)
            except sqlite3.IntegrityError:
                raise FailedPreconditionError(conflict) from None

        await self._write(op)

    async def _insert_part(
        self, table: str, project_id: str, part_id: str, name: str, created_at: datetime
    ) -> None:
        await self._insert(
            f"INSERT INTO {table} (project_id, id, name, created_at) VALUES (?, ?, ?, ?)",
            (project_id, part_id, name, to_micros(created_at)),
            f"{table[:-1]} {part_id!r} already exists in project {project_id!r}",
        )

    def _get_part(self, table: str, project_id: str, part_id: str) -> dict[str, Any] | None:
        row = self._fetch_one(
            f"SELECT id, project_id, name, created_at FROM {table} WHERE project_id = ? AND id = ?",
            (project_id, part_id),
        )
        return None if row is None else _part(row)

    async def _list_parts(self, table: str, project_id: str) -> list[dict[str, Any]]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                f"SELECT id, project_id, name, created_at FROM {table} "
                "WHERE project_id = ? ORDER BY created_at, id",
                (project_id,),
            ).fetchall()
        )
        return [_part(row) for row in rows]

    # -- tokens ---------------------------------------------------------------------------

    async def insert_token(self, token: TokenRecord) -> None:
        await self._insert(
            f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.project_id,
                token.kind.value,
                token.token_hash,
                token.user,
                None if token.role is None else token.role.value,
                token.event_id,
                to_micros(token.created_at),
                _micros_or_none(token.revoked_at),
            ),
            f"token {token.id!r} already exists",
        )

    async def find_token(self, token_hash: str) -> TokenRecord | None:
        row = self._fetch_one(
            f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?", (token_hash,)
        )
        return None if row is None else _token_from_row(row)

    async def list_tokens(self, project_id: str) -> list[TokenRecord]:
        rows = await self._read_in_thread(
            lambda conn: conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE project_id = ? ORDER BY created_at, id",
                (project_id,),
            ).fetchall()
        )
        return [_token_from_row(row) for row in rows]

    async def revoke_token(self, token_id: str, revoked_at: datetime) -> TokenRecord | None:
        def op(conn: sqlite3.Connection) -> TokenRecord | None:
            conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (to_micros(revoked_at), token_id),
            )
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)
            ).fetchone()
            return None if row is None else _token_from_row(row)

        return await self._write(op)

    # -- sessions -------------------------------------------------------------------------

    async def insert_session(self, session: Session) -> None:
        inputs, outputs = _encode_checked(session.inputs, session.outputs)
        params = (
            session.id,
            session.project_id,
            session.event_id,
            session.experience_id,
            session.mode.value,
            session.config_source.value,
            session.status.value,
            session.current_step_index,
            inputs,
            outputs,
            session.created_by,
            to_micros(session.created_at),
            to_micros(session.updated_at),
            _micros_or_none(session.completed_at),
            session.end_reason,
            session.version,
        )
        await self._insert(
            f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' * 16)})",
            params,
            f"session {session.id!r} already exists",
        )

    async def get_session(self, project_id: str, session_id: str) -> Session | None:
        row = self._fetch_one(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ? AND project_id = ?",
            (session_id, project_id),
        )
        return None if row is None else _session_from_row(row)

    async def list_sessions(self, query: SessionQuery) -> list[Session]:
        clauses = ["project_id = ?"]
        params: list[Any] = [query.project_id]
        for column, value in (
            ("event_id", query.event_id),
            ("experience_id", query.experience_id),
            ("status", query.status),
            ("mode", query.mode),
            ("created_by", query.created_by),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        if query.before is not None:
            clauses.append("(created_at, id) < (?, ?)")
            params.extend((to_micros(query.before[0]), query.before[1]))
        sql = (
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE {' AND '.join(clauses)} "
            "ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        params.append(query.limit)
        rows = await self._read_in_thread(lambda conn: conn.execute(sql, params).fetchall())
        return [_session_from_row(row) for row in rows]

    async def update_session(
        self, project_id: str, session_id: str, mutation: SessionMutation
    ) -> tuple[Session, bool]:
        cache = self._cache

        def op(conn: sqlite3.Connection) -> tuple[Session, bool]:
            cached = cache.get(session_id)
            if cached is None:
                row = conn.execute(
                    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
                if row is None:
                    raise NotFoundError.of("session", session_id)
                cached = CachedSession(_session_from_row(row), row[_INPUTS], row[_OUTPUTS])
                cache.put(session_id, cached)
            current = cached.session
            if current.project_id != project_id:
                raise NotFoundError.of("session", session_id)
            updated = mutation(current)
            if updated is None:
                return _public_copy(cached), False
            inputs, outputs = cached.inputs_json, cached.outputs_json
            if updated.inputs is not current.inputs or updated.outputs is not current.outputs:
                inputs, outputs = _encode_checked(updated.inputs, updated.outputs)
                # The merge shares lists with the caller's patch: cache what was written instead.
                updated = updated.evolve(inputs=orjson.loads(inputs), outputs=orjson.loads(outputs))
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
                    _micros_or_none(updated.completed_at),
                    updated.end_reason,
                    updated.version,
                    session_id,
                ),
            )
            written = CachedSession(updated, inputs, outputs)
            cache.put(session_id, written)
            return _public_copy(written), True

        return await self._write(op)


def _public_copy(cached: CachedSession) -> Session:
    """A session of the caller's own: its JSON decoded afresh, sharing nothing with the cache."""
    return cached.session.evolve(
        inputs=orjson.loads(cached.inputs_json), outputs=orjson.loads(cached.outputs_json)
    )


def _part(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "project_id": row[1], "name": row[2], "created_at": from_micros(row[3])}
