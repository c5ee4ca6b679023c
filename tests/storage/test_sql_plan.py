"""Plans: statements written once with ``?``, run on a real SQLite connection, and numbered for
PostgreSQL (whose runner the conformance suite drives on a real server)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_runtime import FailedPreconditionError
from session_runtime.storage.sql_plan import Plan, Statement, numbered_placeholders, run_plan


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "plan.db", isolation_level=None)
    conn.execute("CREATE TABLE items (id TEXT PRIMARY KEY, count INTEGER NOT NULL)")
    yield conn
    conn.close()


def test_placeholders_are_numbered_in_order() -> None:
    sql = "UPDATE t SET a = ? WHERE b = ? AND c = ANY(?::text[])"

    assert numbered_placeholders(sql) == "UPDATE t SET a = $1 WHERE b = $2 AND c = ANY($3::text[])"
    assert numbered_placeholders("SELECT 1") == "SELECT 1"


def _add_then_count(item_id: str) -> Plan[tuple[int, int]]:
    inserted = yield Statement("INSERT INTO items VALUES (?, ?)", (item_id, 1), counts=True)
    rows = yield Statement("SELECT count(*) FROM items")
    return inserted, rows[0][0]


def test_a_plan_is_sent_each_statements_answer_and_returns_its_result(
    connection: sqlite3.Connection,
) -> None:
    assert run_plan(connection, _add_then_count("a")) == (1, 1)
    assert run_plan(connection, _add_then_count("b")) == (1, 2)


def test_a_duplicate_key_is_refused_with_the_statements_own_words(
    connection: sqlite3.Connection,
) -> None:
    def insert_twice() -> Plan[None]:
        for _ in range(2):
            yield Statement(
                "INSERT INTO items VALUES (?, ?)", ("a", 1), conflict="item 'a' already exists"
            )

    with pytest.raises(FailedPreconditionError, match="item 'a' already exists"):
        run_plan(connection, insert_twice())


def test_a_duplicate_key_without_words_stays_sqlites_error(
    connection: sqlite3.Connection,
) -> None:
    def insert_twice() -> Plan[None]:
        for _ in range(2):
            yield Statement("INSERT INTO items VALUES (?, ?)", ("a", 1))

    with pytest.raises(sqlite3.IntegrityError):
        run_plan(connection, insert_twice())
