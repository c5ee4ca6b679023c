"""The idempotency-key table of both stores, and the statements a keyed write runs in its
transaction.

A keyed write first looks for its key (``resolve``: replay, refuse, or go on), then writes the
session, then keeps the key with its response (``keep``), all in the write's one transaction.
On PostgreSQL, several nodes may receive one key at once: a transaction-scoped advisory lock on
the key makes the second wait for the first to commit, and then find its record. The SQLite
store has one writer, which runs transactions one after the other anyway.

Records name the session they wrote, so that deleting sessions (retention, erasing a guest)
deletes their stored responses too: those hold the session's data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final, TypeVar

from ..domain.idempotency import (
    IdempotencyClaim,
    IdempotencyRecord,
    StoredResponse,
    resolve_existing,
)
from ..domain.models import Session
from ..domain.timestamps import from_micros, to_micros

ResultT = TypeVar("ResultT")

_COLUMNS: Final = (
    "caller, idempotency_key, fingerprint, status, headers, body, project_id, session_id, "
    "created_at, expires_at"
)


def record_to_row(record: IdempotencyRecord) -> tuple[Any, ...]:
    response = record.response
    return (
        record.caller,
        record.key,
        record.fingerprint,
        response.status,
        response.headers_json(),
        response.body,
        record.project_id,
        record.session_id,
        to_micros(record.created_at),
        to_micros(record.expires_at),
    )


def record_from_row(row: Sequence[Any]) -> IdempotencyRecord:
    return IdempotencyRecord(
        caller=row[0],
        key=row[1],
        fingerprint=row[2],
        response=StoredResponse(
            status=row[3], headers=StoredResponse.headers_from_json(row[4]), body=bytes(row[5])
        ),
        project_id=row[6],
        session_id=row[7],
        created_at=from_micros(row[8]),
        expires_at=from_micros(row[9]),
    )


def _upsert(marks: Sequence[str]) -> str:
    # A record past its expiry may still be there (the sweeper has not come by): replace it.
    updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS.split(", ")[2:])
    return (
        f"INSERT INTO idempotency_keys ({_COLUMNS}) VALUES ({', '.join(marks)}) "
        f"ON CONFLICT (caller, idempotency_key) DO UPDATE SET {updates}"
    )


_SQLITE_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM idempotency_keys WHERE caller = ? AND idempotency_key = ?"
)
_SQLITE_UPSERT: Final = _upsert(["?"] * 10)
_POSTGRES_SELECT: Final = (
    f"SELECT {_COLUMNS} FROM idempotency_keys WHERE caller = $1 AND idempotency_key = $2"
)
_POSTGRES_UPSERT: Final = _upsert([f"${index}" for index in range(1, 11)])
_POSTGRES_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


def joined_guest_marker(guest_id: str) -> bytes:
    """What the kept answer of the join that made ``guest_id`` holds, and no other does.

    That answer (the guest's token among it) is kept under the join's scope, not the guest's
    own keys, since the guest did not exist when it was looked up; erasing the guest finds
    it by this. Guest ids are random and the answer is compact JSON, so nothing else matches.
    """
    return b'"guestId":"%s"' % guest_id.encode()


def keyed_record(
    claim: IdempotencyClaim[Session] | None, session: Session
) -> IdempotencyRecord | None:
    """What to keep of a keyed write of ``session`` (``None`` for an unkeyed one)."""
    if claim is None:
        return None
    return claim.record(session, project_id=session.project_id, session_id=session.id)


def keyed_result_record(
    claim: IdempotencyClaim[ResultT] | None,
    result: ResultT,
    *,
    project_id: str,
    session_id: str | None = None,
) -> IdempotencyRecord | None:
    """What to keep of a keyed write whose result is not a session (a link, an erasure).

    ``session_id`` names the session the response tells of, if any, so that deleting that
    session deletes the response too.
    """
    if claim is None:
        return None
    return claim.record(result, project_id=project_id, session_id=session_id)


def sqlite_resolve(conn: sqlite3.Connection, claim: IdempotencyClaim[Any] | None) -> None:
    """Replay or refuse when the key is known; else return and let the write go on."""
    if claim is None:
        return
    row = conn.execute(_SQLITE_SELECT, (claim.caller, claim.key)).fetchone()
    resolve_existing(None if row is None else record_from_row(row), claim)


def sqlite_keep(conn: sqlite3.Connection, record: IdempotencyRecord | None) -> None:
    if record is not None:
        conn.execute(_SQLITE_UPSERT, record_to_row(record))


async def postgres_resolve(conn: Any, claim: IdempotencyClaim[Any] | None) -> None:
    """As ``sqlite_resolve``, after waiting for any transaction holding the same key."""
    if claim is None:
        return
    # The lock, then a new statement: under READ COMMITTED it sees what the holder committed.
    await conn.execute(_POSTGRES_LOCK, f"idempotency {claim.caller} {claim.key}")
    row = await conn.fetchrow(_POSTGRES_SELECT, claim.caller, claim.key)
    resolve_existing(None if row is None else record_from_row(row), claim)


async def postgres_keep(conn: Any, record: IdempotencyRecord | None) -> None:
    if record is not None:
        await conn.execute(_POSTGRES_UPSERT, *record_to_row(record))
