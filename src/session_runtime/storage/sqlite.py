"""The embedded default store: one SQLite file in WAL mode.

One writer thread owns the only writing connection. Writes from every coroutine queue up for
it; it takes all that are waiting, runs them in one ``BEGIN IMMEDIATE`` transaction and commits
once (group commit), so many small writes share one fsync. Each write is one read-check-write
step whose only statement that changes anything comes last: a refusal raised before it leaves
nothing behind, without a savepoint. Results reach their coroutines only after the commit.

Reads use connections of their own (one per thread): point reads run inline on the calling
thread, which a WAL reader never blocks on the writer; listings run on a small thread pool.
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
from .sqlite_schema import migrate

logger = logging.getLogger(__name__)

T = TypeVar("T")
Synchronous = Literal["FULL", "NORMAL"]
_WriteOp = Callable[[sqlite3.Connection], Any]
_Request = tuple[_WriteOp, "asyncio.Future[Any]", asyncio.AbstractEventLoop]

SESSION_COLUMNS = (
    "id, project_id, event_id, experience_id, mode, config_source, status, "
    "current_step_index, inputs, outputs, created_by, created_at, updated_at, "
    "completed_at, end_reason, version"
)
_INPUTS, _OUTPUTS = 8, 9


def _session_from_row(row: Sequence[Any]) -> Session:
    return Session.model_construct(
        id=row[0],
        project_id=row[1],
        event_id=row[2],
        experience_id=row[3],
        mode=Mode(row[4]),
        config_source=ConfigSource(row[5]),
        status=SessionStatus(row[6]),
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


def _encode(value: Any) -> str:
    return orjson.dumps(value).decode()


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
        self._wakeup = threading.Condition()
        self._is_stopping = False
        self._writer: threading.Thread | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_connections: list[sqlite3.Connection] = []
        self._read_connections_lock = threading.Lock()
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
        """Create or upgrade the file and start the writer."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the database at {self.path}: {exc}") from exc
        self._is_stopping = False
        self._readers = ThreadPoolExecutor(self._reader_threads, thread_name_prefix="sqlite-read")
        self._writer = threading.Thread(
            target=self._run_writer, args=(conn,), name="sqlite-writer", daemon=True
        )
        self._writer.start()

    async def close(self) -> None:
        """Finish every queued write, then release the file."""
        writer = self._writer
        if writer is None:
            return
        with self._wakeup:
            self._is_stopping = True
            self._wakeup.notify()
        await asyncio.get_running_loop().run_in_executor(None, writer.join)
        self._writer = None
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

    # -- the write path -------------------------------------------------------------------

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._wakeup:
            if self._writer is None or self._is_stopping:
                raise UnavailableError("the store is closed")
            self._queue.append((op, future, loop))
            if len(self._queue) == 1:
                self._wakeup.notify()
        return await future

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                with self._wakeup:
                    while not self._queue and not self._is_stopping:
                        self._wakeup.wait()
                    if not self._queue:
                        return
                    count = min(len(self._queue), self.max_batch)
                    batch = [self._queue.popleft() for _ in range(count)]
                self._run_batch(conn, batch)
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for op, _future, _loop in batch:
                    try:
                        outcomes.append((True, op(conn)))
                    except sqlite3.IntegrityError as exc:
                        # Only the failing statement is undone; the transaction goes on.
                        outcomes.append((False, FailedPreconditionError(str(exc))))
                    except sqlite3.Error:
                        raise
                    except Exception as exc:
                        outcomes.append((False, exc))
                conn.execute("COMMIT")
                self.commits += 1
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            logger.warning("a write batch of %d failed: %s", len(batch), exc)
            failure = UnavailableError(f"storage error: {exc}")
            outcomes = [(False, failure)] * len(batch)
        _deliver_all(batch, outcomes)

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
        inputs, outputs = _encode(session.inputs), _encode(session.outputs)
        check_stored_size(inputs.encode(), outputs.encode())
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
        def op(conn: sqlite3.Connection) -> tuple[Session, bool]:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ? AND project_id = ?",
                (session_id, project_id),
            ).fetchone()
            if row is None:
                raise NotFoundError.of("session", session_id)
            current = _session_from_row(row)
            updated = mutation(current)
            if updated is None:
                return current, False
            inputs_changed = updated.inputs is not current.inputs
            outputs_changed = updated.outputs is not current.outputs
            inputs = _encode(updated.inputs) if inputs_changed else row[_INPUTS]
            outputs = _encode(updated.outputs) if outputs_changed else row[_OUTPUTS]
            if inputs_changed or outputs_changed:
                check_stored_size(inputs.encode(), outputs.encode())
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
            return updated, True

        return await self._write(op)


def _part(row: Sequence[Any]) -> dict[str, Any]:
    return {"id": row[0], "project_id": row[1], "name": row[2], "created_at": from_micros(row[3])}


def _deliver_all(batch: list[_Request], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand results back to their event loops: one wake-up per loop per batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for (_op, future, loop), (is_ok, value) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, is_ok, value))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, items)
        except RuntimeError:  # the loop was closed while the write was queued
            pass


def _resolve(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, is_ok, value in items:
        if future.done():
            continue
        if is_ok:
            future.set_result(value)
        else:
            future.set_exception(value)
