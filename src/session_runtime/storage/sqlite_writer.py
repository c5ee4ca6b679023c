"""The one write path of a SQLite store: a single connection, group commit.

Writes from every coroutine queue up; one task on the event loop that started the writer takes
all that are waiting, runs them in one ``BEGIN IMMEDIATE`` transaction and commits once, so
many small writes share one fsync. The statements run on the loop's thread (a few microseconds
each, no thread hand-off per write); waiting for a lock another process holds, and the commit's
fsync, happen on a commit thread, so they never block the loop. Results reach their callers
only after the commit; if the commit fails, every write of the batch fails with
``UnavailableError``.

Each write runs inside a savepoint of its own: a write that raises (a refusal, a constraint, a
storage error) is undone alone and fails alone, while the others of its batch go on. Should a
failure end the whole transaction (a trigger's ``RAISE(ROLLBACK)``, a full disk), the writes
that ran before it in the batch are lost with it and fail too, and the rest of the batch goes
on in a new transaction: nothing acknowledged is ever missing from the file.

If the writer's task ends for any other reason than ``stop`` (it is cancelled, a bug), every
queued write and every later one fails at once with ``UnavailableError`` instead of waiting for
a writer that will never come.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..domain.errors import FailedPreconditionError, UnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[sqlite3.Connection], Any]
_Request = tuple[WriteOp, "asyncio.Future[Any]"]
_Outcome = tuple[bool, Any]

_LOCK_ERROR_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_lock_error(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds a lock (``SQLITE_BUSY``/``LOCKED``).

    Told by SQLite's result code (its primary part, so that extended codes such as
    ``SQLITE_BUSY_SNAPSHOT`` count too), never by the message, which any trigger may imitate.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _LOCK_ERROR_CODES


class _TransactionLost(Exception):
    """The write's failure ended the whole transaction, not only the write's savepoint."""


class GroupCommitWriter:
    """Owns the writing connection and every transaction on it."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        max_batch: int,
        busy_timeout_ms: int,
        on_begin: Callable[[sqlite3.Connection], None],
        on_rollback: Callable[[], None],
    ) -> None:
        self.conn = conn
        self.max_batch = max_batch
        self.busy_timeout_ms = busy_timeout_ms
        self.on_begin = on_begin
        self.on_rollback = on_rollback
        self.commits = 0
        """How many transactions were committed (each is one fsync with FULL)."""
        # The inline BEGIN must fail at once on a lock held elsewhere, never wait on the loop.
        conn.execute("PRAGMA busy_timeout = 0")
        self._queue: deque[_Request] = deque()
        self._in_flight: list[_Request] = []
        self._loop = asyncio.get_running_loop()
        self._has_work = asyncio.Event()
        self._is_stopping = False
        self._failure: UnavailableError | None = None
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        self._task = self._loop.create_task(self._run(), name="sqlite-writer")

    @property
    def is_running(self) -> bool:
        return not self._is_stopping and self._failure is None

    @property
    def pending(self) -> int:
        """Writes queued or in the transaction being written, not yet answered."""
        return len(self._queue) + len(self._in_flight)

    async def submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``op`` for the next transaction; its result once that transaction committed."""
        if self._failure is not None:
            raise self._failure
        if self._is_stopping:
            raise UnavailableError("the store is closed")
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise RuntimeError("a SqliteStore is used from the event loop that opened it")
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((op, future))
        self._has_work.set()
        return await future

    async def stop(self) -> None:
        """Finish every queued write, then close the connection."""
        self._is_stopping = True
        self._has_work.set()
        await asyncio.wait([self._task])  # a writer that died has said so already
        self._committer.shutdown(wait=True)

    async def _run(self) -> None:
        try:
            while True:
                if not self._queue:
                    if self._is_stopping:
                        return
                    self._has_work.clear()
                    await self._has_work.wait()
                    continue
                count = min(len(self._queue), self.max_batch)
                self._in_flight = [self._queue.popleft() for _ in range(count)]
                outcomes = await self._run_batch(self._in_flight)
                batch, self._in_flight = self._in_flight, []
                for (_op, future), (is_ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled; the write stands
                        continue
                    if is_ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        except BaseException as exc:
            self._die(exc)
            if not isinstance(exc, Exception):
                raise  # cancellation and interrupts go on; a bug was logged, and ends here
        finally:
            # On the commit thread, after whatever it still runs for this connection.
            self._committer.submit(self._close_connection)

    def _die(self, exc: BaseException) -> None:
        """Fail every write waiting for this writer, and every later one, at once."""
        reason = "it was cancelled" if isinstance(exc, asyncio.CancelledError) else repr(exc)
        logger.error("the SQLite writer stopped: %s", reason, exc_info=isinstance(exc, Exception))
        self._failure = UnavailableError(f"the SQLite writer stopped ({reason}); restart it")
        self.on_rollback()
        waiting = [*self._in_flight, *self._queue]
        self._in_flight, self._queue = [], deque()
        for _op, future in waiting:
            if not future.done():
                future.set_exception(self._failure)

    def _close_connection(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        self.conn.close()

    async def _run_batch(self, batch: list[_Request]) -> list[_Outcome]:
        conn = self.conn
        outcomes: list[_Outcome] = []
        try:
            await self._begin()
            try:
                self.on_begin(conn)
                for op, _future in batch:
                    try:
                        outcomes.append(self._run_one(op))
                    except _TransactionLost as lost:
                        # The writes before this one went with the transaction.
                        self.on_rollback()
                        failure = UnavailableError(
                            f"rolled back with a write of its batch: {lost}; retry"
                        )
                        outcomes = [(False, failure if ok else value) for ok, value in outcomes]
                        outcomes.append((False, UnavailableError(f"storage error: {lost}")))
                        await self._begin()
                        self.on_begin(conn)
                await self._loop.run_in_executor(self._committer, conn.execute, "COMMIT")
                self.commits += 1
            except sqlite3.Error:
                self.on_rollback()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            logger.warning("a write batch of %d failed: %s", len(batch), exc)
            failure = UnavailableError(f"storage error: {exc}")
            outcomes = [(False, failure)] * len(batch)
        return outcomes

    def _run_one(self, op: WriteOp) -> _Outcome:
        """Run one write in a savepoint of its own: if it raises, it alone is undone."""
        conn = self.conn
        conn.execute("SAVEPOINT one_write")
        try:
            result = op(conn)
        except Exception as exc:
            if not conn.in_transaction:
                raise _TransactionLost(str(exc)) from exc
            conn.execute("ROLLBACK TO one_write")
            conn.execute("RELEASE one_write")
            if isinstance(exc, sqlite3.IntegrityError):
                return False, FailedPreconditionError(str(exc))
            if isinstance(exc, sqlite3.Error):
                logger.warning("a write failed: %s", exc)
                return False, UnavailableError(f"storage error: {exc}")
            return False, exc
        conn.execute("RELEASE one_write")
        return True, result

    async def _begin(self) -> None:
        """Take the write lock: at once when it is free, else waiting on the commit thread."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc):
                raise
        await self._loop.run_in_executor(self._committer, self._begin_waiting)

    def _begin_waiting(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            self.conn.execute("PRAGMA busy_timeout = 0")
