"""What a SQL store gives the parts of it written once for both engines.

``CatalogRecords``, ``SessionRecords`` and ``GuestRecords`` hold the ``Store`` methods whose
SQL is the same on SQLite and PostgreSQL; ``SqliteStore`` and ``PostgresStore`` mix them in and
give the few primitives below, each over its own connections: reads, one-statement inserts,
plans (``sql_plan``) run as a read or as a write in a transaction of its own, and the NUL rule
that only PostgreSQL needs. Every statement is written with ``?`` placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from ..domain.idempotency import IdempotencyClaim, IdempotencyRecord
from .sql_plan import Plan, SqlDialect, Statement

T = TypeVar("T")
WritePlan = Plan[tuple[T, IdempotencyRecord | None]]
"""A write's plan: it returns its result and what to keep of it under its key, if anything."""


class SqlStoreBase:
    """The primitives each SQL store implements for the parts it mixes in."""

    dialect: ClassVar[SqlDialect]

    async def _read_rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def _read_row(self, sql: str, params: Sequence[Any]) -> Any:
        """The first row the statement reads, or ``None``."""
        raise NotImplementedError

    async def _run_read(self, plan: Plan[T]) -> T:
        """Run a plan of reads on one connection."""
        raise NotImplementedError

    async def _run_write(
        self, plan: WritePlan[T], idempotency: IdempotencyClaim[Any] | None = None
    ) -> T:
        """Run ``plan`` in one transaction of the store's write path: with ``idempotency``,
        resolve the key first (replay or refuse) and keep the plan's record last."""
        raise NotImplementedError

    async def _insert(self, sql: str, params: Sequence[Any], conflict: str) -> None:
        """One ``INSERT`` on its own; ``conflict`` is what an existing key means."""
        await self._run_write(insert_plan(sql, params, conflict, None))

    def _check_open(self) -> None:
        raise NotImplementedError

    def _cannot_hold(self, *values: str | None) -> bool:
        """Whether no stored row can hold one of ``values``, so that nothing can match them
        (SQLite stores any text; PostgreSQL's text holds no NUL)."""
        return False

    def _refuse_unstorable(self, fields: Mapping[str, str | None]) -> None:
        """Refuse values the store cannot keep (none on SQLite; NUL on PostgreSQL)."""


def insert_plan(
    sql: str, params: Sequence[Any], conflict: str, record: IdempotencyRecord | None
) -> WritePlan[None]:
    """One ``INSERT`` as a write's plan, keeping ``record`` (a keyed write's) with it."""
    yield Statement(sql, params, conflict=conflict)
    return None, record
