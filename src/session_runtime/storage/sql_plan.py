"""Transactions written once for both SQL stores, as plans that each store runs its own way.

A plan is a generator: it yields each ``Statement`` it needs, is sent back what the statement
answered (its rows, or how many rows it changed), decides what comes next from that, and
returns its result. It does no I/O itself, so the same plan runs inside the SQLite writer's
synchronous transaction (``run_plan``) and inside an asyncpg transaction
(``run_plan_async``), the way ``reporting_sql``'s funnel plan does.

Statements are written with ``?`` placeholders, in the order of their parameters; the
PostgreSQL store numbers them (``$1``, ``$2``, ...) before it sends one. What differs in the SQL
itself (locking a row, a list parameter, searching bytes) is a ``SqlDialect``'s.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import orjson

from ..domain.errors import FailedPreconditionError
from .postgres_connection import storage_errors

ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a plan, and what the plan is sent back for it."""

    sql: str  # with ``?`` placeholders
    params: Sequence[Any] = ()
    # Answered with how many rows it changed, instead of the rows it returned.
    counts: bool = False
    # What a unique-key violation of this statement means, for the caller.
    conflict: str | None = None


Plan = Generator[Statement, Any, ResultT]


@functools.lru_cache(maxsize=1024)  # the statements are few, and some run very often
def numbered_placeholders(sql: str) -> str:
    """``"a = ? AND b = ?"`` -> ``"a = $1 AND b = $2"`` (no statement here has a literal ``?``)."""
    first, *rest = sql.split("?")
    return first + "".join(f"${position}{part}" for position, part in enumerate(rest, 1))


@dataclass(frozen=True, slots=True)
class SqlDialect:
    """What differs between the two stores' SQL, beside the placeholders."""

    lock_rows: str  # what ends a ``SELECT`` to lock the rows it reads until the commit
    in_id_list: str  # ``IN`` a list of ids passed as one parameter (``id_list``)
    id_list: Callable[[Sequence[str]], Any]
    body_holds: str  # a condition: the bytes of its one parameter stand in the ``body`` column


def _json_list(ids: Sequence[str]) -> str:
    return orjson.dumps(list(ids)).decode()


SQLITE: Final = SqlDialect(
    # The one writer's transaction excludes every other writer already.
    lock_rows="",
    in_id_list="IN (SELECT value FROM json_each(?))",
    id_list=_json_list,
    body_holds="instr(body, ?) > 0",
)
POSTGRES: Final = SqlDialect(
    lock_rows=" FOR UPDATE",
    in_id_list="= ANY(?::text[])",
    id_list=list,
    body_holds="position(?::bytea IN body) > 0",
)


def run_plan(conn: sqlite3.Connection, plan: Plan[ResultT]) -> ResultT:
    """Run ``plan`` on a SQLite connection, inside the transaction the caller holds."""
    try:
        statement = next(plan)
        while True:
            try:
                cursor = conn.execute(statement.sql, statement.params)
            except sqlite3.IntegrityError:
                if statement.conflict is None:
                    raise
                raise FailedPreconditionError(statement.conflict) from None
            answer = cursor.rowcount if statement.counts else cursor.fetchall()
            statement = plan.send(answer)
    except StopIteration as done:
        result: ResultT = done.value
        return result


async def run_plan_async(conn: Any, plan: Plan[ResultT]) -> ResultT:
    """Run ``plan`` on an asyncpg connection, inside the transaction the caller holds."""
    try:
        statement = next(plan)
        while True:
            sql = numbered_placeholders(statement.sql)
            with storage_errors(statement.conflict):
                if statement.counts:
                    status: str = await conn.execute(sql, *statement.params)
                    answer: Any = int(status.split()[-1])
                else:
                    answer = await conn.fetch(sql, *statement.params)
            statement = plan.send(answer)
    except StopIteration as done:
        result: ResultT = done.value
        return result
