"""The one write path of a SQLite store: a single connection, group commit.

Writes from every coroutine queue up; one task on the event loop that started the writer takes
all that are waiting, runs them in one ``BEGIN IMMEDIATE`` transaction and commits once, so
many small writes share one fsync. The statements run on the loop's thread (a few microseconds
each, no thread hand-off per write); waiting for a lock another process holds, and the commit's
fsync, happen on a commit thread, so they never block the loop. Results reach their callers
only after the commit; if it fails, every write of the batch fails with ``UnavailableError``.

A write is a function of the connection that runs its checks first and its one changing
statement last, so a refusal raised by it leaves nothing behind without a savepoint.
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
        self._loop = asyncio.get_running_loop()
        self._has_work = asyncio.Event()
        self._is_stopping = False
        self._committer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-commit")
        self._task = self._loop.create_task(self._run(), name="sqlite-writer")

    @property
    def is_running(self) -> bool:
        return not self._is_stopping

    async def submit(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Queue ``op`` for the next transaction; its result once that transaction committed."""
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
        await self._task
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
                batch = [self._queue.popleft() for _ in range(count)]
                outcomes = await self._run_batch(batch)
                for (_op, future), (is_ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled; the write stands
                        continue
                    if is_ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
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
                        outcomes.append((True, op(conn)))
                    except sqlite3.IntegrityError as exc:
                        # Only the failing statement is undone; the transaction goes on.
                        outcomes.append((False, FailedPreconditionError(str(exc))))
                    except sqlite3.Error:
                        raise
                    except Exception as exc:
                        outcomes.append((False, exc))
                await self._loop.run_in_executor(self._committer, conn.execute, "COMMIT")
                self.commits += 1
            except BaseException:
                self.on_rollback()
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            logger.warning("a write batch of %d failed: %s", len(batch), exc)
            failure = UnavailableError(f"storage error: {exc}")
            outcomes = [(False, failure)] * len(batch)
        return outcomes

    async def _begin(self) -> None:
        """Take the write lock: at once when it is free, else waiting on the commit thread."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        await self._loop.run_in_executor(self._committer, self._begin_waiting)

    def _begin_waiting(self) -> None:
        self.conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        finally:
            self.conn.execute("PRAGMA busy_timeout = 0")
